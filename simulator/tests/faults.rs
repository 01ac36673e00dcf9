//! Each fault family of the catalogue, as a client sees it and as the transcript records it.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use state_reference::{Batch, Materializer, Profile};
use stream_simulator::fault::{Fault, FaultPlan, RequestKind, Rule};
use stream_simulator::store::Action;
use stream_simulator::{Simulator, SimulatorHandle};

const STREAM: &str = "/v1/stream/f";

/// A simulator with one JSON stream holding `n` inserts of type `t`.
async fn with_stream(n: usize) -> (SimulatorHandle, Client, String) {
    let sim = Simulator::builder()
        .long_poll_timeout(Duration::from_millis(300))
        .spawn()
        .await
        .unwrap();
    let c = common::client();
    let url = format!("{}{STREAM}", sim.url());
    c.put(&url)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    for i in 0..n {
        let m = json!({"type": "t", "key": format!("k{i}"), "value": {"i": i}, "headers": {"operation": "insert"}});
        c.post(&url)
            .header("content-type", "application/json")
            .body(m.to_string())
            .send()
            .await
            .unwrap();
    }
    (sim, c, url)
}

async fn get(c: &Client, url: impl reqwest::IntoUrl) -> reqwest::Response {
    c.get(url).send().await.unwrap()
}

fn plan(rules: Vec<Rule>) -> FaultPlan {
    FaultPlan { seed: 42, rules }
}

/// The state the reference materializes when it reads the stream from the start like a
/// client: page by page, restarting where a reset says.
async fn materialized(c: &Client, url: &str) -> Value {
    let mut m = Materializer::new(Profile::default_profile());
    let mut from = "-1".to_owned();
    for _ in 0..50 {
        let r = get(c, format!("{url}?offset={from}")).await;
        let next = r.headers()["stream-next-offset"]
            .to_str()
            .unwrap()
            .to_owned();
        let up_to_date = r.headers().contains_key("stream-up-to-date");
        m.apply_batch(Batch {
            items: r.json_like().await,
            offset: Some(next.clone()),
            up_to_date,
        });
        let committed = m.observe().offset.unwrap_or_default();
        if committed == next && up_to_date {
            break;
        }
        from = committed;
    }
    serde_json::to_value(m.observe().state).unwrap()
}

trait JsonLike {
    async fn json_like(self) -> Vec<Value>;
}

