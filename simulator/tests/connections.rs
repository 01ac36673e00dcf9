//! Connection limits (issue #13): a client that never finishes its request head is
//! disconnected, and connections beyond the cap are closed at once while those already open
//! keep being served.

use std::time::Duration;

use stream_simulator::Simulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `within` passes): what it sent.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut got)).await;
    match read {
        Ok(_) => Some(got),
        Err(_) => None,
    }
}

/// Sends a HEAD and reads its whole response head: the status line, or `None` if the
/// connection closed first.
async fn head(s: &mut TcpStream) -> Option<String> {
    s.write_all(b"HEAD /missing HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .ok()?;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) => got.push(byte[0]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    text.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_disconnected() {
    let sim = Simulator::builder()
        .header_read_timeout(Duration::from_millis(200))
        .spawn()
        .await
        .unwrap();
    let mut slow = TcpStream::connect(sim.addr()).await.unwrap();
    slow.write_all(b"GET /s HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let sent = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(sent.is_some(), "the connection was closed by the server");
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_and_open_ones_still_served() {
    let sim = Simulator::builder()
        .max_connections(2)
        .header_read_timeout(Duration::from_secs(60))
        .spawn()
        .await
        .unwrap();
    let not_found = Some("HTTP/1.1 404 Not Found".to_owned());
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(sim.addr()).await.unwrap();
        // A complete exchange proves the connection holds a slot before the next one opens.
        assert_eq!(head(&mut s).await, not_found);
        held.push(s);
    }
    let mut third = TcpStream::connect(sim.addr()).await.unwrap();
    assert_eq!(head(&mut third).await, None, "closed without an answer");
    let sent = read_until_closed(&mut third, Duration::from_secs(10)).await;
    assert_eq!(sent, Some(Vec::new()));

    // The held connections are still served, and closing one frees its slot.
    assert_eq!(head(&mut held[0]).await, not_found);
    drop(held.pop());
    let mut served = None;
    for _ in 0..100 {
        let mut s = TcpStream::connect(sim.addr()).await.unwrap();
        served = head(&mut s).await;
        if served.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(served, not_found, "a freed slot serves a new connection");
}

/// At the file-descriptor limit the simulator says so on stderr (it used to stay silent
/// while new readers were never served).
#[cfg(unix)]
#[tokio::test]
async fn running_out_of_file_descriptors_is_logged() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 40 && exec {} --bind 127.0.0.1:0",
            env!("CARGO_BIN_EXE_stream-simulator")
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let addr = url.trim().trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..60 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&addr)).await
        {
            held.push(s);
        }
    }
    // Give the accept loop a moment to meet the limit, then stop the server and read stderr.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(held);
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("cannot accept a connection"),
        "stderr: {stderr}"
    );
}
