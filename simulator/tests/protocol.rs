//! The simulator answers bad input with the protocol's status code and a short reason, and
//! never loses or reorders an acknowledged message.

mod common;

use std::time::Duration;

use reqwest::{Client, StatusCode};
use stream_simulator::{Simulator, SimulatorHandle};

async fn sim() -> (SimulatorHandle, Client) {
    let sim = Simulator::builder()
        .long_poll_timeout(Duration::from_millis(200))
        .body_limit(1024)
        .spawn()
        .await
        .unwrap();
    (sim, common::client())
}

async fn put(c: &Client, url: &str, content_type: &str, body: &'static str) -> reqwest::Response {
    c.put(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn post(
    c: &Client,
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    c.post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test]
async fn bad_input_gets_the_protocols_status_code_and_a_reason() {
    let (sim, c) = sim().await;
    let url = format!("{}/v1/stream/bad", sim.url());
    assert_eq!(
        put(&c, &url, "application/json", "").await.status(),
        StatusCode::CREATED
    );

    // A non-ASCII Stream-Seq is refused, not taken as absent (which skipped the ordering
    // check, issue #13); nothing is appended.
    let seq = reqwest::header::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .header("stream-seq", seq)
        .body(r#"{"a": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "non-ASCII Stream-Seq");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("stream-seq must be visible ASCII")
    );
    assert!(
        sim.log("/v1/stream/bad", false)
            .unwrap()
            .messages
            .is_empty()
    );

    let invalid_json = post(&c, &url, "application/json", "{not json").await;
    assert_eq!(invalid_json.status(), StatusCode::BAD_REQUEST);
    assert!(invalid_json.text().await.unwrap().contains("invalid JSON"));
    assert_eq!(
        post(&c, &url, "application/json", "[]").await.status(),
        StatusCode::BAD_REQUEST,
        "empty array"
    );
    assert_eq!(
        post(&c, &url, "application/json", "").await.status(),
        StatusCode::BAD_REQUEST,
        "empty body"
    );
    assert_eq!(
        post(&c, &url, "application/json", vec![b'1'; 2048])
            .await
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        post(&c, &url, "text/plain", "x").await.status(),
        StatusCode::CONFLICT,
        "content type mismatch"
    );
    assert_eq!(
        put(&c, &url, "text/plain", "").await.status(),
        StatusCode::CONFLICT,
        "conflicting create"
    );

    for offset in [
        "abc",
        "1",
        "0000000000000000_000000000000000x",
        "0000000000000000_9999999999999999",
    ] {
        let r = c
            .get(format!("{url}?offset={offset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "offset {offset}");
    }
    let r = c.get(format!("{url}?live=long-poll")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "live read without offset"
    );
    let r = c
        .get(format!("{url}?offset=-1&live=sometimes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "unknown live mode");

    let r = c
        .put(format!("{url}-ttl"))
        .header("stream-ttl", "03600")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "TTL with a leading zero"
    );
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .header("producer-id", "p")
        .body("1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "partial producer headers"
    );

    let missing = format!("{}/v1/stream/missing", sim.url());
    assert_eq!(
        c.get(&missing).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&c, &missing, "application/json", "1").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.delete(&url).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "deleted"
    );
    assert_eq!(
        c.delete(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "deleted twice"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn acknowledged_messages_are_read_back_in_order_across_pages() {
    let sim = Simulator::builder().page_bytes(64).spawn().await.unwrap();
    let c = common::client();
    let url = format!("{}/v1/stream/order", sim.url());
    put(&c, &url, "application/json", "").await;
    let mut offsets = Vec::new();
    for i in 0..50 {
        let r = post(
            &c,
            &url,
            "application/json",
            format!(r#"[{{"i":{i}}},{{"j":{i}}}]"#),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        offsets.push(header(&r, "stream-next-offset").unwrap());
    }
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "offsets strictly increase"
    );
    let (mut from, mut seen, mut pages) = ("-1".to_owned(), Vec::new(), 0);
    loop {
        let r = c.get(format!("{url}?offset={from}")).send().await.unwrap();
        let up_to_date = header(&r, "stream-up-to-date").is_some();
        from = header(&r, "stream-next-offset").unwrap();
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        seen.extend(items);
        pages += 1;
        if up_to_date {
            break;
        }
        assert!(pages < 500, "paging does not terminate");
    }
    assert!(pages > 1, "a 64-byte page limit splits the read");
    let expected: Vec<serde_json::Value> = (0..50)
        .flat_map(|i| [serde_json::json!({"i": i}), serde_json::json!({"j": i})])
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(&from, offsets.last().unwrap());
}

#[tokio::test]
async fn long_poll_wakes_on_append_and_times_out_with_204() {
    let (sim, c) = sim().await;
    let url = format!("{}/v1/stream/live", sim.url());
    let created = put(&c, &url, "text/plain", "").await;
    let tail = header(&created, "stream-next-offset").unwrap();
    let timed_out = c
        .get(format!("{url}?offset={tail}&live=long-poll"))
        .send()
        .await
        .unwrap();
    assert_eq!(timed_out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(&timed_out, "stream-up-to-date").as_deref(),
        Some("true")
    );
    assert!(header(&timed_out, "stream-cursor").is_some());

    let waiting = tokio::spawn({
        let (c, url) = (c.clone(), url.clone());
        async move {
            c.get(format!("{url}?offset={tail}&live=long-poll"))
                .send()
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    post(&c, &url, "text/plain", "hello").await;
    let woke = waiting.await.unwrap();
    assert_eq!(woke.status(), StatusCode::OK);
    assert_eq!(woke.text().await.unwrap(), "hello");
    sim.shutdown().await;
}

#[tokio::test]
async fn many_live_readers_all_receive_one_append() {
    let sim = Simulator::builder()
        .long_poll_timeout(Duration::from_secs(10))
        .spawn()
        .await
        .unwrap();
    let c = common::client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("{}/v1/stream/fanout", sim.url());
    let tail = header(&put(&c, &url, "text/plain", "").await, "stream-next-offset").unwrap();
    let readers: Vec<_> = (0..200)
        .map(|_| {
            let (c, url, tail) = (c.clone(), url.clone(), tail.clone());
            tokio::spawn(async move {
                c.get(format!("{url}?offset={tail}&live=long-poll"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    post(&c, &url, "text/plain", "news").await;
    for r in readers {
        let text = tokio::time::timeout(Duration::from_secs(10), r)
            .await
            .expect("a reader hung")
            .unwrap();
        assert_eq!(text, "news");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_waiting_long_poll_is_in_flight_until_answered() {
    let (sim, c) = sim().await;
    sim.create_json_stream("/w").unwrap();
    let url = format!("{}/w?offset=-1", sim.url());
    let tail = c.get(&url).send().await.unwrap();
    let next = tail.headers()["stream-next-offset"]
        .to_str()
        .unwrap()
        .to_owned();
    let poll = format!("{}/w?offset={next}&live=long-poll", sim.url());
    let waiting = tokio::spawn({
        let c = c.clone();
        async move { c.get(&poll).send().await.unwrap().status() }
    });
    let mut seen = false;
    for _ in 0..100 {
        if sim
            .in_flight()
            .iter()
            .any(|(m, u)| m == "GET" && u.contains("live=long-poll"))
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(seen, "the waiting long-poll never showed as in flight");
    sim.append_json(
        "/w",
        r#"[{"type":"t","key":"k","value":1,"headers":{"operation":"insert"}}]"#,
    )
    .unwrap();
    assert_eq!(waiting.await.unwrap(), 200);
    assert!(sim.in_flight().is_empty(), "{:?}", sim.in_flight());
    sim.shutdown().await;
}
