//! The binary's exit codes and error messages.

mod common;

use common::{cli, text};

#[test]
fn run_against_the_reference_exits_zero() {
    let o = cli(&["run", "--profile", "all"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(" 0 failed"), "{}", text(&o));
}

#[test]
fn a_mutant_fails_the_run_with_a_rerun_command() {
    let o = cli(&["run", "--mutant", "update-merges"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("FAIL mat-update-replaces-not-merges [spec-1.0]"),
        "{out}"
    );
    assert!(out.contains("first difference at user/u1"), "{out}");
    // The re-run line names this very binary and works as printed.
    let program = env!("CARGO_BIN_EXE_state-conformance");
    let rerun = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("re-run: "))
        .find(|l| l.contains("--case mat-update-replaces-not-merges "))
        .expect("a re-run line")
        .to_owned();
    assert_eq!(
        rerun,
        format!(
            "{program} run --profile spec-1.0 --case mat-update-replaces-not-merges --mutant update-merges"
        )
    );
    let again = std::process::Command::new("sh")
        .args(["-c", &rerun])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("0 passed, 1 failed"),
        "{}",
        text(&again)
    );
}

#[test]
fn rerun_lines_quote_what_the_shell_would_split() {
    // The adapter is a mutant of the reference behind `sh -c SCRIPT NAME`, with a quote in the
    // script and a space in NAME: the printed re-run line must keep each a single word.
    let program = env!("CARGO_BIN_EXE_state-conformance");
    let script = format!("exec \"{program}\" reference-adapter --mutant 'update-merges'");
    let case = "mat-update-replaces-not-merges";
    let o = cli(&["run", "--case", case, "--", "sh", "-c", &script, "a name"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let rerun = text(&o)
        .lines()
        .find_map(|l| l.trim().strip_prefix("re-run: ").map(str::to_owned))
        .expect("a re-run line");
    assert!(rerun.ends_with("'a name'"), "{rerun}");
    let again = std::process::Command::new("sh")
        .args(["-c", &rerun])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains(&format!("FAIL {case} [spec-1.0]")),
        "{}",
        text(&again)
    );
}

#[test]
fn usage_errors_exit_two_with_one_line_reasons() {
    for (args, needle) in [
        (vec!["run", "--profile", "nope"], "unknown profile `nope`"),
        (vec!["run", "--mutant", "nope"], "unknown mutant `nope`"),
        (vec!["run", "--case", "no-such-*"], "selects no case"),
        (
            vec!["--fixtures", "/nonexistent", "run"],
            "cannot load /nonexistent",
        ),
        (vec!["show", "no-such-case"], "no case with id"),
        (vec!["materialize", "/nonexistent.json"], "cannot read"),
        (vec!["run", "--shard", "3/2"], "is not K/N"),
        (vec!["run", "--jobs", "0"], "--jobs"),
        (vec!["check", "/nonexistent.json"], "cannot read"),
    ] {
        let o = cli(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
    }
}

#[test]
fn a_malformed_case_file_is_named_with_its_json_path() {
    let dir = std::env::temp_dir().join(format!("sc-bad-fixtures-{}", std::process::id()));
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    std::fs::copy(
        format!("{fixtures}/requirements.json"),
        dir.join("requirements.json"),
    )
    .unwrap();
    std::fs::copy(
        format!("{fixtures}/tombstones.json"),
        dir.join("tombstones.json"),
    )
    .unwrap();
    let bad = r#"{"id": "mat-bad", "title": "t", "requirements": ["SP-6-INSERT"], "level": "MUST", "tags": [],
        "mode": "materialize", "profiles": {"spec-1.0": "required"},
        "batches": [{"items": [], "offset": 7, "upToDate": true}], "expect": {"state": {}}}"#;
    std::fs::write(cases.join("mat-bad.json"), bad).unwrap();
    let o = cli(&["--fixtures", dir.to_str().unwrap(), "run"]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("mat-bad.json") && out.contains("/batches/0/offset"),
        "{out}"
    );
}

/// Issue #13: a case cannot hang the runner (an await's timeout is bounded) nor carry a
/// fault rule that can never fire; either is refused at load time, naming the field.
#[test]
fn unbounded_timeouts_and_impossible_rules_are_refused_at_load_time() {
    let dir = temp("bounded-cases");
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    for f in ["requirements.json", "tombstones.json"] {
        std::fs::copy(format!("../fixtures/{f}"), dir.join(f)).unwrap();
    }
    let case = |steps: &str| {
        format!(
            r#"{{"id": "sub-bad", "title": "t", "requirements": ["SP-6-INSERT"], "level": "MUST", "tags": [],
            "mode": "subscribe", "profiles": {{"spec-1.0": "required"}}, "live": "long-poll",
            "steps": [{steps}], "expect": {{}}}}"#
        )
    };
    for (steps, needle) in [
        (
            r#"{"step": "subscribe"}, {"step": "await", "timeoutMs": 18446744073709551615}"#,
            "timeoutMs",
        ),
        (
            r#"{"step": "faults", "rules": [{"fault": "reset-before-headers", "nth": 0}]}"#,
            "`nth` must be at least 1",
        ),
        (
            r#"{"step": "faults", "rules": [{"fault": "status", "status": 101}]}"#,
            "`status` is 101",
        ),
    ] {
        std::fs::write(cases.join("sub-bad.json"), case(steps)).unwrap();
        let o = cli(&["--fixtures", dir.to_str().unwrap(), "list"]);
        assert_eq!(o.status.code(), Some(2), "{steps}: {}", text(&o));
        assert!(text(&o).contains(needle), "{steps}: {}", text(&o));
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Faults of the whole run end it before anything runs, with one message and exit 2: an
/// adapter that cannot start (it used to fail every case, one block each), expectations that
/// name cases or profiles that do not exist (they used to be ignored).
#[test]
fn whole_run_faults_end_the_run_with_one_message() {
    let started = std::time::Instant::now();
    let o = cli(&["run", "--", "/nonexistent/adapter"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        text(&o).matches("could not be started").count(),
        1,
        "{}",
        text(&o)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    let expectations = temp("unknown.toml");
    std::fs::write(
        &expectations,
        "[[expected]]\ncase = \"mat-no-such-case\"\nreason = \"x\"\n\n\
         [[expected]]\ncase = \"mat-insert-stores\"\nprofile = \"spec-9\"\nreason = \"y\"\n",
    )
    .unwrap();
    let o = cli(&["run", "--expectations", expectations.to_str().unwrap()]);
    std::fs::remove_file(&expectations).ok();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("an unknown case `mat-no-such-case`")
            && text(&o).contains("an unknown profile `spec-9`"),
        "{}",
        text(&o)
    );

    // A handshake the protocol schema refuses (capabilities must be an array), with or
    // without --check-protocol.
    let hello = "import sys, json\nfor line in sys.stdin:\n    print(json.dumps({'cmd': 'hello', 'ok': True, 'protocol': 1, 'implementation': {'name': 'x', 'version': '0'}, 'capabilities': 'materialize'}), flush=True)\n";
    let started = std::time::Instant::now();
    let o = cli(&["run", "--", "python3", "-c", hello]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("hello") && text(&o).contains("/capabilities"),
        "{}",
        text(&o)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // An output path that cannot be written is refused before any case runs.
    for flag in ["--junit", "--report-json", "--markdown"] {
        let o = cli(&["run", flag, "/nonexistent-dir/out"]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", text(&o));
        assert!(
            text(&o).contains("/nonexistent-dir/out") && !text(&o).contains("PASS"),
            "{flag}: {}",
            text(&o)
        );
    }
}

#[test]
fn materialize_prints_the_canonical_state_of_a_case() {
    let o = cli(&[
        "materialize",
        "../fixtures/cases/mat-spec-section-6-example.json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let observed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(observed["state"]["user"]["1"]["name"], "Alice Smith");
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sc-cli-{}-{name}", std::process::id()))
}

#[test]
fn junit_json_and_markdown_reports_come_from_one_run() {
    let (junit, json, markdown) = (temp("j.xml"), temp("r.json"), temp("m.md"));
    let o = cli(&[
        "run",
        "--profile",
        "all",
        "--junit",
        junit.to_str().unwrap(),
        "--report-json",
        json.to_str().unwrap(),
        "--markdown",
        markdown.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let suite = spec_tests::corpus::Suite::embedded();
    let runs: usize = suite.corpus.cases.iter().map(|c| c.profiles.len()).sum();
    // JUnit: well-formed XML with one testsuite per profile and a testcase per case run.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut cases) = (0, 0);
    loop {
        match reader
            .read_event()
            .expect("JUnit output is well-formed XML")
        {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testsuite" => suites += 1,
                    b"testcase" => cases += 1,
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    let profiles = state_reference::Profile::preset_names().len();
    assert_eq!((suites, cases), (profiles, runs));
    // Every test case carries its wall time (JUnit's `time`, in seconds).
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), runs);
    assert_eq!(
        xml.matches("<testcase ").count(),
        xml.split("<testcase ")
            .skip(1)
            .filter(|t| t.split('>').next().unwrap().contains(" time=\""))
            .count()
    );
    let text_of_report = std::fs::read_to_string(&json).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text_of_report).unwrap();
    assert_eq!(report["format"], spec_tests::report::REPORT_FORMAT);
    assert_eq!(report["summary"]["passed"], runs);
    // The report reads back into the model every output comes from, unchanged.
    let read = spec_tests::report::RunReport::from_json(&text_of_report).unwrap();
    assert_eq!(read.results.len(), runs);
    assert_eq!(read.to_json(), text_of_report);
    assert!(
        std::fs::read_to_string(&markdown)
            .unwrap()
            .contains(&format!("| {runs} | 0 |"))
    );
}

#[test]
fn expectations_turn_known_failures_green_and_go_stale_when_fixed() {
    let file = temp("expectations.toml");
    let write = cli(&[
        "run",
        "--mutant",
        "update-merges",
        "--write-expectations",
        file.to_str().unwrap(),
    ]);
    assert_eq!(write.status.code(), Some(1), "{}", text(&write));
    let known = cli(&[
        "run",
        "--mutant",
        "update-merges",
        "--expectations",
        file.to_str().unwrap(),
    ]);
    assert_eq!(known.status.code(), Some(0), "{}", text(&known));
    // Every failure of the first run (in process and over the wire) is now expected.
    let failed = text(&write)
        .lines()
        .find_map(|l| {
            l.split_once(" passed, ")?
                .1
                .split_once(" failed")?
                .0
                .parse::<usize>()
                .ok()
        })
        .expect("a summary line");
    assert!(
        failed >= 4,
        "update-merges fails in process and over the wire"
    );
    assert!(
        text(&known).contains(&format!("{failed} expected failures")),
        "{}",
        text(&known)
    );
    let fixed = cli(&["run", "--expectations", file.to_str().unwrap()]);
    assert_eq!(
        fixed.status.code(),
        Some(1),
        "a fixed implementation makes the list stale: {}",
        text(&fixed)
    );
    assert!(
        text(&fixed).contains("STALE mat-update-replaces-not-merges"),
        "{}",
        text(&fixed)
    );
    std::fs::write(&file, "[[expected]]\ncase = 1\n").unwrap();
    let bad = cli(&["run", "--expectations", file.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        text(&bad).contains("not a valid expectations file"),
        "{}",
        text(&bad)
    );
}

#[test]
fn shards_split_the_selection_and_jobs_do_not_change_results() {
    let summary = |args: &[&str]| {
        let json = temp(&format!("shard-{}.json", args.join("_").replace('/', "-")));
        let mut all = vec![
            "run",
            "--case",
            "mat-*",
            "--report-json",
            json.to_str().unwrap(),
        ];
        all.extend(args);
        let o = cli(&all);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let ids: Vec<String> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["case"].as_str().unwrap().to_owned())
            .collect();
        ids
    };
    let whole = summary(&[]);
    let (one, two) = (summary(&["--shard", "1/2"]), summary(&["--shard", "2/2"]));
    assert_eq!(one.len() + two.len(), whole.len());
    assert!(one.iter().all(|id| !two.contains(id)));
    assert_eq!(
        summary(&["--jobs", "3"]),
        whole,
        "results come back in case order"
    );
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_state-conformance"))
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line is written.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(141), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
}

#[test]
fn a_profile_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let preset: serde_json::Value =
        serde_json::from_str(include_str!("../../reference/profiles/spec-1.0.json")).unwrap();
    let mut merging = preset.clone();
    merging["name"] = "merging".into();
    merging["update"] = "shallow-merge".into();
    let file = dir.path().join("merging.json");
    std::fs::write(&file, merging.to_string()).unwrap();
    let case = "../fixtures/cases/mat-update-replaces-not-merges.json";
    let state = |o: &std::process::Output| -> serde_json::Value {
        let observed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        observed["state"]["user"]["u1"].clone()
    };
    let replaced = cli(&["materialize", case]);
    let merged = cli(&["materialize", case, "--profile", file.to_str().unwrap()]);
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    // The update omits `age`: gone under the preset, kept under the merging profile.
    assert!(state(&replaced).get("age").is_none(), "{}", text(&replaced));
    assert_eq!(state(&merged)["age"], 36, "{}", text(&merged));

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"name": "x"}"#).unwrap();
    let o = cli(&["validate", case, "--profile", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is not a profile"), "{}", text(&o));
    // Adapters know profiles by name: `run` refuses a file, saying where one works.
    let o = cli(&["run", "--profile", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("takes preset names"), "{}", text(&o));
}

#[test]
fn reports_follow_their_published_schema_and_older_formats_still_read() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../protocol/report.schema.json")).unwrap();
    let schema = state_reference::schema::compile(&schema).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let crashes = "import sys, json\nfor line in sys.stdin:\n    cmd = json.loads(line)['cmd']\n    if cmd != 'hello': sys.exit(3)\n    print(json.dumps({'cmd': 'hello', 'ok': True, 'protocol': 1, 'implementation': {'name': 'x', 'version': '0'}, 'capabilities': ['materialize']}), flush=True)\n";
    let runs: [(&str, Vec<&str>); 3] = [
        // Failures of every live kind: subscribe checkpoints, produce, materialize, validate.
        (
            "mutant",
            vec![
                "--mutant",
                "reset-ignored",
                "--profile",
                "all",
                "--jobs",
                "4",
            ],
        ),
        // Expected failures and cases the adapter cannot run.
        (
            "python",
            vec![
                // Named, so judged under each though the adapter claims spec-1.0 only.
                "--profile",
                "spec-1.0",
                "--profile",
                "spec-1.0-strict",
                "--profile",
                "ts-compat",
                "--expectations",
                "../adapters/python-minimal/expectations.toml",
                "--",
                "python3",
                "../adapters/python-minimal/adapter.py",
            ],
        ),
        // Errored cases, with the adapter's stderr tail.
        (
            "crashes",
            vec!["--case", "mat-insert-*", "--", "python3", "-c", crashes],
        ),
    ];
    let mut verdicts = std::collections::BTreeSet::new();
    for (name, args) in runs {
        let path = dir.path().join(format!("{name}.json"));
        let mut argv = vec!["run", "--report-json", path.to_str().unwrap()];
        argv.extend(args);
        let o = cli(&argv);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{name}: {}",
            text(&o)
        );
        let text_of_report = std::fs::read_to_string(&path).unwrap();
        let report: serde_json::Value = serde_json::from_str(&text_of_report).unwrap();
        let errors: Vec<String> = schema
            .iter_errors(&report)
            .take(5)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        for r in report["results"].as_array().unwrap() {
            verdicts.insert(r["verdict"].as_str().unwrap().to_owned());
        }
        // A format-2 report (snake_case outcome fields, serde's Ok/Err) reads into the same
        // model.
        let old = text_of_report
            .replace("\"format\": 4", "\"format\": 2")
            .replace("\"afterBatch\"", "\"after_batch\"")
            .replace("\"stderrTail\"", "\"stderr_tail\"")
            .replace("\"observed\"", "\"Ok\"")
            .replace("\"unavailable\"", "\"Err\"");
        assert_ne!(old, text_of_report);
        // The schema holds reports to the one naming convention.
        let renamed: serde_json::Value =
            serde_json::from_str(&old.replace("\"format\": 2", "\"format\": 4")).unwrap();
        assert!(
            !schema.is_valid(&renamed),
            "{name}: old names pass the schema"
        );
        let mut read = spec_tests::report::RunReport::from_json(&old).unwrap();
        assert_eq!(read.format, 2);
        read.format = spec_tests::report::REPORT_FORMAT;
        assert!(
            read.to_json() == text_of_report,
            "{name}: reads differently"
        );
    }
    for verdict in [
        "pass",
        "fail",
        "errored",
        "expected-failure",
        "not-applicable",
    ] {
        assert!(verdicts.contains(verdict), "no {verdict} in {verdicts:?}");
    }
}

/// One HTTP/1.1 request over a fresh connection: the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_runs_the_simulator_with_a_fault_plan_from_a_file() {
    // As a client author would: start it on a free port with a plan, read the URL it prints,
    // and see the planned fault act once and the transcript record it.
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("sc-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("plan.json");
    std::fs::write(
        &plan,
        r#"{"seed": 1, "rules": [{"kind": "catch-up", "nth": 1, "times": 1, "fault": "status", "status": 503}]}"#,
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_state-conformance"))
        .args(["serve", "--bind", "127.0.0.1:0", "--fault-plan"])
        .arg(&plan)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let addr = url.trim().trim_start_matches("http://").to_owned();
    let item = r#"[{"type":"user","key":"u1","value":{},"headers":{"operation":"insert"}}]"#;
    assert_eq!(http(&addr, "PUT", "/s", item).0, 201, "{url}");
    assert_eq!(
        http(&addr, "GET", "/s?offset=-1", "").0,
        503,
        "the planned fault"
    );
    let (status, body) = http(&addr, "GET", "/s?offset=-1", "");
    assert_eq!((status, body.contains("u1")), (200, true), "once: {body}");
    let (_, transcript) = http(&addr, "GET", "/__sim/transcript", "");
    assert!(transcript.contains("503"), "{transcript}");
    let _ = child.kill();
    let _ = child.wait();
    // A plan that is not one is refused before anything listens, naming the file.
    std::fs::write(&plan, r#"{"rules": [{"fault": "status", "status": 99}]}"#).unwrap();
    let o = cli(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--fault-plan",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("plan.json"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
