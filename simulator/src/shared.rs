//! The state every request handler shares: the store, the configuration, the fault engine,
//! the transcript and the subscriptions.

use std::sync::Arc;

use crate::config::SimulatorConfig;
use crate::fault::{Applied, FaultEngine};
use crate::store::{ReadOptions, Store};
use crate::subscription::Subscriptions;
use crate::transcript::Transcript;

pub(crate) struct Shared {
    pub store: Store,
    pub config: SimulatorConfig,
    pub faults: std::sync::Mutex<FaultEngine>,
    pub transcript: Arc<Transcript>,
    pub subscriptions: Subscriptions,
}

impl Shared {
    pub fn faults(&self) -> std::sync::MutexGuard<'_, FaultEngine> {
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn read_options(&self, applied: &Applied) -> ReadOptions {
        ReadOptions {
            max_bytes: self.config.page_bytes,
            max_messages: applied.page_messages,
            served_offsets: applied.served_offsets,
        }
    }
}
