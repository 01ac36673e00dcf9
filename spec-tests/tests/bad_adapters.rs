//! Purpose-built bad adapters: each misbehaviour becomes a clear failed case with a reason
//! (and the adapter's stderr tail), the runner restarts the adapter and goes on; it never
//! panics or hangs past its timeouts.

use std::path::PathBuf;
use std::time::Duration;

use spec_tests::adapter::AdapterSpec;
use spec_tests::corpus::Case;
use spec_tests::judge::Outcome;
use spec_tests::judge::Verdict;
use spec_tests::run as suite;

/// A Python adapter: answers like a good one, except where `misbehave` (Python code run with
/// `cmd` bound to the command's name) returns before answering.
fn script(name: &str, misbehave: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sc-bad-adapters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.py"));
    let body = format!(
        r#"import sys, json, time
def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n"); sys.stdout.flush()
def misbehave(cmd):
{misbehave}
    return False
for line in sys.stdin:
    cmd = json.loads(line)["cmd"]
    if misbehave(cmd):
        continue
    if cmd == "hello":
        answer({{"cmd": "hello", "ok": True, "protocol": 1, "implementation": {{"name": "bad", "version": "0"}},
                 "capabilities": ["materialize", "validate"]}})
    elif cmd == "state":
        answer({{"cmd": "state", "ok": True, "state": {{}}, "txids": [], "offset": None}})
    elif cmd == "apply":
        answer({{"cmd": "apply", "ok": True, "rejected": []}})
    elif cmd == "validate":
        answer({{"cmd": "validate", "ok": True, "valid": True}})
    else:
        answer({{"cmd": cmd, "ok": True}})
"#
    );
    std::fs::write(&path, body).unwrap();
    path
}

fn run(path: PathBuf, timeout_ms: u64) -> Vec<(String, Vec<String>)> {
    let suite = spec_tests::corpus::Suite::embedded();
    let cases: Vec<&Case> = ["val-empty-key", "mat-insert-stores"]
        .iter()
        .map(|id| suite.corpus.get(id).unwrap())
        .collect();
    let spec = AdapterSpec {
        argv: vec!["python3".into(), path.to_string_lossy().into_owned()],
        timeout: Duration::from_millis(timeout_ms),
        check_protocol: false,
    };
    suite::run_adapter_cases(&cases, &spec_1_0(), &spec, Default::default())
        .into_iter()
        .map(|r| {
            let reasons = match (&r.verdict, &r.outcome) {
                (Verdict::Errored { mismatches }, _) => mismatches.clone(),
                (v, o) => panic!("{}: expected an error, got {v:?} / {o:?}", r.case),
            };
            assert!(
                matches!(r.outcome, Outcome::AdapterFault { .. }),
                "{}: {:?}",
                r.case,
                r.outcome
            );
            (r.case, reasons)
        })
        .collect()
}

/// Both cases fail, each with a reason containing `needle`.
fn assert_fails_with(name: &str, misbehave: &str, needle: &str) {
    let results = run(script(name, misbehave), 500);
    assert_eq!(
        results.len(),
        2,
        "{name}: the runner went on to the second case"
    );
    for (case, reasons) in results {
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "{name} / {case}: {reasons:?} lacks {needle:?}"
        );
    }
}

#[test]
fn crash_at_start() {
    assert_fails_with("crash-at-start", "    sys.exit(3)", "exited");
}

#[test]
fn crash_mid_case_with_its_stderr() {
    let code = "    if cmd in ('apply', 'validate'):\n        sys.stderr.write('panic: the adapter broke\\n'); sys.stderr.flush(); sys.exit(4)";
    let results = run(script("crash-mid-case", code), 500);
    for (case, reasons) in results {
        assert!(
            reasons.iter().any(|r| r.contains("exited")),
            "{case}: {reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("panic: the adapter broke")),
            "{case}: stderr tail missing: {reasons:?}"
        );
    }
}

#[test]
fn hang_times_out() {
    assert_fails_with(
        "hang",
        "    if cmd == 'open':\n        time.sleep(30)",
        "did not answer `open` within 500 ms",
    );
}

