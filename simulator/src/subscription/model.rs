//! The subscription types every part shares: addresses, configurations, refusals, the
//! effects a state change leaves, and the requests that finish a wake.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::offset::Offset;
use crate::store::Store;

/// How long a callback or claim token is honoured; fencing by generation ends it sooner.
pub(super) const TOKEN_LIFETIME_SECS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    /// The URL path up to and including the `/` before `__ds`.
    pub root: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    Webhook(String),
    /// The wake stream, relative to the root.
    PullWake(String),
}

/// A subscription's configuration, normalized: two requests with equal ones are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub delivery: Delivery,
    pub pattern: Option<String>,
    pub streams: BTreeSet<String>,
    pub lease_ttl_ms: u64,
    pub description: Option<String>,
}

/// A refused request: its status and the `error` object of its body.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub extra: Map<String, Value>,
}

impl Rejection {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }
}

/// Work left for after the table's lock is released.
#[derive(Debug)]
pub(crate) enum Effect {
    Deliver {
        key: Key,
        wake: String,
    },
    LeaseTimer {
        key: Key,
        lease: u64,
        after: Duration,
    },
    WakeEvent {
        stream: String,
        event: Value,
    },
}

/// Which finishing request a worker sent (PROTOCOL §7.1, §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    Callback,
    Ack,
    Release,
}

/// The body of a callback, ack or release.
pub(crate) struct Report {
    pub wake_id: String,
    pub generation: u64,
    pub acks: Vec<(String, String)>,
    pub done: bool,
}

/// A webhook ready to send.
pub(crate) struct Notification {
    pub url: String,
    pub body: Vec<u8>,
    pub signature: String,
}

pub(super) fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The tail of the stream at `root` + `path`; a stream that does not exist is empty.
pub(super) fn tail(store: &Store, root: &str, path: &str) -> Offset {
    store
        .metadata(&format!("{root}{path}"))
        .map_or(Offset(0), |m| m.tail)
}

pub(super) fn not_found(key: &Key) -> Rejection {
    Rejection::new(
        404,
        "SUBSCRIPTION_NOT_FOUND",
        format!("no subscription {:?}", key.id),
    )
}