impl JsonLike for reqwest::Response {
    async fn json_like(self) -> Vec<Value> {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}

#[tokio::test]
async fn transport_reset_before_headers_and_body_cuts() {
    let (sim, c, url) = with_stream(5).await;
    sim.set_fault_plan(plan(vec![
        Rule::new(Fault::ResetBeforeHeaders)
            .kind(RequestKind::CatchUp)
            .at(1, 1),
        Rule::new(Fault::CutBody { bytes: 30 })
            .kind(RequestKind::CatchUp)
            .at(2, 1),
        Rule::new(Fault::CutInsideMessage { message: 2 })
            .kind(RequestKind::CatchUp)
            .at(3, 1),
    ]));
    sim.clear_transcript();
    assert!(
        c.get(format!("{url}?offset=-1")).send().await.is_err(),
        "no response at all"
    );
    let cut = get(&c, format!("{url}?offset=-1")).await;
    assert_eq!(cut.status(), StatusCode::OK);
    assert!(cut.bytes().await.is_err(), "the body breaks off");
    let inside = get(&c, format!("{url}?offset=-1")).await;
    assert!(inside.bytes().await.is_err());
    let whole = get(&c, format!("{url}?offset=-1")).await.json_like().await;
    assert_eq!(whole.len(), 5, "the fourth read is served whole");

    let t = sim.transcript();
    assert_eq!(
        (t[0].status, t[0].cut.as_ref().map(|c| c.how)),
        (0, Some("reset-before-headers"))
    );
    assert_eq!(
        t[1].cut.as_ref().map(|c| (c.how, c.after_bytes)),
        Some(("cut-body", 30))
    );
    assert_eq!(t[1].response_body.text.len(), 30);
    let body = &t[2].response_body.text;
    let full = t[3].response_body.text.clone();
    let third = full.match_indices("\"k2\"").next().unwrap().0;
    assert!(
        body.len() > third - 20 && body.len() < full.len(),
        "cut inside message 2: {body}"
    );
    assert!(t[3].cut.is_none() && t[3].finished);
}

/// Issue #13: a reset or a cut aimed at a response without a body (a 204 append, a HEAD, a
/// 204 long-poll, a DELETE) drops the connection; hyper never polls such a body, so a fault
/// that waited for the body would silently not happen.
#[tokio::test]
async fn resets_and_cuts_of_body_less_responses_drop_the_connection() {
    let (sim, c, url) = with_stream(1).await;
    let tail = sim.log(STREAM, false).unwrap().meta.tail;
    sim.set_fault_plan(plan(vec![
        Rule::new(Fault::ResetBeforeHeaders)
            .kind(RequestKind::Append)
            .at(1, 1),
        Rule::new(Fault::CutBody { bytes: 5 })
            .kind(RequestKind::Head)
            .at(1, 1),
        Rule::new(Fault::ResetBeforeHeaders)
            .kind(RequestKind::LongPoll)
            .at(1, 1),
        Rule::new(Fault::CutBody { bytes: 1 })
            .kind(RequestKind::Delete)
            .at(1, 1),
    ]));
    sim.clear_transcript();
    let m = json!({"type": "t", "key": "k9", "value": {}, "headers": {"operation": "insert"}});
    let append = c
        .post(&url)
        .header("content-type", "application/json")
        .body(m.to_string())
        .send()
        .await;
    assert!(append.is_err(), "the 204 append is never answered");
    // The append was applied before its connection dropped: the store has it, the client
    // never heard (the ambiguity a retrying producer must handle).
    assert_eq!(sim.log(STREAM, false).unwrap().messages.len(), 2);
    assert!(c.head(&url).send().await.is_err(), "nor the HEAD");
    let poll = c
        .get(format!("{url}?offset={tail}&live=long-poll"))
        .send()
        .await;
    assert!(poll.is_err(), "nor the long-poll");
    assert!(c.delete(&url).send().await.is_err(), "nor the DELETE");

    let t = sim.transcript();
    assert_eq!(t.len(), 4);
    for x in &t {
        assert_eq!(x.status, 0, "{} {}: no status was sent", x.method, x.uri);
        assert!(x.cut.is_some() && x.faults.iter().all(|f| x.fault_acted(f)));
    }
}

/// A fault that finds nothing to act on is listed on its exchange but did not act.
#[tokio::test]
async fn a_cut_past_the_end_of_the_body_did_not_act() {
    let (sim, c, url) = with_stream(2).await;
    let past = Fault::CutInsideMessage { message: 7 };
    let long = Fault::CutBody { bytes: 1 << 20 };
    sim.set_fault_plan(plan(vec![
        Rule::new(past.clone()).kind(RequestKind::CatchUp).at(1, 1),
        Rule::new(long.clone()).kind(RequestKind::CatchUp).at(2, 1),
    ]));
    sim.clear_transcript();
    for _ in 0..2 {
        assert_eq!(
            get(&c, format!("{url}?offset=-1"))
                .await
                .json_like()
                .await
                .len(),
            2
        );
    }
    let t = sim.transcript();
    assert!(t[0].faults.contains(&past) && !t[0].fault_acted(&past));
    assert!(t[1].faults.contains(&long) && !t[1].fault_acted(&long));
}

/// SSE events as (kind, data) pairs from a response body, and whether it ended cleanly.
async fn sse_events(r: reqwest::Response) -> (Vec<(String, String)>, bool) {
    let mut text = String::new();
    let mut body = r.bytes_stream();
    let mut clean = true;
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("sse stalled")
    {
        match chunk {
            Ok(b) => text.push_str(&String::from_utf8_lossy(&b)),
            Err(_) => {
                clean = false;
                break;
            }
        }
    }
    let events = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let kind = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_default()
                .to_owned();
            let data: Vec<&str> = e.lines().filter_map(|l| l.strip_prefix("data:")).collect();
            (kind, data.join("\n"))
        })
        .collect();
    (events, clean)
}

