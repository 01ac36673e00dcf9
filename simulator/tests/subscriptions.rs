//! Subscriptions (PROTOCOL §6, §7) as a worker sees them over HTTP: a webhook receiver on
//! loopback that checks each signature against the published JWK Set, callbacks and their
//! fencing, a retry after a failed delivery, and pull-wake through a wake stream.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::Client;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde_json::{Value, json};
use stream_simulator::{Simulator, SimulatorHandle};
use tokio::sync::mpsc;

/// A webhook as the receiver got it: the signature header and the raw body.
struct Received {
    signature: String,
    body: String,
}

/// A receiver on 127.0.0.1 that answers each webhook with the next of `answers` (status and
/// body), the last one repeated, and hands every request to the test.
async fn receiver(answers: Vec<(u16, Value)>) -> (String, mpsc::UnboundedReceiver<Received>) {
    type Shared = (
        Arc<Mutex<Vec<(u16, Value)>>>,
        mpsc::UnboundedSender<Received>,
    );
    async fn hook(
        State((answers, tx)): State<Shared>,
        headers: axum::http::HeaderMap,
        body: String,
    ) -> (axum::http::StatusCode, String) {
        let signature = headers
            .get("webhook-signature")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let _ = tx.send(Received { signature, body });
        let mut answers = answers.lock().unwrap();
        let (status, body) = match answers.len() {
            1 => answers[0].clone(),
            _ => answers.remove(0),
        };
        (
            axum::http::StatusCode::from_u16(status).unwrap(),
            body.to_string(),
        )
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state((Arc::new(Mutex::new(answers)), tx));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>, within: Duration) -> Received {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("a webhook in time")
        .expect("the receiver is running")
}

async fn send(
    c: &Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = c.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(c: &Client, url: String) -> (u16, Value) {
    send(c, reqwest::Method::GET, url, None, None).await
}

/// Creates a JSON stream at `url` with `body` (201).
async fn create_stream(c: &Client, url: String, body: &str) {
    let created = c.put(url).header("content-type", "application/json");
    let status = created.body(body.to_owned()).send().await.unwrap().status();
    assert_eq!(status, 201);
}

fn at(sim: &SimulatorHandle, path: &str) -> String {
    format!("{}/v1/stream/{path}", sim.url())
}

/// Whether `signature` (`t=…,kid=…,ed25519=…`) signs `body` with a key of `jwks`.
fn verifies(signature: &str, body: &str, jwks: &Value) -> bool {
    let fields: Vec<(&str, &str)> = signature
        .split(',')
        .filter_map(|f| f.split_once('='))
        .collect();
    let field = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let (Some(t), Some(kid), Some(sig)) = (field("t"), field("kid"), field("ed25519")) else {
        return false;
    };
    let Some(key) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
    else {
        return false;
    };
    let x = B64.decode(key["x"].as_str().unwrap()).unwrap();
    let signed = format!("{t}.{body}");
    UnparsedPublicKey::new(&ED25519, x)
        .verify(signed.as_bytes(), &B64.decode(sig).unwrap())
        .is_ok()
}

#[tokio::test]
async fn a_signed_webhook_then_a_callback_that_acks_and_its_replay_is_fenced() {
    let sim = Simulator::start().await.unwrap();
    let c = common::client();
    let (hook, mut webhooks) = receiver(vec![(200, json!({}))]).await;
    let config = json!({"type": "webhook", "pattern": "events/*", "webhook": {"url": hook}, "lease_ttl_ms": 5000});
    let (status, created) = send(
        &c,
        reqwest::Method::PUT,
        at(&sim, "__ds/subscriptions/s1"),
        None,
        Some(config.clone()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        send(
            &c,
            reqwest::Method::PUT,
            at(&sim, "__ds/subscriptions/s1"),
            None,
            Some(config)
        )
        .await
        .0,
        200
    );
    let jwks_url = created["webhook"]["signing"]["jwks_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(jwks_url, at(&sim, "__ds/jwks.json"));
    let response = c.get(&jwks_url).send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let jwks: Value = response.json().await.unwrap();

    create_stream(&c, at(&sim, "events/a"), r#"{"n":1}"#).await;
    let webhook = next(&mut webhooks, Duration::from_secs(5)).await;
    assert!(
        verifies(&webhook.signature, &webhook.body, &jwks),
        "{}",
        webhook.signature
    );
    assert!(!verifies(
        &webhook.signature,
        &webhook.body.replace("events/a", "events/b"),
        &jwks
    ));
    let note: Value = serde_json::from_str(&webhook.body).unwrap();
    assert_eq!(note["subscription_id"], "s1");
    let stream = &note["streams"][0];
    assert_eq!(
        (stream["path"].as_str(), stream["has_pending"].as_bool()),
        (Some("events/a"), Some(true))
    );

    let report = json!({"wake_id": note["wake_id"], "generation": note["generation"], "acks": [{"stream": "events/a", "offset": stream["tail_offset"]}], "done": true});
    let callback = note["callback_url"].as_str().unwrap().to_owned();
    let token = note["callback_token"].as_str().unwrap();
    assert_eq!(
        send(
            &c,
            reqwest::Method::POST,
            callback.clone(),
            None,
            Some(report.clone())
        )
        .await
        .0,
        401
    );
    let (status, answer) = send(
        &c,
        reqwest::Method::POST,
        callback.clone(),
        Some(token),
        Some(report.clone()),
    )
    .await;
    assert_eq!(
        (status, answer),
        (200, json!({"ok": true, "next_wake": false}))
    );
    let (status, replay) = send(
        &c,
        reqwest::Method::POST,
        callback,
        Some(token),
        Some(report),
    )
    .await;
    assert_eq!((status, &replay["error"]["code"]), (409, &json!("FENCED")));
    let (_, view) = get(&c, at(&sim, "__ds/subscriptions/s1")).await;
    assert_eq!(view["streams"][0]["acked_offset"], stream["tail_offset"]);

    assert_eq!(
        send(
            &c,
            reqwest::Method::DELETE,
            at(&sim, "__ds/subscriptions/s1"),
            None,
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(get(&c, at(&sim, "__ds/subscriptions/s1")).await.0, 404);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_a_done_answer_acks_the_wake() {
    let sim = Simulator::start().await.unwrap();
    let c = common::client();
    let (hook, mut webhooks) = receiver(vec![(500, json!({})), (200, json!({"done": true}))]).await;
    let config = json!({"type": "webhook", "streams": ["jobs/1"], "webhook": {"url": hook}});
    assert_eq!(
        send(
            &c,
            reqwest::Method::PUT,
            at(&sim, "__ds/subscriptions/r"),
            None,
            Some(config)
        )
        .await
        .0,
        201
    );
    create_stream(&c, at(&sim, "jobs/1"), "[1,2]").await;
    let first: Value =
        serde_json::from_str(&next(&mut webhooks, Duration::from_secs(5)).await.body).unwrap();
    let (_, view) = get(&c, at(&sim, "__ds/subscriptions/r")).await;
    assert_eq!(view["status"], "failed");
    // The first retry comes after 1 s ± 20% (PROTOCOL §7.1), for the same wake.
    let second: Value =
        serde_json::from_str(&next(&mut webhooks, Duration::from_secs(5)).await.body).unwrap();
    assert_eq!(second["wake_id"], first["wake_id"]);
    let tail = second["streams"][0]["tail_offset"].clone();
    for _ in 0..100 {
        let (_, view) = get(&c, at(&sim, "__ds/subscriptions/r")).await;
        if view["streams"][0]["acked_offset"] == tail {
            assert_eq!(view["status"], "active");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the done answer never acked {tail}");
}

#[tokio::test]
async fn pull_wake_writes_wake_events_and_one_worker_holds_the_claim() {
    let sim = Simulator::start().await.unwrap();
    let c = common::client();
    create_stream(&c, at(&sim, "wake/pool"), "[]").await;
    let config = json!({"type": "pull-wake", "pattern": "events/**", "wake_stream": "wake/pool"});
    assert_eq!(
        send(
            &c,
            reqwest::Method::PUT,
            at(&sim, "__ds/subscriptions/p"),
            None,
            Some(config)
        )
        .await
        .0,
        201
    );
    let claim = |worker: &str| {
        send(
            &c,
            reqwest::Method::POST,
            at(&sim, "__ds/subscriptions/p/claim"),
            None,
            Some(json!({"worker": worker})),
        )
    };
    assert_eq!(claim("w1").await.1["error"]["code"], "NO_PENDING_WORK");

    create_stream(&c, at(&sim, "events/deep/x"), "{}").await;
    let (_, events) = get(&c, at(&sim, "wake/pool?offset=-1")).await;
    assert_eq!(events[0]["type"], "wake");
    assert_eq!(
        (
            events[0]["subscription_id"].as_str(),
            events[0]["stream"].as_str()
        ),
        (Some("p"), Some("events/deep/x"))
    );

    let (status, claimed) = claim("w1").await;
    assert_eq!(status, 200, "{claimed}");
    let (status, busy) = claim("w2").await;
    assert_eq!(
        (status, &busy["error"]["current_holder"]),
        (409, &json!("w1"))
    );
    let token = claimed["token"].as_str().unwrap();
    let ack = json!({"wake_id": claimed["wake_id"], "generation": claimed["generation"], "acks": [{"stream": "events/deep/x", "offset": claimed["streams"][0]["tail_offset"]}], "done": true});
    let (status, answer) = send(
        &c,
        reqwest::Method::POST,
        at(&sim, "__ds/subscriptions/p/ack"),
        Some(token),
        Some(ack.clone()),
    )
    .await;
    assert_eq!(
        (status, answer),
        (200, json!({"ok": true, "next_wake": false}))
    );
    let (status, stale) = send(
        &c,
        reqwest::Method::POST,
        at(&sim, "__ds/subscriptions/p/release"),
        Some(token),
        Some(ack),
    )
    .await;
    assert_eq!((status, &stale["error"]["code"]), (409, &json!("FENCED")));
}

#[tokio::test]
async fn the_reserved_segment_is_never_a_stream_and_unsafe_webhooks_are_refused() {
    let sim = Simulator::start().await.unwrap();
    let c = common::client();
    let (status, body) = send(
        &c,
        reqwest::Method::PUT,
        at(&sim, "__ds/other"),
        None,
        Some(json!([])),
    )
    .await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("NOT_FOUND")));
    for url in [
        "http://10.0.0.1/hook",
        "https://169.254.169.254/x",
        "http://example.com/hook",
    ] {
        let config = json!({"type": "webhook", "pattern": "a/*", "webhook": {"url": url}});
        let (status, body) = send(
            &c,
            reqwest::Method::PUT,
            at(&sim, "__ds/subscriptions/u"),
            None,
            Some(config),
        )
        .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("WEBHOOK_URL_REJECTED")),
            "{url}"
        );
    }
    for config in [
        json!({"type": "webhook", "webhook": {"url": "http://127.0.0.1:1/h"}}),
        json!({"type": "pull-wake", "pattern": "a/*"}),
        json!({"type": "carrier-pigeon", "pattern": "a/*"}),
        json!({"type": "pull-wake", "pattern": "a/*", "wake_stream": "w", "lease_ttl_ms": 10}),
    ] {
        let (status, body) = send(
            &c,
            reqwest::Method::PUT,
            at(&sim, "__ds/subscriptions/u"),
            None,
            Some(config.clone()),
        )
        .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("INVALID_REQUEST")),
            "{config}"
        );
    }
}
