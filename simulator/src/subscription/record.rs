//! One subscription: its links and their cursors, its wake and generation, its lease, and
//! how it shows itself in responses.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::model::{Config, Delivery, Effect, Key, now, tail};
use super::signing::Signer;
use crate::offset::Offset;
use crate::store::Store;

pub(super) struct Link {
    pub(super) glob: bool,
    pub(super) explicit: bool,
    /// Last processed offset, inclusive.
    pub(super) acked: Offset,
}

pub(super) struct Wake {
    pub(super) id: String,
    /// Every linked stream's tail when the wake was made: what `done` acknowledges.
    pub(super) snapshot: Vec<(String, Offset)>,
}

pub(super) struct Subscription {
    pub(super) config: Config,
    /// Distinguishes this subscription from an earlier one deleted under the same id.
    pub(super) incarnation: u64,
    /// `http://host` as the creating request named this server.
    pub(super) origin: String,
    pub(super) created_at: String,
    pub(super) links: BTreeMap<String, Link>,
    pub(super) generation: u64,
    pub(super) wake: Option<Wake>,
    /// The worker holding a pull-wake claim.
    pub(super) holder: Option<String>,
    /// Changes whenever a lease starts, is extended or ends: a timer that finds another
    /// value was overtaken.
    pub(super) lease: u64,
    pub(super) retries: u32,
    pub(super) failed: bool,
}

pub(super) struct StreamInfo {
    pub(super) path: String,
    pub(super) explicit: bool,
    pub(super) acked: Offset,
    pub(super) tail: Offset,
}

impl StreamInfo {
    pub(super) fn json(&self, with_tail: bool) -> Value {
        let mut v = json!({
            "path": self.path,
            "link_type": if self.explicit { "explicit" } else { "glob" },
            "acked_offset": self.acked.to_string(),
        });
        if with_tail {
            v["tail_offset"] = json!(self.tail.to_string());
            v["has_pending"] = json!(self.tail > self.acked);
        }
        v
    }
}

impl Subscription {
    pub(super) fn subject(&self, key: &Key) -> String {
        format!("{}{}#{}", key.root, key.id, self.incarnation)
    }

    pub(super) fn infos(&self, key: &Key, store: &Store) -> Vec<StreamInfo> {
        self.links
            .iter()
            .map(|(path, link)| StreamInfo {
                path: path.clone(),
                explicit: link.explicit,
                acked: link.acked,
                tail: tail(store, &key.root, path),
            })
            .collect()
    }

    pub(super) fn link(&mut self, path: &str, at: Offset, explicit: bool) {
        let link = self.links.entry(path.to_owned()).or_insert(Link {
            glob: false,
            explicit: false,
            acked: at,
        });
        match explicit {
            true => link.explicit = true,
            false => link.glob = true,
        }
    }

    pub(super) fn start_lease(&mut self, key: &Key) -> Effect {
        self.lease += 1;
        Effect::LeaseTimer {
            key: key.clone(),
            lease: self.lease,
            after: Duration::from_millis(self.config.lease_ttl_ms),
        }
    }

    pub(super) fn end_wake(&mut self) {
        self.wake = None;
        self.holder = None;
        self.lease += 1;
    }

    /// A new wake if the subscription is idle and has pending work (PROTOCOL §7), naming
    /// `prefer` as its trigger when that stream is pending.
    pub(super) fn wake_if_idle(
        &mut self,
        key: &Key,
        store: &Store,
        prefer: Option<&str>,
    ) -> Vec<Effect> {
        if self.wake.is_some() || self.holder.is_some() {
            return Vec::new();
        }
        let infos = self.infos(key, store);
        let pending: Vec<&StreamInfo> = infos.iter().filter(|i| i.tail > i.acked).collect();
        let Some(first) = pending.first() else {
            return Vec::new();
        };
        let trigger = prefer
            .filter(|p| pending.iter().any(|i| i.path == *p))
            .unwrap_or(&first.path)
            .to_owned();
        self.generation += 1;
        let id = format!("w_{:016x}", rand::random::<u64>());
        self.wake = Some(Wake {
            id: id.clone(),
            snapshot: infos.iter().map(|i| (i.path.clone(), i.tail)).collect(),
        });
        match &self.config.delivery {
            Delivery::Webhook(_) => vec![
                self.start_lease(key),
                Effect::Deliver {
                    key: key.clone(),
                    wake: id,
                },
            ],
            Delivery::PullWake(stream) => vec![Effect::WakeEvent {
                stream: format!("{}{stream}", key.root),
                event: json!({
                    "type": "wake",
                    "subscription_id": key.id,
                    "stream": trigger,
                    "generation": self.generation,
                    "ts": now().as_millis() as u64,
                }),
            }],
        }
    }

    pub(super) fn view(&self, key: &Key, store: &Store, signer: &Signer) -> Value {
        let streams: Vec<Value> = self
            .infos(key, store)
            .iter()
            .map(|i| i.json(false))
            .collect();
        let (webhook, wake_stream) = match &self.config.delivery {
            Delivery::Webhook(url) => (
                json!({
                    "url": url,
                    "signing": {
                        "alg": "ed25519",
                        "kid": signer.kid(),
                        "jwks_url": format!("{}{}__ds/jwks.json", self.origin, key.root),
                    },
                }),
                Value::Null,
            ),
            Delivery::PullWake(stream) => (Value::Null, json!(stream)),
        };
        json!({
            "id": key.id,
            "subscription_id": key.id,
            "type": match self.config.delivery { Delivery::Webhook(_) => "webhook", Delivery::PullWake(_) => "pull-wake" },
            "pattern": self.config.pattern,
            "streams": streams,
            "webhook": webhook,
            "wake_stream": wake_stream,
            "lease_ttl_ms": self.config.lease_ttl_ms,
            "created_at": self.created_at,
            "status": if self.failed { "failed" } else { "active" },
            "description": self.config.description,
        })
    }
}
