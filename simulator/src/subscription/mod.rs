//! Reserved subscription APIs (PROTOCOL §6, §7): durable cursors over a set of streams that
//! wake a worker, by webhook or through a wake stream, whenever a stream has data past its
//! cursor, with generation fencing and leases.
//!
//! A subscription lives under the reserved `__ds` segment of the URL its creator used, and
//! the part of that URL before `__ds` is its stream root: stream paths in bodies are relative
//! to it. The state machine here is synchronous and answers with [`Effect`]s (a webhook to
//! send, a lease to time, a wake event to append) that [`apply`] carries out once the table's
//! lock is released, so the lock order is always this table, then the store.
//!
//! Only writes made over HTTP wake subscriptions: the simulator's own appends (wake events,
//! fault actions, harness steps) do not, so a wake stream that a pattern matches cannot wake
//! itself in a loop.

mod delivery;
mod glob;
mod model;
mod record;
mod routes;
mod signing;
mod webhook_url;
mod worker;

pub(crate) use delivery::apply;
pub(crate) use routes::{handle, reserved};

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use crate::offset::Offset;
use crate::store::Store;
pub(crate) use model::{Config, Delivery, Effect, Finish, Key, Notification, Rejection, Report};
use model::{not_found, tail};
use record::Subscription;
use signing::Signer;

pub(crate) struct Subscriptions {
    /// Set by the first subscription: until then a write does not look at the table.
    any: AtomicBool,
    table: Mutex<HashMap<Key, Subscription>>,
    signer: Signer,
}

impl Subscriptions {
    pub(crate) fn new() -> Subscriptions {
        Subscriptions {
            any: AtomicBool::new(false),
            table: Mutex::new(HashMap::new()),
            signer: Signer::generate(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Subscription>> {
        // Every change completes before the lock is released, so a poisoned table is whole.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a write needs to tell the subscriptions (see [`Subscriptions::written`]).
    pub(crate) fn watching(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    pub(crate) fn jwks(&self) -> Value {
        self.signer.jwks()
    }

    /// PUT: creates (`true`) or re-confirms an identical subscription (PROTOCOL §6.2).
    /// Streams that already exist are linked at their tail: no history is replayed.
    pub(crate) fn put(
        &self,
        key: Key,
        config: Config,
        origin: String,
        store: &Store,
    ) -> Result<(bool, Value), Rejection> {
        let mut table = self.lock();
        if let Some(existing) = table.get(&key) {
            return match existing.config == config {
                true => Ok((false, existing.view(&key, store, &self.signer))),
                false => Err(Rejection::new(
                    409,
                    "SUBSCRIPTION_ALREADY_EXISTS",
                    "a subscription with this id and another configuration exists",
                )),
            };
        }
        let mut sub = Subscription {
            incarnation: rand::random(),
            origin,
            created_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            links: BTreeMap::new(),
            generation: 0,
            wake: None,
            holder: None,
            lease: 0,
            retries: 0,
            failed: false,
            config,
        };
        if let Some(pattern) = sub.config.pattern.clone() {
            for path in store.paths_under(&key.root) {
                let relative = &path[key.root.len()..];
                if glob::matches(&pattern, relative) {
                    sub.link(relative, tail(store, &key.root, relative), false);
                }
            }
        }
        for path in sub.config.streams.clone() {
            sub.link(&path, tail(store, &key.root, &path), true);
        }
        let view = sub.view(&key, store, &self.signer);
        table.insert(key, sub);
        self.any.store(true, Ordering::Relaxed);
        Ok((true, view))
    }

    pub(crate) fn view(&self, key: &Key, store: &Store) -> Result<Value, Rejection> {
        let table = self.lock();
        let sub = table.get(key).ok_or_else(|| not_found(key))?;
        Ok(sub.view(key, store, &self.signer))
    }

    /// DELETE: the subscription goes, and its outstanding tokens and timers with it.
    pub(crate) fn delete(&self, key: &Key) -> Result<(), Rejection> {
        self.lock()
            .remove(key)
            .map(|_| ())
            .ok_or_else(|| not_found(key))
    }

    /// Adds explicit links, each at its stream's tail (PROTOCOL §6.4).
    pub(crate) fn add_streams(
        &self,
        key: &Key,
        paths: &[String],
        store: &Store,
    ) -> Result<(), Rejection> {
        let mut table = self.lock();
        let sub = table.get_mut(key).ok_or_else(|| not_found(key))?;
        for path in paths {
            sub.link(path, tail(store, &key.root, path), true);
        }
        Ok(())
    }

    /// Removes an explicit link; a glob link to the same stream stays.
    pub(crate) fn remove_stream(&self, key: &Key, path: &str) -> Result<(), Rejection> {
        let mut table = self.lock();
        let sub = table.get_mut(key).ok_or_else(|| not_found(key))?;
        if let Some(link) = sub.links.get_mut(path) {
            link.explicit = false;
            if !link.glob {
                sub.links.remove(path);
            }
        }
        Ok(())
    }

    /// After a write over HTTP to the stream at `path` whose tail was `before`: a stream a
    /// pattern newly matches is linked at `before` (so this write is pending), and every
    /// subscription that links it wakes if idle.
    pub(crate) fn written(&self, path: &str, before: Offset, store: &Store) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (key, sub) in self.lock().iter_mut() {
            let Some(relative) = path.strip_prefix(key.root.as_str()) else {
                continue;
            };
            if sub
                .config
                .pattern
                .as_deref()
                .is_some_and(|p| glob::matches(p, relative))
            {
                sub.link(relative, before, false);
            }
            if sub.links.contains_key(relative) {
                effects.extend(sub.wake_if_idle(key, store, Some(relative)));
            }
        }
        effects
    }

    /// After the stream at `path` was deleted: no subscription links it any more.
    pub(crate) fn stream_deleted(&self, path: &str) {
        for (key, sub) in self.lock().iter_mut() {
            if let Some(relative) = path.strip_prefix(key.root.as_str()) {
                sub.links.remove(relative);
            }
        }
    }
}

#[cfg(test)]
mod tests;
