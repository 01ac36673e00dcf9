//! `stream-simulator`: an in-process Durable Streams server (PROTOCOL.md) for conformance
//! testing.
//!
//! - [`store`]: streams in memory and the protocol rules that do not depend on HTTP.
//! - [`offset`]: the offset format and the `-1` / `now` sentinels.
//! - `http`: the axum router: headers and query parameters to store calls and back,
//!   long-poll and SSE.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = stream_simulator::Simulator::start().await?; // or Simulator::builder()...spawn()
//! println!("streams live under {}", sim.url());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! - [`fault`]: fault plans (seeded, serializable) and the engine that applies them.
//! - [`transcript`]: every exchange as it went over the wire.
//! - `shaping`: cutting and recording response bodies; `control`: the `/__sim/` API.
//! - `subscription`: the reserved `__ds` subscription APIs (PROTOCOL §6, §7).

mod abort;
pub mod activity;
mod config;
mod control;
pub mod fault;
mod http;
pub mod offset;
mod reply;
mod serve;
mod shaping;
mod shared;
pub mod standalone;
pub mod store;
mod subscription;
pub mod told;
pub mod transcript;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::SimulatorConfig;

/// Builds and starts a simulator.
#[derive(Debug, Clone, Default)]
pub struct Simulator {
    config: SimulatorConfig,
}

impl Simulator {
    pub fn builder() -> Simulator {
        Simulator::default()
    }

    /// Starts a simulator on an ephemeral loopback port with default settings.
    pub async fn start() -> std::io::Result<SimulatorHandle> {
        Simulator::builder().spawn().await
    }

    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.bind = addr;
        self
    }

    pub fn long_poll_timeout(mut self, timeout: Duration) -> Self {
        self.config.long_poll_timeout = timeout;
        self
    }

    pub fn sse_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.sse_lifetime = lifetime;
        self
    }

    pub fn page_bytes(mut self, bytes: usize) -> Self {
        self.config.page_bytes = bytes.max(1);
        self
    }

    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    pub fn fault_plan(mut self, plan: fault::FaultPlan) -> Self {
        self.config.fault_plan = plan;
        self
    }

    pub fn transcript_capacity(mut self, exchanges: usize) -> Self {
        self.config.transcript_capacity = exchanges;
        self
    }

    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.max_connections = connections.max(1);
        self
    }

    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout;
        self
    }

    /// Binds and serves in the background of the current tokio runtime.
    pub async fn spawn(self) -> std::io::Result<SimulatorHandle> {
        let listener = tokio::net::TcpListener::bind(self.config.bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(shared::Shared {
            store: store::Store::default(),
            faults: std::sync::Mutex::new(fault::FaultEngine::new(self.config.fault_plan.clone())),
            transcript: Arc::new(transcript::Transcript::new(self.config.transcript_capacity)),
            subscriptions: subscription::Subscriptions::new(),
            config: self.config,
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(shared.clone());
        let limits = serve::Limits {
            max_connections: shared.config.max_connections,
            header_read_timeout: shared.config.header_read_timeout,
        };
        let task = tokio::spawn(serve::serve(listener, app, limits, stopped));
        Ok(SimulatorHandle {
            addr,
            shared,
            stop: Some(stop),
            task,
        })
    }
}

/// A running simulator; dropping it stops it.
pub struct SimulatorHandle {
    addr: SocketAddr,
    shared: Arc<shared::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl SimulatorHandle {
    /// `http://127.0.0.1:PORT`: streams are any path below it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the fault plan (match counters start over).
    pub fn set_fault_plan(&self, plan: fault::FaultPlan) {
        *self.shared.faults() = fault::FaultEngine::new(plan);
    }

    /// The exchanges recorded so far, oldest first.
    pub fn transcript(&self) -> Vec<transcript::Exchange> {
        self.shared.transcript.exchanges()
    }

    /// The recorded exchanges and the requests in flight, read at one instant (see
    /// [`transcript::Transcript::snapshot`]): what judging a reader's requests needs.
    pub fn transcript_and_in_flight(&self) -> (Vec<transcript::Exchange>, Vec<(String, String)>) {
        self.shared.transcript.snapshot()
    }

    /// Requests received whose response has not started yet (a long-poll waiting for data),
    /// oldest first: method and URI.
    pub fn in_flight(&self) -> Vec<(String, String)> {
        self.shared.transcript.in_flight()
    }

    /// What the reader of the stream at `path` is doing now: its open reads, when it last
    /// asked, where it was last told it stands (see [`activity::ReaderActivity`]). Needs
    /// transcripts on.
    pub fn activity(&self, path: &str) -> activity::ReaderActivity {
        self.shared.transcript.activity(path)
    }

    pub fn clear_transcript(&self) {
        self.shared.transcript.clear();
    }

    /// Applies a state-level or lifecycle action to the stream at `path`.
    pub fn act(
        &self,
        path: &str,
        action: &store::Action,
    ) -> Result<offset::Offset, store::Refusal> {
        self.shared.store.act(path, action)
    }

    /// Creates an empty `application/json` stream at `path` (or confirms one).
    pub fn create_json_stream(&self, path: &str) -> Result<offset::Offset, store::Refusal> {
        self.create_empty(path, Some("application/json".into()), None)
    }

    /// Forks the stream at `source` at its tail into a new stream at `path` (PROTOCOL §4.2);
    /// returns the fork's tail.
    pub fn fork_stream(&self, source: &str, path: &str) -> Result<offset::Offset, store::Refusal> {
        let fork = store::ForkRequest {
            source: source.to_owned(),
            offset: None,
            sub_offset: 0,
        };
        self.create_empty(path, None, Some(fork))
    }

    /// A PUT without a body or lifetime; returns the new stream's tail.
    fn create_empty(
        &self,
        path: &str,
        content_type: Option<String>,
        fork: Option<store::ForkRequest>,
    ) -> Result<offset::Offset, store::Refusal> {
        let request = store::CreateRequest {
            content_type,
            lifetime: store::Lifetime::Forever,
            closed: false,
            body: bytes::Bytes::new(),
            fork,
        };
        self.shared
            .store
            .create(path, request)
            .map(|(_, meta)| meta.tail)
    }

    /// Appends a JSON body (an array appends each item) as one POST would; returns the tail.
    pub fn append_json(&self, path: &str, body: &str) -> Result<offset::Offset, store::Refusal> {
        let request = store::AppendRequest {
            content_type: Some("application/json".into()),
            close: false,
            stream_seq: None,
            producer: None,
            body: bytes::Bytes::from(body.to_owned()),
        };
        match self.shared.store.append(path, request)? {
            store::AppendOutcome::Appended { next, .. }
            | store::AppendOutcome::Duplicate { next, .. }
            | store::AppendOutcome::AlreadyClosed { next } => Ok(next),
        }
    }

    /// The stream's retained messages, as written or as served with `headers.offset`.
    pub fn log(&self, path: &str, served_offsets: bool) -> Result<store::Log, store::Refusal> {
        self.shared.store.log(path, served_offsets)
    }

    /// Stops accepting connections and closes the open ones (an SSE reader sees its
    /// connection end).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
