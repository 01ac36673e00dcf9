//! Running cases: one case through an implementation (`execute`, with `live` for the
//! subscribe and produce cases that need a simulator, `watch` for their awaits and
//! `oracle` for the reference's side of them), many on a pool of workers (`pool`), and the mutant self-tests ([`self_test`]).

pub(crate) mod execute;
pub(crate) mod live;
pub(crate) mod oracle;
pub(crate) mod pool;
pub(crate) mod self_test;
pub(crate) mod watch;

pub use execute::run_reference;
pub use live::run_recorded;
pub use self_test::{MutantReport, self_test, self_test_adapters};

pub use pool::{RunOptions, run_adapter_cases, run_reference_cases};