#[tokio::test]
async fn transport_sse_clean_close_and_abort_after_k_events() {
    let (sim, c, url) = with_stream(3).await;
    sim.set_fault_plan(plan(vec![
        Rule::new(Fault::SseCloseAfter { events: 1 })
            .kind(RequestKind::Sse)
            .at(1, 1),
        Rule::new(Fault::SseAbortAfter { events: 2 })
            .kind(RequestKind::Sse)
            .at(2, 1),
        Rule::new(Fault::Page { messages: 1 }).kind(RequestKind::Sse),
    ]));
    let (events, clean) = sse_events(get(&c, format!("{url}?offset=-1&live=sse")).await).await;
    assert!(clean, "a clean close");
    assert_eq!(
        events.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["data"],
        "closed before the control event"
    );
    let (events, clean) = sse_events(get(&c, format!("{url}?offset=-1&live=sse")).await).await;
    assert!(!clean, "an abort");
    assert_eq!(
        events.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["data", "control"]
    );
    let t = sim.transcript();
    let cuts: Vec<_> = t
        .iter()
        .filter_map(|e| e.cut.as_ref().map(|c| c.how))
        .collect();
    assert_eq!(cuts, ["sse-close", "sse-abort"]);
}

#[tokio::test]
async fn status_faults_answer_with_the_injected_code_for_n_requests() {
    let (sim, c, url) = with_stream(1).await;
    sim.set_fault_plan(plan(vec![
        Rule::new(Fault::Status {
            status: 503,
            retry_after: Some(2),
        })
        .kind(RequestKind::Read)
        .at(1, 2),
        Rule::new(Fault::Status {
            status: 410,
            retry_after: None,
        })
        .kind(RequestKind::Read)
        .at(4, 1),
    ]));
    let statuses: Vec<(u16, Option<String>)> =
        futures_util::future::join_all((0..5).map(|_| async {
            let r = get(&c, format!("{url}?offset=-1")).await;
            (
                r.status().as_u16(),
                r.headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned()),
            )
        }))
        .await;
    let mut codes: Vec<u16> = statuses.iter().map(|s| s.0).collect();
    codes.sort();
    assert_eq!(codes, [200, 200, 410, 503, 503]);
    assert!(
        statuses
            .iter()
            .filter(|s| s.0 == 503)
            .all(|s| s.1.as_deref() == Some("2"))
    );
}

#[tokio::test]
async fn pagination_pages_and_empty_long_polls() {
    let (sim, c, url) = with_stream(5).await;
    sim.set_fault_plan(plan(vec![
        Rule::new(Fault::Page { messages: 2 }).kind(RequestKind::CatchUp),
        Rule::new(Fault::EmptyLongPoll).kind(RequestKind::LongPoll),
    ]));
    let (mut from, mut sizes, mut up_to_date) = ("-1".to_owned(), Vec::new(), Vec::new());
    for _ in 0..10 {
        let r = get(&c, format!("{url}?offset={from}")).await;
        up_to_date.push(r.headers().contains_key("stream-up-to-date"));
        from = r.headers()["stream-next-offset"]
            .to_str()
            .unwrap()
            .to_owned();
        sizes.push(r.json_like().await.len());
        if *up_to_date.last().unwrap() {
            break;
        }
    }
    assert_eq!(
        (sizes, up_to_date),
        (vec![2, 2, 1], vec![false, false, true])
    );
    let started = std::time::Instant::now();
    let r = get(&c, format!("{url}?offset={from}&live=long-poll")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "answered without waiting for the timeout"
    );
}

