//! Forks and soft delete (PROTOCOL §4.2, §5.4) as a client sees them over HTTP, and a fault
//! plan aimed at a fork.

mod common;

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use stream_simulator::fault::{Fault, FaultPlan, RequestKind, Rule};
use stream_simulator::{Simulator, SimulatorHandle};

async fn sim() -> (SimulatorHandle, Client) {
    let sim = Simulator::builder()
        .long_poll_timeout(Duration::from_millis(300))
        .spawn()
        .await
        .unwrap();
    (sim, common::client())
}

/// PUT `path` (a fork of `from` when given) with these extra headers and body.
async fn put(
    c: &Client,
    sim: &SimulatorHandle,
    path: &str,
    from: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> reqwest::Response {
    let mut req = c.put(format!("{}{path}", sim.url()));
    if let Some(from) = from {
        req = req.header("stream-forked-from", from);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(body.to_owned()).send().await.unwrap()
}

async fn post(c: &Client, sim: &SimulatorHandle, path: &str, ct: &str, body: &str) -> StatusCode {
    let r = c.post(format!("{}{path}", sim.url()));
    let r = r.header("content-type", ct).body(body.to_owned());
    r.send().await.unwrap().status()
}

/// The whole stream from the beginning: status and body text.
async fn read(c: &Client, sim: &SimulatorHandle, path: &str) -> (StatusCode, String) {
    let r = c.get(format!("{}{path}?offset=-1", sim.url()));
    let r = r.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn status(c: &Client, sim: &SimulatorHandle, method: reqwest::Method, path: &str) -> u16 {
    let r = c.request(method, format!("{}{path}", sim.url()));
    r.send().await.unwrap().status().as_u16()
}

fn next_offset(r: &reqwest::Response) -> String {
    r.headers()["stream-next-offset"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_fork_holds_the_prefix_then_its_own_appends_and_never_the_sources_later_ones() {
    let (sim, c) = sim().await;
    let ct = [("content-type", "text/plain")];
    let first = put(&c, &sim, "/s", None, &ct, "first").await;
    let mid = next_offset(&first);
    assert_eq!(post(&c, &sim, "/s", "text/plain", "second").await, 204);
    // At the mid offset: only "first" is inherited; no fork header is echoed.
    let at = [("stream-fork-offset", mid.as_str())];
    let fork = put(&c, &sim, "/f", Some("/s"), &at, "").await;
    assert_eq!(fork.status(), StatusCode::CREATED);
    assert!(fork.headers().get("stream-forked-from").is_none());
    assert_eq!(next_offset(&fork), mid, "the fork's tail is its fork point");
    assert_eq!(post(&c, &sim, "/f", "text/plain", "-own").await, 204);
    assert_eq!(post(&c, &sim, "/s", "text/plain", "-source").await, 204);
    assert_eq!(read(&c, &sim, "/f").await.1, "first-own");
    assert_eq!(read(&c, &sim, "/s").await.1, "firstsecond-source");
    // The same offset reads the same inherited data from either stream.
    let from = |p: &str| format!("{}{p}?offset={mid}", sim.url());
    let fork_rest = c
        .get(from("/f"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(fork_rest, "-own");
    // A long-poll at the fork's tail wakes for the fork's appends, not the source's.
    let tail = {
        let r = c.head(format!("{}/f", sim.url())).send().await.unwrap();
        next_offset(&r)
    };
    let waiting = c.get(format!("{}/f?offset={tail}&live=long-poll", sim.url()));
    let waiting = tokio::spawn(waiting.send());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(post(&c, &sim, "/s", "text/plain", "x").await, 204);
    let r = waiting.await.unwrap().unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "the source's append did not wake it"
    );
}

#[tokio::test]
async fn sub_offsets_cut_inside_one_append_and_no_further() {
    let (sim, c) = sim().await;
    let json = [("content-type", "application/json")];
    put(&c, &sim, "/j", None, &json, r#"[{"a":1},{"b":2},{"c":3}]"#).await;
    post(&c, &sim, "/j", "application/json", r#"[{"d":4}]"#).await;
    let zero = "0000000000000000_0000000000000000";
    let at = |sub: &'static str| {
        [
            ("stream-fork-offset", zero),
            ("stream-fork-sub-offset", sub),
        ]
    };
    let two = put(&c, &sim, "/j2", Some("/j"), &at("2"), "").await;
    assert_eq!(two.status(), StatusCode::CREATED);
    let body: Value = serde_json::from_str(&read(&c, &sim, "/j2").await.1).unwrap();
    assert_eq!(body, json!([{"a":1},{"b":2}]));
    // Past the first append (three messages) is past the boundary.
    let four = put(&c, &sim, "/j4", Some("/j"), &at("4"), "").await;
    assert_eq!(four.status(), StatusCode::BAD_REQUEST);
    // Idempotent with the same sub-offset, a conflict with another.
    assert_eq!(
        put(&c, &sim, "/j2", Some("/j"), &at("2"), "")
            .await
            .status(),
        200
    );
    assert_eq!(
        put(&c, &sim, "/j2", Some("/j"), &at("1"), "")
            .await
            .status(),
        409
    );
    // Bytes in binary mode; a malformed or orphaned sub-offset is refused.
    let bin = [("content-type", "application/octet-stream")];
    put(&c, &sim, "/b", None, &bin, "helloworld").await;
    assert_eq!(
        put(&c, &sim, "/b5", Some("/b"), &at("5"), "")
            .await
            .status(),
        201
    );
    assert_eq!(read(&c, &sim, "/b5").await.1, "hello");
    assert_eq!(
        put(&c, &sim, "/b11", Some("/b"), &at("11"), "")
            .await
            .status(),
        400
    );
    assert_eq!(
        put(&c, &sim, "/bx", Some("/b"), &at("-1"), "")
            .await
            .status(),
        400
    );
    let orphan = [("stream-fork-sub-offset", "0")];
    assert_eq!(put(&c, &sim, "/o", None, &orphan, "").await.status(), 400);
}

#[tokio::test]
async fn a_deleted_source_with_forks_is_soft_deleted_and_cleaned_up_with_its_last_fork() {
    let (sim, c) = sim().await;
    let ct = [("content-type", "text/plain")];
    put(&c, &sim, "/a", None, &ct, "a").await;
    put(&c, &sim, "/b", Some("/a"), &[], "b").await;
    put(&c, &sim, "/c", Some("/b"), &[], "c").await;
    use reqwest::Method;
    // The middle of the chain: soft-deleted, its fork still reads everything.
    assert_eq!(status(&c, &sim, Method::DELETE, "/b").await, 204);
    for m in [Method::GET, Method::HEAD, Method::DELETE] {
        assert_eq!(status(&c, &sim, m.clone(), "/b").await, 410, "{m}");
    }
    assert_eq!(post(&c, &sim, "/b", "text/plain", "x").await, 410);
    assert_eq!(put(&c, &sim, "/b", None, &ct, "").await.status(), 409);
    assert_eq!(put(&c, &sim, "/d", Some("/b"), &[], "").await.status(), 409);
    assert_eq!(
        read(&c, &sim, "/c").await,
        (StatusCode::OK, "abc".to_owned())
    );
    // The root too; then the last fork goes, and with it the whole chain.
    assert_eq!(status(&c, &sim, Method::DELETE, "/a").await, 204);
    assert_eq!(status(&c, &sim, Method::GET, "/a").await, 410);
    assert_eq!(status(&c, &sim, Method::DELETE, "/c").await, 204);
    for p in ["/a", "/b", "/c"] {
        assert_eq!(status(&c, &sim, Method::GET, p).await, 404, "{p}");
    }
    // A source whose forks are all deleted lives on, and can be deleted outright.
    put(&c, &sim, "/s", None, &ct, "s").await;
    put(&c, &sim, "/s1", Some("/s"), &[], "").await;
    assert_eq!(status(&c, &sim, Method::DELETE, "/s1").await, 204);
    assert_eq!(read(&c, &sim, "/s").await.1, "s");
    assert_eq!(status(&c, &sim, Method::DELETE, "/s").await, 204);
    assert_eq!(status(&c, &sim, Method::GET, "/s").await, 404);
}

#[tokio::test]
async fn a_fork_takes_the_sources_type_and_lifetime_unless_it_asks_for_its_own() {
    let (sim, c) = sim().await;
    let src = [("content-type", "text/plain"), ("stream-ttl", "3600")];
    put(&c, &sim, "/s", None, &src, "x").await;
    let inherited = put(&c, &sim, "/f", Some("/s"), &[], "").await;
    assert_eq!(inherited.headers()["content-type"], "text/plain");
    assert_eq!(inherited.headers()["stream-ttl"], "3600");
    let own = put(&c, &sim, "/g", Some("/s"), &[("stream-ttl", "60")], "").await;
    assert_eq!(own.headers()["stream-ttl"], "60");
    let json = [("content-type", "application/json")];
    assert_eq!(
        put(&c, &sim, "/h", Some("/s"), &json, "").await.status(),
        409
    );
    assert_eq!(
        put(&c, &sim, "/i", Some("/nothing"), &[], "")
            .await
            .status(),
        404
    );
    let beyond = [("stream-fork-offset", "0000000000000000_0000000000000099")];
    assert_eq!(
        put(&c, &sim, "/j", Some("/s"), &beyond, "").await.status(),
        400
    );
    // A refused fork took no reference: the source deletes outright.
    assert_eq!(status(&c, &sim, reqwest::Method::DELETE, "/g").await, 204);
    assert_eq!(status(&c, &sim, reqwest::Method::DELETE, "/f").await, 204);
    assert_eq!(status(&c, &sim, reqwest::Method::DELETE, "/s").await, 204);
    assert_eq!(status(&c, &sim, reqwest::Method::GET, "/s").await, 404);
}

#[tokio::test]
async fn a_fault_plan_aimed_at_a_fork_acts_on_its_reads_and_the_transcript_names_it() {
    let (sim, c) = sim().await;
    let json = [("content-type", "application/json")];
    let m = json!({"type": "t", "key": "k", "value": {}, "headers": {"operation": "insert"}});
    put(&c, &sim, "/s", None, &json, &m.to_string()).await;
    put(&c, &sim, "/f", Some("/s"), &[], "").await;
    let rule = Rule::new(Fault::Status {
        status: 503,
        retry_after: None,
    })
    .kind(RequestKind::CatchUp)
    .at(1, 1)
    .on("/f");
    sim.set_fault_plan(FaultPlan {
        seed: 0,
        rules: vec![rule],
    });
    sim.clear_transcript();
    assert_eq!(
        read(&c, &sim, "/s").await.0,
        StatusCode::OK,
        "the source is not aimed at"
    );
    assert_eq!(
        read(&c, &sim, "/f").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(read(&c, &sim, "/f").await.0, StatusCode::OK, "once");
    let t = sim.transcript();
    let hit: Vec<_> = t.iter().filter(|x| x.status == 503).collect();
    assert_eq!(hit.len(), 1);
    assert!(hit[0].uri.starts_with("/f?"), "{}", hit[0].uri);
    assert!(
        !hit[0].faults.is_empty(),
        "the exchange names the fault that acted"
    );
}