#[test]
fn garbage_answer() {
    assert_fails_with(
        "garbage",
        "    if cmd == 'open':\n        print('this is not json', flush=True); return True",
        "not JSON",
    );
}

#[test]
fn oversized_line() {
    assert_fails_with(
        "oversized",
        "    if cmd == 'open':\n        print('x' * (17 << 20), flush=True); return True",
        "bytes",
    );
}

#[test]
fn wrong_result_type() {
    assert_fails_with(
        "wrong-type",
        "    if cmd == 'open':\n        answer({'cmd': 'state', 'ok': True}); return True",
        "answered `open` with",
    );
}

#[test]
fn answers_twice() {
    assert_fails_with(
        "twice",
        "    if cmd == 'open':\n        answer({'cmd': 'open', 'ok': True}); answer({'cmd': 'open', 'ok': True}); return True",
        "nobody asked for",
    );
}

#[test]
fn exits_early() {
    assert_fails_with(
        "early-exit",
        "    if cmd == 'open':\n        sys.exit(0)",
        "exited",
    );
}

#[test]
fn stdout_before_the_handshake() {
    assert_fails_with(
        "chatty",
        "    if cmd == 'hello':\n        print('starting up...', flush=True)",
        "not JSON",
    );
}

#[test]
fn refusal_carries_the_adapters_own_message() {
    assert_fails_with(
        "refuses",
        "    if cmd == 'open':\n        answer({'cmd': 'open', 'ok': False, 'error': 'TypeError: x is undefined'}); return True",
        "refused `open`: TypeError: x is undefined",
    );
}

#[test]
fn missing_capability_is_not_applicable_never_failed() {
    let code = "    if cmd == 'hello':\n        answer({'cmd': 'hello', 'ok': True, 'protocol': 1, 'implementation': {'name': 'v', 'version': '0'}, 'capabilities': ['validate']}); return True";
    let suite = spec_tests::corpus::Suite::embedded();
    let cases: Vec<&Case> = vec![suite.corpus.get("mat-insert-stores").unwrap()];
    let path = script("validate-only", code);
    let spec = AdapterSpec {
        argv: vec!["python3".into(), path.to_string_lossy().into_owned()],
        timeout: Duration::from_millis(500),
        check_protocol: false,
    };
    let results = suite::run_adapter_cases(&cases, &spec_1_0(), &spec, Default::default());
    assert!(
        matches!(results[0].verdict, Verdict::NotApplicable { .. }),
        "{:?}",
        results[0].verdict
    );
}

#[test]
fn check_protocol_names_the_offending_line() {
    let code = "    if cmd == 'apply':\n        answer({'cmd': 'apply', 'ok': True, 'rejected': [{'index': '0', 'reason': 'x'}]}); return True";
    let suite = spec_tests::corpus::Suite::embedded();
    let cases: Vec<&Case> = vec![suite.corpus.get("mat-insert-stores").unwrap()];
    let path = script("loose-types", code);
    let argv = vec!["python3".into(), path.to_string_lossy().into_owned()];
    let lenient = AdapterSpec {
        argv: argv.clone(),
        timeout: Duration::from_millis(500),
        check_protocol: false,
    };
    let checked = AdapterSpec {
        argv,
        timeout: Duration::from_millis(500),
        check_protocol: true,
    };
    // Without the check the string index fails to decode; with it, the line is named.
    assert!(
        suite::run_adapter_cases(&cases, &spec_1_0(), &lenient, Default::default())[0]
            .verdict
            .is_failure()
    );
    let result = &suite::run_adapter_cases(&cases, &spec_1_0(), &checked, Default::default())[0];
    let Verdict::Errored { mismatches } = &result.verdict else {
        panic!("{:?}", result.verdict)
    };
    assert!(
        mismatches[0]
            .contains("answer to `apply` (stdout line 3) breaks the protocol: /rejected/0/index"),
        "{mismatches:?}"
    );
}

fn spec_1_0() -> state_reference::Profile {
    state_reference::Profile::default_profile()
}

