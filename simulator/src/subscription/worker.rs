//! What workers and webhook deliveries do to a wake (PROTOCOL §7): callbacks, acks and
//! releases with their fencing, pull-wake claims, lease ends, and delivery outcomes.

use std::time::Duration;

use serde_json::{Value, json};

use super::model::{
    Delivery, Effect, Finish, Key, Notification, Rejection, Report, TOKEN_LIFETIME_SECS, not_found,
    now, tail,
};
use super::record::{StreamInfo, Subscription};
use super::signing::{Claims, TokenError};
use super::{Subscriptions, glob, routes};
use crate::offset::Offset;
use crate::store::Store;

impl Subscriptions {
    /// A worker's callback, ack or release (PROTOCOL §7.1–§7.3): fenced unless its token,
    /// generation and wake are current; acks are all applied or none. `Ok(Some(next_wake))`
    /// for a callback or ack, `Ok(None)` for a release.
    pub(crate) fn finish(
        &self,
        key: &Key,
        finish: Finish,
        token: Option<&str>,
        report: &Report,
        store: &Store,
    ) -> Result<(Option<bool>, Vec<Effect>), Rejection> {
        let mut table = self.lock();
        let sub = table.get_mut(key).ok_or_else(|| not_found(key))?;
        let webhook = matches!(sub.config.delivery, Delivery::Webhook(_));
        if webhook != (finish == Finish::Callback) {
            return Err(Rejection::new(
                400,
                "INVALID_REQUEST",
                match webhook {
                    true => "a webhook subscription finishes a wake through its callback",
                    false => "a pull-wake subscription finishes a wake with ack or release",
                },
            ));
        }
        self.check_token(sub, key, token)?;
        let current = sub.wake.as_ref().is_some_and(|w| w.id == report.wake_id)
            && report.generation == sub.generation
            && (webhook || sub.holder.is_some());
        if !current {
            return Err(Rejection::new(
                409,
                "FENCED",
                "the wake or generation is not the current one",
            ));
        }
        if finish != Finish::Release {
            let mut moves = Vec::new();
            for (stream, offset) in &report.acks {
                moves.push(check_ack(sub, key, stream, offset, store)?);
            }
            for (stream, offset) in moves {
                if let Some(link) = sub.links.get_mut(&stream) {
                    link.acked = offset;
                }
            }
        }
        if report.done || finish == Finish::Release {
            sub.end_wake();
            let effects = sub.wake_if_idle(key, store, None);
            let next = !effects.is_empty();
            return Ok(((finish != Finish::Release).then_some(next), effects));
        }
        Ok((Some(false), vec![sub.start_lease(key)]))
    }

    fn check_token(
        &self,
        sub: &Subscription,
        key: &Key,
        token: Option<&str>,
    ) -> Result<(), Rejection> {
        let opened = token
            .ok_or(TokenError::Invalid)
            .and_then(|t| self.signer.open(t, now().as_secs()));
        match opened {
            Ok(claims) if claims.sub == sub.subject(key) => match claims.generation {
                g if g == sub.generation => Ok(()),
                _ => Err(Rejection::new(
                    409,
                    "FENCED",
                    "the token is for another generation",
                )),
            },
            Err(TokenError::Expired) => {
                Err(Rejection::new(401, "TOKEN_EXPIRED", "the token expired"))
            }
            _ => Err(Rejection::new(
                401,
                "TOKEN_INVALID",
                "a bearer token this server issued for this subscription is required",
            )),
        }
    }

    /// A pull-wake claim (PROTOCOL §7.2): one holder at a time.
    pub(crate) fn claim(
        &self,
        key: &Key,
        worker: &str,
        store: &Store,
    ) -> Result<(Value, Vec<Effect>), Rejection> {
        let mut table = self.lock();
        let sub = table.get_mut(key).ok_or_else(|| not_found(key))?;
        if !matches!(sub.config.delivery, Delivery::PullWake(_)) {
            return Err(Rejection::new(
                400,
                "INVALID_REQUEST",
                "only a pull-wake subscription is claimed",
            ));
        }
        if let Some(holder) = &sub.holder {
            let mut refusal =
                Rejection::new(409, "ALREADY_CLAIMED", "another worker holds the lease");
            refusal.extra.insert("current_holder".into(), json!(holder));
            refusal
                .extra
                .insert("generation".into(), json!(sub.generation));
            return Err(refusal);
        }
        let mut effects = match sub.wake {
            Some(_) => Vec::new(),
            None => sub.wake_if_idle(key, store, None),
        };
        let Some(wake) = &sub.wake else {
            return Err(Rejection::new(
                409,
                "NO_PENDING_WORK",
                "no linked stream has data past its cursor",
            ));
        };
        let wake_id = wake.id.clone();
        sub.holder = Some(worker.to_owned());
        effects.push(sub.start_lease(key));
        let token = self.token(sub, key);
        let streams: Vec<Value> = sub.infos(key, store).iter().map(|i| i.json(true)).collect();
        let body = json!({
            "wake_id": wake_id,
            "generation": sub.generation,
            "token": token,
            "streams": streams,
            "lease_ttl_ms": sub.config.lease_ttl_ms,
        });
        Ok((body, effects))
    }

