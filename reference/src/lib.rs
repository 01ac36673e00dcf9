//! `state-reference`: the reference implementation of the Durable Streams State Protocol 1.0.
//!
//! - [`message`]: typed change and control messages; a parser that never panics and names
//!   the violated requirement in every rejection.
//! - [`schema`]: the protocol's JSON Schema, embedded and compiled once.
//! - [`profile`]: positions on the questions the spec leaves open, as data.
//! - [`materializer`]: batches in, canonical visible state, txids and diagnostics out.
//! - [`collection`] and [`producer`]: collections and the insert / update / delete builders.
//! - [`client`] (feature `client`, on by default): the consumer side over HTTP, a
//!   subscriber that reads a Durable Stream into a materializer, and a producer.
//! - [`mutant`]: deliberately broken variants, to prove the suite catches real bugs.
//!
//! This crate depends on nothing else in the workspace.
//!
//! # Example
//!
//! Materialize one JSON-mode batch (the body of one read of a stream) under the `spec-1.0`
//! profile, then look at what an observer sees:
//!
//! ```
//! use state_reference::{Materializer, Profile};
//!
//! let mut state = Materializer::new(Profile::preset("spec-1.0").unwrap());
//! let body = r#"[
//!   {"type":"user","key":"1","value":{"name":"Ada"},"headers":{"operation":"insert","txid":"t1"}},
//!   {"type":"user","key":"1","value":{"name":"Ada L."},"headers":{"operation":"update"}},
//!   {"type":"user","key":"2","headers":{"operation":"frobnicate"}}
//! ]"#;
//! let diagnostics = state.apply_json(body, Some("0_42".into()), true).unwrap();
//! // The third message is rejected, naming the requirement it breaks; the others apply.
//! assert_eq!(diagnostics.len(), 1);
//! assert_eq!(diagnostics[0].index, 2);
//!
//! let seen = state.observe();
//! assert_eq!(seen.state["user"]["1"]["name"], "Ada L.");
//! assert_eq!(seen.txids, ["t1"]);
//! assert_eq!(seen.offset.as_deref(), Some("0_42"));
//! ```

#![warn(missing_docs)]

#[cfg(feature = "client")]
pub mod client;
pub mod collection;
pub mod materializer;
pub mod message;
pub mod mutant;
pub mod producer;
pub mod profile;
pub mod requirement;
pub mod schema;
mod wire;

pub use collection::Collection;
pub use materializer::{Batch, CanonicalState, Diagnostic, Materializer, Observation};
pub use message::{
    ChangeMessage, Control, ControlMessage, Message, Operation, ParseRules, Rejection,
};
pub use mutant::Mutant;
pub use producer::{ChangeBuilder, ProduceOp, ProducerError};
pub use profile::Profile;
