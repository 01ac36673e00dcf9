//! Running cases: one case through an implementation ([`execute`], with [`live`] for the
//! subscribe and produce cases that need a simulator, [`watch`] for their awaits and
//! [`oracle`] for the reference's side of them), many on a pool of workers ([`pool`]), and the mutant self-tests ([`self_test`]).

pub mod execute;
pub mod live;
pub mod oracle;
pub mod pool;
pub mod self_test;
pub mod watch;

pub use pool::{RunOptions, run_adapter_cases, run_reference_cases};
