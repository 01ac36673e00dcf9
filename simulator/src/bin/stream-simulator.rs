//! `stream-simulator`: the simulator as a standalone server (loopback by default).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use stream_simulator::Simulator;

#[derive(Parser)]
#[command(
    name = "stream-simulator",
    version,
    about = "A Durable Streams server for conformance testing"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4437")]
    bind: SocketAddr,
    /// Long-poll timeout in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    long_poll_ms: u64,
    /// SSE connection lifetime in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    sse_lifetime_ms: u64,
    /// The most bytes one read returns.
    #[arg(long, default_value_t = 1 << 20)]
    page_bytes: usize,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    body_limit: usize,
    /// How many exchanges the transcript keeps (0 turns recording off).
    #[arg(long, default_value_t = 10_000)]
    transcript_capacity: usize,
    /// The most connections open at once; further ones are closed at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// How long a client may take to send a request head, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    header_read_timeout_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let sim = Simulator::builder()
        .bind(args.bind)
        .long_poll_timeout(Duration::from_millis(args.long_poll_ms))
        .sse_lifetime(Duration::from_millis(args.sse_lifetime_ms))
        .page_bytes(args.page_bytes)
        .body_limit(args.body_limit)
        .transcript_capacity(args.transcript_capacity)
        .max_connections(args.max_connections)
        .header_read_timeout(Duration::from_millis(args.header_read_timeout_ms))
        .spawn()
        .await?;
    println!("{}", sim.url());
    shutdown_signal().await;
    sim.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
