//! `check https://…`: rustls, `--cacert` and `--insecure`, against a loopback HTTPS server
//! whose self-signed certificate is made here.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use common::{cli, text};

const ONE: &str =
    r#"[{"type": "user", "key": "a", "value": 1, "headers": {"operation": "insert"}}]"#;

/// An HTTPS server on 127.0.0.1 that answers every request with one up-to-date page of `ONE`.
/// Returns its URL and its certificate (PEM).
fn https_server() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let pem = made.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/s", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(20) {
            let Ok(tcp) = tcp else { return };
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, tcp);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return, // a client that refused the certificate
                    }
                }
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nstream-next-offset: 1\r\n\
                     stream-up-to-date: true\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ONE}",
                    ONE.len()
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (url, pem)
}

#[test]
fn check_reads_https_trusting_what_it_is_told_to() {
    let (url, pem) = https_server();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let ca = ca.to_str().unwrap();

    // The server's certificate is trusted through --cacert.
    let o = cli(&["check", &url, "--cacert", ca]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("1 messages under spec-1.0: 0 invalid"),
        "{}",
        text(&o)
    );

    // Not without it: the system's roots do not know a self-signed certificate.
    let o = cli(&["check", &url, "--timeout-ms", "5000"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).to_lowercase().contains("certificate"),
        "{}",
        text(&o)
    );

    // --insecure skips verification altogether.
    let o = cli(&["check", &url, "--insecure"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A --cacert file without a certificate is said to be one.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let o = cli(&["check", &url, "--cacert", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--cacert"), "{}", text(&o));
}
