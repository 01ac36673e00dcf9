//! The simulator as a standalone server: its command-line options (shared by the
//! `stream-simulator` binary and `state-conformance serve`) and the run until a signal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::Simulator;
use crate::fault::FaultPlan;

/// How to run a standalone simulator (loopback by default).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:4437")]
    pub bind: SocketAddr,
    /// A fault plan (JSON, docs/simulator.md) in force from the start; it can be replaced
    /// over the control API (`PUT /__sim/plan`).
    #[arg(long, value_name = "FILE")]
    pub fault_plan: Option<PathBuf>,
    /// Long-poll timeout in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub long_poll_ms: u64,
    /// SSE connection lifetime in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    pub sse_lifetime_ms: u64,
    /// The most bytes one read returns.
    #[arg(long, default_value_t = 1 << 20)]
    pub page_bytes: usize,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub body_limit: usize,
    /// How many exchanges the transcript keeps (0 turns recording off).
    #[arg(long, default_value_t = 10_000)]
    pub transcript_capacity: usize,
    /// The most connections open at once; further ones are closed at once.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// How long a client may take to send a request head, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
}

/// Why a standalone simulator did not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read the fault plan {path}: {reason}")]
    Plan { path: PathBuf, reason: String },
    #[error("cannot listen on {bind}: {source}")]
    Listen {
        bind: SocketAddr,
        source: std::io::Error,
    },
}

/// Starts the simulator, prints its URL on stdout, and serves until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let mut builder = Simulator::builder()
        .bind(args.bind)
        .long_poll_timeout(Duration::from_millis(args.long_poll_ms))
        .sse_lifetime(Duration::from_millis(args.sse_lifetime_ms))
        .page_bytes(args.page_bytes)
        .body_limit(args.body_limit)
        .transcript_capacity(args.transcript_capacity)
        .max_connections(args.max_connections)
        .header_read_timeout(Duration::from_millis(args.header_read_timeout_ms));
    if let Some(path) = &args.fault_plan {
        let plan_error = |reason: String| ServeError::Plan {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| plan_error(e.to_string()))?;
        let plan: FaultPlan = serde_json::from_str(&text).map_err(|e| plan_error(e.to_string()))?;
        builder = builder.fault_plan(plan);
    }
    let sim = builder.spawn().await.map_err(|source| ServeError::Listen {
        bind: args.bind,
        source,
    })?;
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
