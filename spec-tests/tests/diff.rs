//! `state-conformance diff` on real reports: a corpus edited as a suite upgrade edits it (an
//! expected value changed, a case added, one removed) and run against the reference.

mod common;

use std::path::{Path, PathBuf};

use common::{cli, text};
use serde_json::Value;

/// A fresh directory of the test's own: the tests run in parallel in one process.
fn temp(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sc-diff-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.file_type().unwrap().is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => drop(std::fs::copy(entry.path(), target).unwrap()),
        }
    }
}

fn edit(path: &Path, change: impl FnOnce(&mut Value)) {
    let mut case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    change(&mut case);
    std::fs::write(path, serde_json::to_string_pretty(&case).unwrap()).unwrap();
}

/// Runs the reference on the update and insert cases of `fixtures`, writing `report`.
fn run(fixtures: &Path, report: &Path) {
    let o = cli(&[
        "run",
        "--fixtures",
        fixtures.to_str().unwrap(),
        "--case",
        "mat-update-*",
        "--case",
        "mat-insert-*",
        "--report-json",
        report.to_str().unwrap(),
    ]);
    assert!(report.is_file(), "{}", text(&o));
}

#[test]
fn an_upgrade_shows_its_new_failure_changed_expectation_and_added_and_removed_cases() {
    let dir = temp("upgrade");
    let repo_fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let upgraded = dir.join("fixtures");
    copy_dir(&repo_fixtures, &upgraded);
    let cases = upgraded.join("cases");
    edit(&cases.join("mat-update-replaces-not-merges.json"), |c| {
        c["expect"]["state"]["user"]["u1"]["name"] = "Ada X.".into();
    });
    // A new first offset: the input changes, the expectation (the last offset) does not.
    edit(&cases.join("mat-update-to-null.json"), |c| {
        c["batches"][0]["offset"] = "o0".into();
    });
    std::fs::remove_file(cases.join("mat-insert-old-value-ignored.json")).unwrap();
    std::fs::copy(
        cases.join("mat-insert-existing-overwrites.json"),
        cases.join("mat-insert-existing-overwrites-again.json"),
    )
    .unwrap();
    edit(
        &cases.join("mat-insert-existing-overwrites-again.json"),
        |c| {
            c["id"] = "mat-insert-existing-overwrites-again".into();
        },
    );
    let (old, new) = (dir.join("old.json"), dir.join("new.json"));
    run(&repo_fixtures, &old);
    run(&upgraded, &new);

    let markdown = dir.join("summary.md");
    let o = cli(&[
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--markdown",
        markdown.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "a new failure fails: {out}");
    for expected in [
        "1 newly failing, 1 expected values changed, 1 input changed, 1 new cases, 1 removed cases",
        "Newly failing (1):\n  mat-update-replaces-not-merges [spec-1.0] PASS -> FAIL",
        r#"expected {"name":"Ada X."}, observed {"name":"Ada L."}"#,
        "Expected values changed (1):\n  mat-update-replaces-not-merges [spec-1.0]",
        "New cases (1):\n  mat-insert-existing-overwrites-again [spec-1.0] new: PASS",
        "Removed cases (1):\n  mat-insert-old-value-ignored [spec-1.0] was: PASS",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(
        out.contains("Input changed (1):\n  mat-update-to-null [spec-1.0] PASS\n"),
        "{out}"
    );
    let md = std::fs::read_to_string(&markdown).unwrap();
    assert!(md.contains("### Newly failing (1)"), "{md}");
    assert!(
        md.contains("| `mat-update-replaces-not-merges` | spec-1.0 | PASS -> FAIL |"),
        "{md}"
    );

    // The other way round nothing fails anew: the fixed case is newly passing.
    let back = cli(&["diff", new.to_str().unwrap(), old.to_str().unwrap()]);
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    assert!(
        text(&back).contains("Newly passing (1):"),
        "{}",
        text(&back)
    );
    let same = cli(&["diff", old.to_str().unwrap(), old.to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(0));
    assert!(text(&same).contains(": no change"), "{}", text(&same));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_report_without_digests_is_compared_with_a_caveat_and_a_non_report_is_refused() {
    let dir = temp("old-format");
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let new = dir.join("new.json");
    run(&fixtures, &new);
    // The same report as format 3 wrote it: no digests.
    let mut report: Value = serde_json::from_str(&std::fs::read_to_string(&new).unwrap()).unwrap();
    report["format"] = 3.into();
    for r in report["results"].as_array_mut().unwrap() {
        let r = r.as_object_mut().unwrap();
        assert!(r.remove("inputDigest").is_some() && r.remove("expectedDigest").is_some());
    }
    let old = dir.join("old.json");
    std::fs::write(&old, report.to_string()).unwrap();
    let o = cli(&["diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("older than format 4"), "{}", text(&o));

    let bad = dir.join("bad.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let o = cli(&["diff", bad.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("is not a `run --report-json` report"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
