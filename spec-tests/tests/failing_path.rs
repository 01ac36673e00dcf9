//! The failing path as an implementer meets it: readers that stall or stop are named as such
//! at their first checkpoint, the log streams, one cause is one block, adapters are judged
//! under the profiles they claim, and an adapter started by the user is reached by address.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{cli, text};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_reader_that_stops_asking_is_named_stopped_with_its_last_request() {
    let o = cli(&[
        "run",
        "--case",
        "sub-lp-baseline",
        "--mutant",
        "stops-at-first-up-to-date",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("step 4: expected the subscription to be up to date at")
            && out.contains("the reader stopped: it has no read open and has asked for nothing")
            && out.contains("its last request was #0 GET /cases/sub-lp-baseline?offset=-1"),
        "{out}"
    );
}

#[test]
fn a_reader_sent_the_end_that_does_not_take_it_is_named_stalled() {
    let o = cli(&[
        "run",
        "--case",
        "sub-lp-close-after-up-to-date",
        "--mutant",
        "closed-not-eof",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("expected the subscription to read the closed stream to its end; the reader stalled: it was sent offset")
            && out.contains("(up to date, closed)")
            && out.contains("answers it still reports offset"),
        "{out}"
    );
}

#[test]
fn without_a_terminal_failures_stream_to_stderr_as_they_finish() {
    let o = cli(&[
        "run",
        "--case",
        "*update-replaces-not-merges",
        "--mutant",
        "update-merges",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with("running 3 case runs\n"), "{err}");
    for case in [
        "mat-update-replaces-not-merges",
        "wire-lp-update-replaces-not-merges",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("FAIL  [") && l.ends_with(&format!("] {case} [spec-1.0]"))),
            "{err}"
        );
    }
    assert!(
        err.trim_end()
            .ends_with("3/3 case runs, 3 failed, 0 errored"),
        "{err}"
    );
    // The report on stdout: the materialize case and its copies over the wire, one block.
    let out = stdout(&o);
    assert_eq!(out.matches("\nFAIL ").count(), 1, "{out}");
    assert!(
        out.contains("fails alike over the wire: wire-lp-update-replaces-not-merges [spec-1.0], wire-sse-update-replaces-not-merges [spec-1.0]"),
        "{out}"
    );
    assert!(out.contains("0 passed, 3 failed"), "{out}");
}

#[test]
fn one_adapter_fault_in_every_case_is_one_block() {
    // A debug line on stdout before every answer but hello's: each case errors alike.
    let adapter = "import sys, json\n\
        for line in sys.stdin:\n    \
            cmd = json.loads(line)['cmd']\n    \
            if cmd == 'hello':\n        \
                print(json.dumps({'cmd': 'hello', 'ok': True, 'protocol': 1, 'implementation': {'name': 'debugging', 'version': '0'}, 'capabilities': ['materialize']}), flush=True)\n    \
            else:\n        \
                print('debug: got a command', flush=True)\n";
    let o = cli(&[
        "run",
        "--case",
        "mat-insert-*",
        "--",
        "python3",
        "-c",
        adapter,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = stdout(&o);
    assert_eq!(out.matches("\nERROR ").count(), 1, "{out}");
    assert!(
        out.contains("with a line that is not JSON: \"debug: got a command\"")
            && out.contains("more case(s): mat-insert-"),
        "{out}"
    );
    let summary = out.lines().last().unwrap_or_default();
    let errored: usize = summary
        .split(", ")
        .find_map(|p| p.strip_suffix(" errored"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(errored >= 2, "every case still counted: {summary}");
    assert!(out.contains("implementation: debugging 0"), "{out}");
}

#[test]
fn an_adapter_is_judged_under_the_profiles_it_claims_unless_one_is_named() {
    let minimal = ["--", "python3", "../adapters/python-minimal/adapter.py"];
    let mut all = vec!["run", "--profile", "all", "--case", "mat-extra-fields"];
    all.extend(minimal);
    let o = cli(&all);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("1 passed, 0 failed, 0 errored, 0 informational, 2 not applicable"),
        "{}",
        text(&o)
    );
    // Named, spec-1.0-strict is judged: the example ignores profiles and fails it.
    let mut named = vec![
        "run",
        "--profile",
        "spec-1.0-strict",
        "--case",
        "mat-extra-fields",
    ];
    named.extend(minimal);
    let o = cli(&named);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn a_case_titled_for_the_spec_profiles_has_its_ts_compat_title_under_ts_compat() {
    let path = std::env::temp_dir().join(format!("titles-{}.json", std::process::id()));
    let o = cli(&[
        "run",
        "--profile",
        "all",
        "--case",
        "mat-unknown-type-rejected",
        "--report-json",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).ok();
    let title = |profile: &str| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["profile"] == profile)
            .map(|r| r["title"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert!(title("spec-1.0").contains("is rejected"), "{report}");
    assert!(title("ts-compat").contains("is stored"), "{report}");
}

#[test]
fn an_adapter_the_user_started_is_reached_by_its_address() {
    let mut listener = Command::new(env!("CARGO_BIN_EXE_state-conformance"))
        .args(["reference-adapter", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(listener.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    assert!(address.starts_with("tcp://127.0.0.1:"), "{line}");
    let o = cli(&[
        "run",
        "--case",
        "mat-update-replaces-not-merges",
        "--case",
        "sub-lp-baseline",
        "--",
        &address,
    ]);
    listener.kill().ok();
    listener.wait().ok();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("2 passed, 0 failed"), "{}", text(&o));
    // Nobody listening: one message, exit 2.
    let o = cli(&["run", "--", "tcp://127.0.0.1:9"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("cannot connect to tcp://127.0.0.1:9"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_known_failure_neither_stops_a_fail_fast_run_nor_streams_as_a_failure() {
    let o = cli(&[
        "run",
        "--profile",
        "spec-1.0-strict",
        "--fail-fast",
        "--expectations",
        "../adapters/python-minimal/expectations.toml",
        "--",
        "python3",
        "../adapters/python-minimal/adapter.py",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Every entry of the file for that profile is a known failure of this run.
    let listed = spec_tests::judge::Expectations::load(std::path::Path::new(
        "../adapters/python-minimal/expectations.toml",
    ))
    .unwrap()
    .expected
    .iter()
    .filter(|e| e.profile.as_deref().is_none_or(|p| p == "spec-1.0-strict"))
    .count();
    assert!(listed > 0);
    assert!(
        stdout(&o).contains(" 0 failed, 0 errored, 0 informational, ")
            && stdout(&o).contains(&format!(" {listed} expected failures")),
        "{listed} listed: {}",
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("FAIL "), "{err}");
}
