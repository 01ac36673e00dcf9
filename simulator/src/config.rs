//! A simulator's tunables, with the defaults of a standalone server (tests and the runner
//! shorten the timeouts).

use std::net::SocketAddr;
use std::time::Duration;

use crate::fault;

/// Tunables of a simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub bind: SocketAddr,
    /// How long a long-poll waits for data before answering 204.
    pub long_poll_timeout: Duration,
    /// How long an SSE connection stays open before the server closes it.
    pub sse_lifetime: Duration,
    /// The most bytes one read returns (at least one message is always returned).
    pub page_bytes: usize,
    /// The largest request body accepted (larger ones get 413).
    pub body_limit: usize,
    /// The fault plan in force from the start.
    pub fault_plan: fault::FaultPlan,
    /// How many exchanges the transcript keeps (0 turns recording off).
    pub transcript_capacity: usize,
    /// The most connections open at once; further ones are closed at once (and logged).
    pub max_connections: usize,
    /// How long a client may take to send a request's head before the connection is closed.
    pub header_read_timeout: Duration,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            long_poll_timeout: Duration::from_secs(30),
            sse_lifetime: Duration::from_secs(60),
            page_bytes: 1 << 20,
            body_limit: 64 << 20,
            fault_plan: fault::FaultPlan::default(),
            transcript_capacity: 10_000,
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}
