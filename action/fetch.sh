#!/usr/bin/env bash
# The action's fast path: the release binary for the action's own version, if there is one.
# For an action used at a release tag (`owner/repo@v0.2.0`) it downloads that release's asset
# for this runner (as action/package.sh packed it), checks it against the release's .sha256
# file and installs it into $ROOT/bin. Anything else (a branch or commit ref, a local
# `uses: ./`, no asset for this platform, a checksum that does not match) prints why and
# leaves the build from source to the next step. Prints `fetched=true|false` (for
# GITHUB_OUTPUT).
#
# Inputs (environment): ROOT (where to install), ACTION_REPOSITORY and ACTION_REF (GitHub's
# github.action_repository and github.action_ref), RELEASE_BASE_URL (instead of the GitHub
# release download URL: tests serve a directory of assets).
set -uo pipefail
say() { echo "state-conformance: $*" >&2; }
give_up() { say "$* (building from source instead)"; echo "fetched=false"; exit 0; }

base=${RELEASE_BASE_URL:-}
if [ -z "$base" ]; then
  ref=${ACTION_REF:-}
  [[ $ref =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] || give_up "the action's ref '${ref:-(none)}' is not a release tag"
  [ -n "${ACTION_REPOSITORY:-}" ] || give_up "the action's repository is not known"
  base="https://github.com/$ACTION_REPOSITORY/releases/download/$ref"
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-gnu ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  MINGW* | MSYS* | CYGWIN*) target=x86_64-pc-windows-msvc ;;
  *) give_up "no release binary for $(uname -s) $(uname -m)" ;;
esac
name=state-conformance-$target
case $target in *windows*) archive=$name.zip ;; *) archive=$name.tar.gz ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsSL --retry 2 -o "$work/$archive" "$base/$archive" || give_up "no $archive at $base"
curl -fsSL --retry 2 -o "$work/$name.sha256" "$base/$name.sha256" || give_up "no $name.sha256 at $base"
expected=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$work/$name.sha256")
if command -v sha256sum > /dev/null; then
  actual=$(sha256sum "$work/$archive" | cut -d' ' -f1)
else
  actual=$(shasum -a 256 "$work/$archive" | cut -d' ' -f1)
fi
[ -n "$expected" ] && [ "$expected" = "$actual" ] ||
  give_up "$archive does not match its checksum (expected '${expected:-none}', got $actual)"
mkdir -p "$ROOT/bin"
case $archive in
  *.zip) unzip -qo "$work/$archive" -d "$ROOT/bin" ;;
  *) tar -xzf "$work/$archive" -C "$ROOT/bin" ;;
esac
"$ROOT/bin/state-conformance" --version > /dev/null 2>&1 || give_up "the downloaded binary does not run here"
say "installed the release binary $archive from $base"
echo "fetched=true"
