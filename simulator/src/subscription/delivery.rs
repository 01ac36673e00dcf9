//! Carrying out [`Effect`]s outside the table's lock: webhook requests with their retries,
//! lease timers, and wake events appended to wake streams.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use super::{Effect, Key};
use crate::shared::Shared;
use crate::store::AppendRequest;

/// How long one webhook request may take before it counts as failed.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn apply(shared: &Arc<Shared>, effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::WakeEvent { stream, event } => {
                let request = AppendRequest {
                    content_type: Some("application/json".into()),
                    close: false,
                    stream_seq: None,
                    producer: None,
                    body: Bytes::from(event.to_string()),
                };
                // The application creates the wake stream (PROTOCOL §7.2); without it (or
                // with it closed) the event has nowhere to go and a claim still finds the wake.
                let _ = shared.store.append(&stream, request);
            }
            Effect::LeaseTimer { key, lease, after } => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let effects = shared.subscriptions.lease_ended(&key, lease, &shared.store);
                    apply(&shared, effects);
                });
            }
            Effect::Deliver { key, wake } => {
                tokio::spawn(deliver(shared.clone(), key, wake));
            }
        }
    }
}

/// Sends the webhook for `wake` until the receiver takes it or the wake is over (its lease
/// ran out, a callback finished it, the subscription went).
async fn deliver(shared: Arc<Shared>, key: Key, wake: String) {
    while let Some(note) = shared.subscriptions.notification(&key, &wake) {
        match post(note).await {
            Some(done) => {
                let effects = shared
                    .subscriptions
                    .delivered(&key, &wake, done, &shared.store);
                apply(&shared, effects);
                return;
            }
            None => match shared.subscriptions.delivery_failed(&key, &wake) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return,
            },
        }
    }
}

/// `Some(done)` when the receiver answered 2xx, `done` being its `{"done": true}`.
async fn post(note: super::Notification) -> Option<bool> {
    let response = client()?
        .post(&note.url)
        .header("content-type", "application/json")
        .header("webhook-signature", note.signature)
        .body(note.body)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body = response.bytes().await.unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    Some(answer.get("done") == Some(&serde_json::Value::Bool(true)))
}

/// One client for every webhook: no redirects (a redirect could lead past the URL checks).
fn client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // reqwest is built without a TLS provider of its own (see Cargo.toml).
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(WEBHOOK_TIMEOUT)
                .build()
                .ok()
        })
        .as_ref()
}
