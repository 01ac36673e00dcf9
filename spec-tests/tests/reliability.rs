//! Issue #13: inputs that must not hurt the runner. Each test here failed before its fix.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{cli, text};

/// A one-thread HTTP server on loopback: for each connection, reads the request head and
/// lets `answer` write whatever it likes (or nothing). Returns its `http://addr`.
fn fake_server(answer: fn(&str, &mut TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            answer(&request_line, &mut stream);
        }
    });
    url
}

fn respond(stream: &mut TcpStream, headers: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
}

const ONE: &str =
    r#"[{"type": "user", "key": "a", "value": 1, "headers": {"operation": "insert"}}]"#;

#[test]
fn check_keeps_the_urls_query_and_escapes_the_servers_offset() {
    // The first read (offset -1, token kept) gets one message and an offset full of
    // characters a query must escape; the second must carry that offset back intact.
    let url = fake_server(|request, stream| {
        if request.starts_with("GET /s?token=abc&offset=-1 ") {
            respond(stream, "stream-next-offset: a&b=c d+e\r\n", ONE);
        } else if request.starts_with("GET /s?token=abc&offset=a%26b%3Dc+d%2Be ") {
            respond(
                stream,
                "stream-next-offset: z\r\nstream-up-to-date: true\r\n",
                ONE,
            );
        } else {
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
            );
            eprintln!("unexpected request: {request}");
        }
    });
    let o = cli(&["check", &format!("{url}/s?token=abc")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("2 messages under"), "{}", text(&o));
}

#[test]
fn check_gives_up_on_a_silent_server_with_exit_two() {
    let url = fake_server(|_, stream| {
        std::thread::sleep(Duration::from_secs(20));
        let _ = stream.flush();
    });
    let started = Instant::now();
    let o = cli(&["check", &format!("{url}/s"), "--timeout-ms", "300"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("no answer within the timeout"),
        "{}",
        text(&o)
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn check_stops_an_endless_body_at_the_size_bound_with_exit_two() {
    let url = fake_server(|_, stream| {
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nstream-next-offset: 1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let chunk = vec![b' '; 1 << 20];
        loop {
            let sent = write!(stream, "{:x}\r\n", chunk.len())
                .and_then(|()| stream.write_all(&chunk))
                .and_then(|()| stream.write_all(b"\r\n"));
            if sent.is_err() {
                return;
            }
        }
    });
    let o = cli(&["check", &format!("{url}/s")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("a read from offset -1 is larger than 256 MiB"),
        "{}",
        text(&o)
    );
}

#[test]
fn file_inputs_are_bounded_in_size() {
    // Read whole: bounded in size.
    let o = cli(&["materialize", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("larger than 256 MiB"), "{}", text(&o));
    // Judged as they are read (bounded in memory, not in size): an endless file that is not
    // JSON is refused at its first byte.
    for command in ["check", "validate"] {
        let o = cli(&[command, "/dev/zero"]);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", text(&o));
        assert!(text(&o).contains("is not JSON"), "{command}: {}", text(&o));
    }
}
