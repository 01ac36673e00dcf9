#!/usr/bin/env bash
# Builds state-conformance for one target and packs it as a release asset, the same way on
# every platform (the release workflow runs it per target; .ci/run runs it for the host):
#
#   action/package.sh [TARGET]     -> dist/state-conformance-TARGET.tar.gz (.zip on Windows)
#                                     and dist/state-conformance-TARGET.sha256
#
# The archive holds the binary at its root; the .sha256 file is `sha256sum` output for the
# archive (what action/fetch.sh and `cargo binstall` check). Without TARGET, the host's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
host=$(rustc -vV | sed -n 's/^host: //p')
target=${1:-$host}
if [ "$target" = "$host" ]; then
  # The host build shares target/release with every other release build of the workspace.
  cargo build --release --locked -p spec-tests --bin state-conformance
  built=target/release
else
  cargo build --release --locked -p spec-tests --bin state-conformance --target "$target"
  built=target/$target/release
fi
name=state-conformance-$target
mkdir -p dist
rm -f "dist/$name".*
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
case $target in
  *windows*)
    archive=$name.zip
    cp "$built/state-conformance.exe" "$stage/"
    (cd "$stage" && 7z a -tzip "$root/dist/$archive" state-conformance.exe > /dev/null)
    ;;
  *)
    archive=$name.tar.gz
    cp "$built/state-conformance" "$stage/"
    # Without the line tables the release profile keeps for backtraces: a third of the size.
    case $target in
      *apple*) strip -S "$stage/state-conformance" ;;
      *) strip --strip-debug "$stage/state-conformance" ;;
    esac
    tar -czf "dist/$archive" -C "$stage" state-conformance
    ;;
esac
if command -v sha256sum > /dev/null; then
  (cd dist && sha256sum "$archive" > "$name.sha256")
else
  (cd dist && shasum -a 256 "$archive" > "$name.sha256") # macOS runners
fi
echo "dist/$archive ($(wc -c < "dist/$archive") bytes), dist/$name.sha256"