#[test]
fn stderr_that_is_not_utf8_is_kept_and_the_adapter_lives_on() {
    // Before the fix the runner stopped reading stderr at the first bad byte and closed the
    // pipe: the adapter died on its next log line.
    let code = "    sys.stderr.buffer.write(b'bad byte \\xff here\\n'); sys.stderr.flush()";
    let suite = spec_tests::corpus::Suite::embedded();
    let cases: Vec<&Case> = vec![suite.corpus.get("val-empty-key").unwrap(); 3];
    let path = script("non-utf8-stderr", code);
    let spec = AdapterSpec {
        argv: vec!["python3".into(), path.to_string_lossy().into_owned()],
        timeout: Duration::from_millis(2000),
        check_protocol: false,
    };
    for r in suite::run_adapter_cases(&cases, &spec_1_0(), &spec, Default::default()) {
        assert!(
            !matches!(r.outcome, Outcome::AdapterFault { .. }),
            "{}: {:?}",
            r.case,
            r.outcome
        );
    }
}

/// Whether process `pid` is still running (a zombie counts as gone).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| !s.trim_start().starts_with('Z'))
    })
}

/// An adapter behind a shell wrapper that also starts a grandchild holding the adapter's
/// stdout: `(wrapper, file holding the grandchild's pid)`.
fn wrapped(name: &str, misbehave: &str) -> (PathBuf, PathBuf) {
    let inner = script(name, misbehave);
    let pid_file = inner.with_extension("pid");
    let wrapper = inner.with_extension("sh");
    std::fs::write(
        &wrapper,
        format!(
            "sleep 300 &\necho $! > {}\npython3 {}\n",
            pid_file.display(),
            inner.display()
        ),
    )
    .unwrap();
    (wrapper, pid_file)
}

/// The grandchild whose pid `pid_file` holds is gone (the group was killed; init gets a
/// moment to reap the orphan).
fn assert_grandchild_gone(pid_file: &std::path::Path) {
    let grandchild = std::fs::read_to_string(pid_file).unwrap();
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !alive(grandchild.trim())
    });
    assert!(gone, "grandchild {grandchild} outlived the run");
}

fn run_wrapped(wrapper: &std::path::Path) -> Vec<spec_tests::judge::CaseResult> {
    let suite = spec_tests::corpus::Suite::embedded();
    let cases: Vec<&Case> = vec![suite.corpus.get("mat-insert-stores").unwrap()];
    let spec = AdapterSpec {
        argv: vec!["sh".into(), wrapper.to_string_lossy().into_owned()],
        timeout: Duration::from_millis(3000),
        check_protocol: false,
    };
    suite::run_adapter_cases(&cases, &spec_1_0(), &spec, Default::default())
}

#[test]
fn a_wrapped_adapter_that_hangs_leaves_nothing_running() {
    let (wrapper, pid_file) = wrapped(
        "wrapped-hang",
        "    if cmd == 'open':\n        time.sleep(300)",
    );
    let results = run_wrapped(&wrapper);
    assert!(
        format!("{:?}", results[0].verdict).contains("did not answer `open`"),
        "{:?}",
        results[0].verdict
    );
    assert_grandchild_gone(&pid_file);
}

#[test]
fn an_adapter_that_exits_while_a_grandchild_holds_stdout_is_reported_as_exited() {
    let (wrapper, pid_file) = wrapped("wrapped-exit", "    if cmd == 'open':\n        sys.exit(5)");
    let started = std::time::Instant::now();
    let results = run_wrapped(&wrapper);
    let verdict = format!("{:?}", results[0].verdict);
    assert!(verdict.contains("exited"), "{verdict}");
    assert!(!verdict.contains("did not answer"), "{verdict}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "it waited for the timeout"
    );
    assert_grandchild_gone(&pid_file);
}

#[test]
fn a_wrapped_adapter_leaves_nothing_running_at_the_end_of_the_run() {
    let (wrapper, pid_file) = wrapped("wrapped-ok", "    pass");
    let results = run_wrapped(&wrapper);
    assert!(
        !matches!(results[0].outcome, Outcome::AdapterFault { .. }),
        "{:?}",
        results[0].outcome
    );
    assert_grandchild_gone(&pid_file);
}
