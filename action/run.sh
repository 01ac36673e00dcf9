#!/usr/bin/env bash
# The run step of the composite action (action.yml), a script so it can be tested outside
# GitHub (.ci/run does). Inputs come as environment variables: BIN, ADAPTER, PROFILES,
# EXPECTATIONS, ARGS, REPORTS; GITHUB_STEP_SUMMARY and GITHUB_OUTPUT as GitHub sets them.
set -euo pipefail
mkdir -p "$REPORTS"
# The adapter command and the extra options, split as a shell would split them (quotes and
# backslashes), by xargs: nothing in an input is ever run as shell code.
split() { [ -z "$1" ] || printf '%s' "$1" | xargs printf '%s\0'; }
mapfile -d '' adapter < <(split "${ADAPTER:-}")
mapfile -d '' extra < <(split "${ARGS:-}")
if [ -n "${EXPECTATIONS:-}" ] && [ ! -f "$EXPECTATIONS" ]; then
  {
    echo "The expectations file $EXPECTATIONS does not exist. Create it once from a run of your"
    echo "adapter, give every entry a reason, and commit it (docs/ci.md):"
    echo
    echo "    state-conformance run --write-expectations $EXPECTATIONS -- ${ADAPTER:-<your adapter>}"
    echo
    echo "or leave the action's \`expectations\` input empty until you have one."
  } | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}" >&2
  { echo "exit-code=2"; echo "bin=$BIN"; } >> "${GITHUB_OUTPUT:-/dev/null}"
  exit 2
fi
command=("$BIN" run --no-progress
  --junit "$REPORTS/junit.xml" --report-json "$REPORTS/report.json" --markdown "$REPORTS/summary.md")
for p in ${PROFILES:-spec-1.0}; do command+=(--profile "$p"); done
if [ -n "${EXPECTATIONS:-}" ]; then command+=(--expectations "$EXPECTATIONS"); fi
command+=("${extra[@]}")
if [ ${#adapter[@]} -gt 0 ]; then command+=(-- "${adapter[@]}"); fi
set +e
"${command[@]}"
code=$?
set -e
if [ -f "$REPORTS/summary.md" ]; then cat "$REPORTS/summary.md" >> "$GITHUB_STEP_SUMMARY"; fi
{
  echo "junit=$REPORTS/junit.xml"
  echo "report-json=$REPORTS/report.json"
  echo "exit-code=$code"
  echo "bin=$BIN"
} >> "$GITHUB_OUTPUT"
exit "$code"
