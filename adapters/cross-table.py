#!/usr/bin/env python3
"""Where implementations disagree, case by case: a Markdown table from saved
`state-conformance run --report-json` reports (docs/findings/README.md is its output).

    adapters/cross-table.py NAME=REPORT.json [NAME=REPORT.json ...] [--all-cases]

Reports of the same NAME (one per profile, or one with several profiles) are merged. For each
case, each implementation's cell lists the profiles under which it passes the case: the
positions its behaviour matches (`all` when every profile it ran under; `none` when none; a
blank when the case does not apply to it). A case is listed when, under some profile, one
implementation passes it and another that ran it under that profile does not. Derived cases (`wire-*`, `mat-rejects-*`) repeat a hand-written case's
verdict over the wire or between two valid changes; they are left out unless --all-cases.
"""
import json
import sys
from collections import defaultdict

PASSING = {"pass"}
SKIPPED = {"not-applicable"}


def main(args):
    all_cases = "--all-cases" in args
    names, verdicts = [], defaultdict(dict)  # case -> name -> {profile: verdict}
    ran = defaultdict(set)  # name -> profiles it ran under
    for arg in (a for a in args if a != "--all-cases"):
        name, path = arg.split("=", 1)
        if name not in names:
            names.append(name)
        with open(path) as f:
            report = json.load(f)
        for r in report["results"]:
            ran[name].add(r["profile"])
            verdicts[r["case"]].setdefault(name, {})[r["profile"]] = r["verdict"]
    rows = []
    for case in sorted(verdicts):
        if not all_cases and (case.startswith("wire-") or case.startswith("mat-rejects-")):
            continue
        cells = {}
        for name in names:
            by_profile = verdicts[case].get(name, {})
            applicable = {p: v for p, v in by_profile.items() if v not in SKIPPED}
            if not applicable:
                continue
            passing = sorted(p for p, v in applicable.items() if v in PASSING)
            cells[name] = (
                "all" if len(passing) == len(applicable) else ", ".join(passing) or "none"
            )
        profiles = {p for by in verdicts[case].values() for p in by}
        split = any(
            len({v in PASSING for v in (verdicts[case].get(n, {}).get(p) for n in names)
                 if v is not None and v not in SKIPPED}) > 1
            for p in profiles
        )
        if split:
            rows.append((case, cells))
    print("| case | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for case, cells in rows:
        print(f"| `{case}` | " + " | ".join(cells.get(n, "") for n in names) + " |")
    print()
    print("Profiles run: " + "; ".join(f"{n}: {', '.join(sorted(ran[n]))}" for n in names) + ".")
    print(f"{len(rows)} cases where implementations disagree.")


if __name__ == "__main__":
    main(sys.argv[1:])