#[tokio::test]
async fn state_level_actions_keep_the_materialized_state() {
    let (sim, c, url) = with_stream(4).await;
    c.post(&url)
        .header("content-type", "application/json")
        .body(json!({"type": "t", "key": "k1", "headers": {"operation": "delete"}}).to_string())
        .send()
        .await
        .unwrap();
    let before = materialized(&c, &url).await;
    assert_eq!(before["t"].as_object().unwrap().len(), 3);
    let old = get(&c, format!("{url}?offset=-1")).await.headers()["stream-next-offset"]
        .to_str()
        .unwrap()
        .to_owned();

    sim.act(
        STREAM,
        &Action::Reset {
            offset: true,
            snapshot: true,
            skip: Vec::new(),
        },
    )
    .unwrap();
    assert_eq!(
        materialized(&c, &url).await,
        before,
        "reset + snapshot restores the same state"
    );
    sim.act(STREAM, &Action::Snapshot).unwrap();
    assert_eq!(materialized(&c, &url).await, before);
    sim.act(STREAM, &Action::Compact).unwrap();
    assert_eq!(
        get(&c, format!("{url}?offset={old}")).await.status(),
        StatusCode::GONE
    );
    let after = get(&c, format!("{url}?offset=-1")).await.json_like().await;
    assert_eq!(
        after[0]["headers"]["control"], "snapshot-start",
        "history starts at the snapshot"
    );
    assert_eq!(materialized(&c, &url).await, before);

    let items: Vec<Value> = {
        sim.act(
            STREAM,
            &Action::Reset {
                offset: true,
                snapshot: false,
                skip: Vec::new(),
            },
        )
        .unwrap();
        get(&c, format!("{url}?offset=-1")).await.json_like().await
    };
    let reset = items.last().unwrap();
    let tail = c.head(&url).send().await.unwrap().headers()["stream-next-offset"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        reset["headers"]["offset"].as_str(),
        Some(tail.as_str()),
        "the reset names the offset right after itself"
    );
}

/// A reset that skips messages names the offset past them: a reader that honours it never
/// applies them (the reference's materialized state leaves them out, and so does a snapshot).
#[tokio::test]
async fn a_reset_can_name_an_offset_further_on_than_itself() {
    let (sim, c, url) = with_stream(2).await;
    let skipped =
        json!({"type": "t", "key": "ghost", "value": {}, "headers": {"operation": "insert"}});
    sim.act(
        STREAM,
        &Action::Reset {
            offset: true,
            snapshot: false,
            skip: vec![skipped.clone(), skipped.clone()],
        },
    )
    .unwrap();
    let after =
        json!({"type": "t", "key": "real", "value": {}, "headers": {"operation": "insert"}});
    let tail_before = sim.log(STREAM, false).unwrap().meta.tail;
    sim.append_json(STREAM, &after.to_string()).unwrap();
    let log = sim.log(STREAM, false).unwrap();
    let reset = log
        .messages
        .iter()
        .find(|m| m.data.starts_with(b"{\"headers\":{\"control\":\"reset\""))
        .unwrap();
    let named: Value = serde_json::from_slice(&reset.data).unwrap();
    assert_eq!(
        named["headers"]["offset"].as_str().unwrap(),
        tail_before.to_string(),
        "the reset names the offset after the two skipped messages"
    );
    assert_eq!(log.messages.len(), 2 + 1 + 2 + 1);
    let state = materialized(&c, &url).await;
    assert_eq!(state, json!({"t": {"real": {}}}));
    sim.act(STREAM, &Action::Snapshot).unwrap();
    let last_snapshot: Vec<Value> = get(&c, format!("{url}?offset=-1")).await.json_like().await;
    assert!(
        !last_snapshot[6..].iter().any(|m| m["key"] == "ghost"),
        "the snapshot leaves out what the reset skipped: {last_snapshot:?}"
    );
}

