//! The adapter protocol (v1): how the runner drives an implementation in any language.
//!
//! The runner starts the adapter as a child process and writes one JSON command per line to
//! its stdin; the adapter answers each with exactly one JSON line on stdout, in order; stderr
//! is free-form and kept for reports. `docs/adapter-protocol.md` is the reference.
//!
//! - [`protocol`]: the messages.
//! - [`process`]: the child process, with timeouts, size limits and restarts.
//! - [`reference`]: the bundled reference adapter.
//! - [`schema`]: the protocol's JSON Schema, for `--check-protocol`.

pub mod process;
pub mod protocol;
pub mod reference;
pub mod schema;
