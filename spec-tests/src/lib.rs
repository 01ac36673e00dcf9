//! `spec-tests`: the conformance runner behind the `state-conformance` binary.
//!
//! Data flows one way: [`corpus`] (cases and requirements) → [`run`] (each case through an
//! [`adapter::Implementation`]: an adapter process, or the [`reference_adapter`] in process
//! as the oracle; live cases on a fresh simulator) → [`judge`] (outcome against the
//! expectations: a verdict) → [`report`] (console, JSON, JUnit, Markdown, matrix).
//! [`pipeline`] is the whole `run` command; [`campaign`] generates, shrinks and bundles
//! scenarios; [`export`] writes and reads corpora as standalone JSON; [`lint`] checks a stream.
//! The command line itself lives in the binary (`src/cli/`).

pub mod adapter;
pub mod campaign;
pub mod corpus;
mod error;
pub mod export;
pub mod input;
pub mod judge;
pub mod lint;
pub mod pipeline;
pub mod reference_adapter;
pub mod report;
pub mod run;
mod runtime;

pub use error::LoadError;
