//! `check`: dumps (an array, or messages one after another) and stream URLs, judged as
//! written and as served; what it prints; the inputs it refuses; its deadline.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{cli, text};

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sc-check-{}-{name}", std::process::id()))
}

#[test]
fn check_judges_a_dump_as_written_and_as_served() {
    let dump = temp("dump.json");
    std::fs::write(
        &dump,
        r#"[{"type": "user", "key": "a", "value": {"n": 1}, "headers": {"operation": "insert"}},
            {"type": "user", "key": "", "value": 1, "headers": {"operation": "insert"}},
            {"headers": {"control": "snapshot-start"}}]"#,
    )
    .unwrap();
    let o = cli(&[
        "check",
        dump.to_str().unwrap(),
        "--profile",
        "spec-1.0-strict",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("3 messages under spec-1.0-strict: 1 invalid as written, 2 invalid as served"),
        "{out}"
    );
    assert!(out.contains("SCH-CHANGE-HEADERS-NO-EXTRA"), "{out}");
    // The default profile is the one every subcommand defaults to.
    let lenient = cli(&["check", dump.to_str().unwrap()]);
    assert!(
        text(&lenient).contains("under spec-1.0: 1 invalid as written, 1 invalid as served"),
        "{}",
        text(&lenient)
    );
}

#[test]
fn check_reads_a_stream_by_url() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(stream_simulator::Simulator::start())
        .unwrap();
    sim.create_json_stream("/s").unwrap();
    // Served as the upstream server serves: with headers.offset on every message.
    sim.set_fault_plan(stream_simulator::fault::FaultPlan {
        seed: 0,
        rules: vec![stream_simulator::fault::Rule::new(
            stream_simulator::fault::Fault::ServedOffsets,
        )],
    });
    sim.append_json(
        "/s",
        r#"[{"type": "user", "key": "a", "value": 1, "headers": {"operation": "insert"}},
            {"headers": {"control": "reset"}}]"#,
    )
    .unwrap();
    let url = format!("{}/s", sim.url());
    let o = cli(&["check", &url, "--profile", "spec-1.0-strict"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(
            "2 messages under spec-1.0-strict: 0 invalid as written, 1 invalid as served"
        ),
        "{}",
        text(&o)
    );
}

#[test]
fn ndjson_dumps_read_too_and_only_invalid_messages_are_listed_unless_all() {
    let dump = temp("dump.ndjson");
    std::fs::write(
        &dump,
        "{\"type\": \"user\", \"key\": \"a\", \"value\": 1, \"headers\": {\"operation\": \"insert\"}}\n\
         {\"type\": \"user\", \"key\": \"\", \"value\": 1, \"headers\": {\"operation\": \"insert\"}}\n\n\
         {\"headers\": {\"control\": \"reset\"}}\n",
    )
    .unwrap();
    let o = cli(&["check", dump.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("#1 invalid: SP-5.1-KEY-NONEMPTY at /key"),
        "{out}"
    );
    assert!(
        !out.contains("#0") && !out.contains("#2"),
        "valid messages are not listed: {out}"
    );
    assert!(
        out.contains("3 messages under spec-1.0: 1 invalid as written, 1 invalid as served"),
        "{out}"
    );
    let o = cli(&["check", dump.to_str().unwrap(), "--all"]);
    assert!(
        text(&o).contains("#0 valid") && text(&o).contains("#2 valid"),
        "{}",
        text(&o)
    );
    let o = cli(&["validate", dump.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("#2: valid"), "{}", text(&o));
    let _ = std::fs::remove_file(&dump);
}

#[test]
fn a_scheme_it_cannot_read_and_a_broken_dump_are_refused_as_such() {
    let o = cli(&["check", "ftp://example.com/stream"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("reads http:// and https:// URLs and files, not ftp://"),
        "{}",
        text(&o)
    );
    let dump = temp("broken.json");
    std::fs::write(&dump, "[{\"headers\": {\"control\": \"reset\"}}, ").unwrap();
    let o = cli(&["check", dump.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not a JSON array of messages: EOF"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_file(&dump);
}

#[test]
fn a_server_that_trickles_its_body_meets_the_deadline() {
    // One byte every 50 ms: never silent for the per-read timeout, never done.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request);
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nstream-next-offset: 1\r\ncontent-length: 100000\r\n\r\n[";
        if socket.write_all(head.as_bytes()).is_err() {
            return;
        }
        for _ in 0..400 {
            std::thread::sleep(Duration::from_millis(50));
            if socket.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let o = cli(&[
        "check",
        &format!("http://{addr}/s"),
        "--timeout-ms",
        "2000",
        "--deadline-ms",
        "600",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not read to its end within 600 ms (--deadline-ms"),
        "{}",
        text(&o)
    );
}
