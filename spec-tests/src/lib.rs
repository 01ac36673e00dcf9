//! `spec-tests`: the conformance runner behind the `state-conformance` binary.
//!
//! - [`catalogue`]: the requirements catalogue.
//! - [`case`]: the case format and the corpus loader.
//! - [`execute`]: running a case against the reference, in process.
//! - [`verdict`]: outcome versus expectation.
//! - [`suite`]: selection, runs, self-test (mutants) and coverage.

pub mod adapter;
pub mod campaign;
pub mod case;
pub mod catalogue;
pub mod check;
pub mod client;
pub mod error;
pub mod execute;
pub mod expectations;
pub mod fixtures;
pub mod generate;
pub mod live;
pub mod matrix;
pub mod report;
pub mod suite;
pub mod verdict;