#[tokio::test]
async fn served_form_adds_each_messages_own_offset() {
    let (sim, c, url) = with_stream(3).await;
    sim.set_fault_plan(plan(vec![Rule::new(Fault::ServedOffsets)]));
    let first = get(&c, format!("{url}?offset=-1")).await.json_like().await;
    let offsets: Vec<&str> = first
        .iter()
        .map(|m| m["headers"]["offset"].as_str().unwrap())
        .collect();
    let second = get(&c, format!("{url}?offset={}", offsets[1]))
        .await
        .json_like()
        .await;
    assert_eq!(
        second[0]["key"], "k1",
        "each offset is where its own message starts"
    );
    assert!(offsets.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn served_form_writes_an_sse_data_event_one_message_per_line() {
    let (sim, c, url) = with_stream(3).await;
    sim.set_fault_plan(plan(vec![
        Rule::new(Fault::SseMultiLineData).kind(RequestKind::Sse),
        Rule::new(Fault::SseCloseAfter { events: 2 }).kind(RequestKind::Sse),
    ]));
    let r = get(&c, format!("{url}?offset=-1&live=sse")).await;
    let (events, _) = sse_events(r).await;
    let data = &events[0];
    assert_eq!(data.0, "data");
    // "[", one line per message, "]": joined with newlines it is the page's JSON array.
    let lines: Vec<&str> = data.1.lines().collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!((lines[0], lines[4]), ("[", "]"));
    let items: Vec<Value> = serde_json::from_str(&data.1).unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(events[1].0, "control");
    let t = sim.transcript();
    assert!(t.iter().any(|x| x.fault_acted(&Fault::SseMultiLineData)));
}

#[tokio::test]
async fn lifecycle_close_and_delete() {
    let (sim, c, url) = with_stream(1).await;
    sim.act(STREAM, &Action::Close).unwrap();
    let r = get(&c, format!("{url}?offset=-1")).await;
    assert_eq!(
        r.headers()
            .get("stream-closed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    sim.act(STREAM, &Action::Delete).unwrap();
    assert_eq!(get(&c, &url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(sim.act(STREAM, &Action::Delete).unwrap_err().status, 404);
}

#[tokio::test]
async fn control_api_sets_plans_reports_transcripts_and_acts() {
    let (sim, c, url) = with_stream(2).await;
    let control = format!("{}/__sim", sim.url());
    let r = c
        .put(format!("{control}/plan"))
        .body(json!({"seed": 1, "rules": [{"fault": "status", "status": 502, "stream": STREAM, "kind": "catch-up", "nth": 1, "times": 1}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get(&c, format!("{url}?offset=-1")).await.status(),
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        get(&c, format!("{url}?offset=-1")).await.status(),
        StatusCode::OK
    );
    let transcript: Vec<Value> = get(&c, format!("{control}/transcript"))
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<u64> = transcript
        .iter()
        .rev()
        .take(2)
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 502]);
    let acted: Value = c
        .post(format!("{control}/actions"))
        .body(json!({"stream": STREAM, "action": "snapshot"}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(acted["streamNextOffset"].is_string());
    let bad = c
        .put(format!("{control}/plan"))
        .body("{\"rules\": 3}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        get(&c, format!("{control}/nope")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_plan_places_state_level_actions_at_a_request_number() {
    let (sim, c, url) = with_stream(2).await;
    let before = materialized(&c, &url).await;
    sim.set_fault_plan(plan(vec![
        Rule::new(Fault::Act {
            act: Action::Reset {
                offset: false,
                snapshot: true,
                skip: Vec::new(),
            },
        })
        .kind(RequestKind::CatchUp)
        .at(2, 1),
    ]));
    let first = get(&c, format!("{url}?offset=-1")).await.json_like().await;
    let second = get(&c, format!("{url}?offset=-1")).await.json_like().await;
    assert_eq!(first.len(), 2);
    assert_eq!(
        second[2]["headers"]["control"], "reset",
        "the reset lands before the second read"
    );
    assert_eq!(second.last().unwrap()["headers"]["control"], "snapshot-end");
    assert_eq!(materialized(&c, &url).await, before);
    let plan_json: Value = get(&c, format!("{}/__sim/plan", sim.url()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        plan_json["rules"][0]["act"]["action"], "reset",
        "the plan is plain data: {plan_json}"
    );
}
