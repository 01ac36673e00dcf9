#!/usr/bin/env bash
# The run step of the composite action (action.yml), a script so it can be tested outside
# GitHub (.ci/run does). Inputs come as environment variables: BIN, ADAPTER, PROFILES,
# EXPECTATIONS, ARGS, REPORTS; GITHUB_STEP_SUMMARY and GITHUB_OUTPUT as GitHub sets them.
set -euo pipefail
mkdir -p "$REPORTS"
# The adapter command and the extra options, split as a shell would split them.
eval "adapter=(${ADAPTER:-})"
eval "extra=(${ARGS:-})"
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
} >> "$GITHUB_OUTPUT"
exit "$code"
