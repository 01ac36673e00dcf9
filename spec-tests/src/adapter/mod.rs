//! The adapter protocol (v1): how the runner drives an implementation in any language.
//!
//! The runner starts the adapter as a child process and writes one JSON command per line to
//! its stdin; the adapter answers each with exactly one JSON line on stdout, in order; stderr
//! is free-form and kept for reports. `docs/adapter-protocol.md` is the reference.
//!
//! - `protocol`: the messages, one typed model for the runner and the reference adapter.
//! - `implementation`: the [`Implementation`] trait every case runs through, and its
//!   adapter-process side.
//! - `fault`: every way an adapter fails, one error type.
//! - `process`: the child process, with timeouts, size limits and restarts.
//! - `schema`: the protocol's JSON Schema, for `--check-protocol`.
//! - `transport`: a child process, or an adapter the user started on a socket.

pub(crate) mod fault;
pub(crate) mod implementation;
pub(crate) mod process;
pub(crate) mod protocol;
pub(crate) mod schema;
pub(crate) mod transport;

use std::time::Duration;

pub use implementation::{Implementation, ThroughAdapter};

/// How to start an adapter.
#[derive(Debug, Clone)]
pub struct AdapterSpec {
    pub argv: Vec<String>,
    /// The longest any one command may take.
    pub timeout: Duration,
    /// Check every answer against the protocol's JSON Schema.
    pub check_protocol: bool,
}

/// The argument that turns this binary into the bundled reference adapter.
pub const REFERENCE_ADAPTER_ARG: &str = "reference-adapter";

impl AdapterSpec {
    /// How long one command may take unless `--adapter-timeout-ms` says otherwise.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// The bundled reference adapter: this very binary, in adapter mode.
    pub fn bundled_reference(mutant: Option<state_reference::Mutant>) -> std::io::Result<Self> {
        let exe = std::env::current_exe()?.to_string_lossy().into_owned();
        let mut argv = vec![exe, REFERENCE_ADAPTER_ARG.to_owned()];
        if let Some(m) = mutant {
            argv.extend(["--mutant".to_owned(), m.name().to_owned()]);
        }
        Ok(AdapterSpec {
            argv,
            timeout: Self::DEFAULT_TIMEOUT,
            check_protocol: false,
        })
    }

    /// Starts the adapter and performs the handshake.
    pub fn start(&self) -> Result<process::AdapterProcess, process::AdapterFault> {
        process::AdapterProcess::start(&self.argv, self.timeout, self.check_protocol)
    }

    /// Starts the adapter, has it answer `hello`, and stops it: whether it can run at all,
    /// checked once before a run rather than failed once per case.
    /// Returns its `hello`.
    pub fn probe(&self) -> Result<protocol::Hello, process::AdapterFault> {
        let adapter = self.start()?;
        let hello = adapter.hello.clone();
        adapter.stop();
        Ok(hello)
    }

    /// Whether this starts the bundled reference adapter (of any build of this binary).
    pub fn is_bundled_reference(argv: &[String]) -> bool {
        argv.get(1).is_some_and(|a| a == REFERENCE_ADAPTER_ARG)
    }
}