    fn token(&self, sub: &Subscription, key: &Key) -> String {
        self.signer.token(&Claims {
            sub: sub.subject(key),
            generation: sub.generation,
            exp: now().as_secs() + TOKEN_LIFETIME_SECS,
        })
    }

    /// The lease numbered `lease` ran out: the wake and any claim end, and pending work
    /// wakes again.
    pub(crate) fn lease_ended(&self, key: &Key, lease: u64, store: &Store) -> Vec<Effect> {
        let mut table = self.lock();
        match table.get_mut(key) {
            Some(sub) if sub.lease == lease => {
                sub.end_wake();
                sub.wake_if_idle(key, store, None)
            }
            _ => Vec::new(),
        }
    }

    /// The webhook for `wake`, signed now; `None` once that wake is no longer current.
    pub(crate) fn notification(&self, key: &Key, wake: &str) -> Option<Notification> {
        let table = self.lock();
        let sub = table.get(key)?;
        let current = sub.wake.as_ref().filter(|w| w.id == wake)?;
        let Delivery::Webhook(url) = &sub.config.delivery else {
            return None;
        };
        // The streams as the wake's snapshot saw them, so `done` acknowledges what was shown.
        let streams: Vec<Value> = current
            .snapshot
            .iter()
            .filter_map(|(path, tail)| {
                let link = sub.links.get(path)?;
                let info = StreamInfo {
                    path: path.clone(),
                    explicit: link.explicit,
                    acked: link.acked,
                    tail: *tail,
                };
                Some(info.json(true))
            })
            .collect();
        let body = json!({
            "subscription_id": key.id,
            "wake_id": wake,
            "generation": sub.generation,
            "streams": streams,
            "callback_url": format!("{}{}__ds/subscriptions/{}/callback", sub.origin, key.root, routes::encode(&key.id)),
            "callback_token": self.token(sub, key),
        });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        Some(Notification {
            url: url.clone(),
            signature: self.signer.webhook_signature(&body, now().as_secs()),
            body,
        })
    }

    /// The receiver took the webhook for `wake`; `done` answers for the whole wake.
    pub(crate) fn delivered(
        &self,
        key: &Key,
        wake: &str,
        done: bool,
        store: &Store,
    ) -> Vec<Effect> {
        let mut table = self.lock();
        let Some(sub) = table.get_mut(key) else {
            return Vec::new();
        };
        let Some(current) = sub.wake.as_ref().filter(|w| w.id == wake) else {
            return Vec::new();
        };
        sub.failed = false;
        sub.retries = 0;
        if !done {
            return Vec::new();
        }
        for (path, tail) in current.snapshot.clone() {
            if let Some(link) = sub.links.get_mut(&path) {
                link.acked = link.acked.max(tail);
            }
        }
        sub.end_wake();
        sub.wake_if_idle(key, store, None)
    }

    /// The webhook for `wake` failed: when to try again (PROTOCOL §7.1: exponential from 1 s
    /// to 60 s, 20% jitter), or `None` once the wake is no longer current.
    pub(crate) fn delivery_failed(&self, key: &Key, wake: &str) -> Option<Duration> {
        let mut table = self.lock();
        let sub = table.get_mut(key)?;
        sub.wake.as_ref().filter(|w| w.id == wake)?;
        sub.retries = sub.retries.saturating_add(1);
        sub.failed = true;
        let base = (1000u64 << (sub.retries - 1).min(6)).min(60_000) as f64;
        let jitter = base * 0.2 * (rand::random::<f64>() * 2.0 - 1.0);
        Some(Duration::from_millis((base + jitter) as u64))
    }
}

/// One ack checked against the link: known stream, an offset of this server, no regression,
/// not past the tail.
fn check_ack(
    sub: &Subscription,
    key: &Key,
    stream: &str,
    offset: &str,
    store: &Store,
) -> Result<(String, Offset), Rejection> {
    let invalid =
        |why: &str| Rejection::new(409, "INVALID_OFFSET", format!("ack for {stream:?}: {why}"));
    let stream = glob::normalize(stream);
    let link = sub
        .links
        .get(&stream)
        .ok_or_else(|| invalid("not a stream of this subscription"))?;
    let offset = Offset::parse(offset).ok_or_else(|| invalid("not an offset this server gave"))?;
    if offset < link.acked {
        return Err(invalid("the offset is before the acknowledged one"));
    }
    if offset > tail(store, &key.root, &stream) {
        return Err(invalid("the offset is past the stream's tail"));
    }
    Ok((stream, offset))
}
