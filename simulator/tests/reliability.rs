//! Reliability under faults: concurrent appenders and retrying readers (catch-up, long-poll,
//! SSE) while a generated fault plan breaks reads. Every acknowledged message is read exactly
//! once by every reader, in the same order, with offsets strictly increasing.
//!
//! Cases: 6 by default; `RELIABILITY_CASES=N` runs more.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use proptest::prelude::*;
use reqwest::Client;
use serde_json::{Value, json};
use stream_simulator::Simulator;
use stream_simulator::fault::{Fault, FaultPlan, RequestKind, Rule};

const WRITERS: usize = 3;
const PER_WRITER: usize = 12;
const ATTEMPTS: usize = 3000;

fn read_fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::ResetBeforeHeaders),
        (1usize..300).prop_map(|bytes| Fault::CutBody { bytes }),
        (0usize..6).prop_map(|message| Fault::CutInsideMessage { message }),
        (1usize..5).prop_map(|events| Fault::SseCloseAfter { events }),
        (1usize..5).prop_map(|events| Fault::SseAbortAfter { events }),
        (0u64..3, 0u64..3).prop_map(|(ms, jitter_ms)| Fault::Delay { ms, jitter_ms }),
        prop::sample::select(vec![500u16, 502, 503, 429]).prop_map(|status| Fault::Status {
            status,
            retry_after: None
        }),
        (1usize..4).prop_map(|messages| Fault::Page { messages }),
    ]
}

fn plans() -> impl Strategy<Value = FaultPlan> {
    let rule = (read_fault(), 1u64..6, 1u64..4)
        .prop_map(|(f, nth, times)| Rule::new(f).kind(RequestKind::Read).at(nth, times));
    (any::<u64>(), prop::collection::vec(rule, 1..4))
        .prop_map(|(seed, rules)| FaultPlan { seed, rules })
}

fn next_offset(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("stream-next-offset")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads with plain GETs (`live` = None) or long-polls, retrying from the last good offset.
async fn http_reader(
    c: Client,
    url: String,
    live: Option<&'static str>,
    want: usize,
) -> Result<Vec<(String, Value)>, String> {
    let (mut from, mut got) = ("-1".to_owned(), Vec::new());
    for _ in 0..ATTEMPTS {
        if got.len() >= want {
            return Ok(got);
        }
        let mode = live.map_or(String::new(), |l| format!("&live={l}"));
        let Ok(r) = c.get(format!("{url}?offset={from}{mode}")).send().await else {
            continue;
        };
        if r.status() != 200 {
            tokio::task::yield_now().await;
            continue;
        }
        let Some(next) = next_offset(&r) else {
            return Err("200 without Stream-Next-Offset".into());
        };
        let Ok(body) = r.bytes().await else { continue }; // cut: discard, retry
        let Ok(items) = serde_json::from_slice::<Vec<Value>>(&body) else {
            continue;
        };
        if !items.is_empty() && next <= from && from != "-1" {
            return Err(format!("offset went from {from} to {next}"));
        }
        got.extend(items.into_iter().map(|m| (next.clone(), m)));
        from = next;
    }
    Err(format!("gave up with {} of {want} messages", got.len()))
}

/// Reads over SSE, committing a data event only with its control event, reconnecting from
/// the last committed offset whenever the connection ends or breaks.
async fn sse_reader(c: Client, url: String, want: usize) -> Result<Vec<(String, Value)>, String> {
    let (mut from, mut got) = ("-1".to_owned(), Vec::new());
    for _ in 0..ATTEMPTS {
        if got.len() >= want {
            return Ok(got);
        }
        let Ok(r) = c.get(format!("{url}?offset={from}&live=sse")).send().await else {
            continue;
        };
        if r.status() != 200 {
            tokio::task::yield_now().await;
            continue;
        }
        let mut body = r.bytes_stream();
        let (mut buf, mut pending) = (String::new(), Vec::new());
        while let Ok(Some(Ok(chunk))) =
            tokio::time::timeout(Duration::from_secs(5), body.next()).await
        {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                let kind = event
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or_default();
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .collect();
                let data = data.join("\n");
                match kind {
                    "data" => {
                        pending = serde_json::from_str::<Vec<Value>>(&data)
                            .map_err(|e| format!("bad data event: {e}"))?;
                    }
                    "control" => {
                        let control: Value =
                            serde_json::from_str(&data).map_err(|e| format!("bad control: {e}"))?;
                        let next = control["streamNextOffset"]
                            .as_str()
                            .ok_or("control without offset")?
                            .to_owned();
                        if !pending.is_empty() && from != "-1" && next <= from {
                            return Err(format!("offset went from {from} to {next}"));
                        }
                        got.extend(pending.drain(..).map(|m| (next.clone(), m)));
                        from = next;
                        if got.len() >= want {
                            return Ok(got);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Err(format!("gave up with {} of {want} messages", got.len()))
}

fn check(name: &str, got: &[(String, Value)], acked: usize) -> Result<Vec<Value>, String> {
    let messages: Vec<Value> = got.iter().map(|(_, m)| m.clone()).collect();
    if messages.len() != acked {
        return Err(format!(
            "{name}: read {} messages, {acked} acknowledged",
            messages.len()
        ));
    }
    for w in 0..WRITERS {
        let order: Vec<u64> = messages
            .iter()
            .filter(|m| m["w"] == w)
            .filter_map(|m| m["i"].as_u64())
            .collect();
        if order != (0..PER_WRITER as u64).collect::<Vec<_>>() {
            return Err(format!("{name}: writer {w} read as {order:?}"));
        }
    }
    Ok(messages)
}

async fn scenario(plan: FaultPlan) -> Result<(), String> {
    let sim = Simulator::builder()
        .long_poll_timeout(Duration::from_millis(100))
        .sse_lifetime(Duration::from_millis(500))
        .spawn()
        .await
        .map_err(|e| e.to_string())?;
    let c = common::client();
    let url = format!("{}/v1/stream/r", sim.url());
    c.put(&url)
        .header("content-type", "application/json")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    sim.set_fault_plan(plan);
    let want = WRITERS * PER_WRITER;
    let readers = (
        tokio::spawn(http_reader(c.clone(), url.clone(), None, want)),
        tokio::spawn(http_reader(c.clone(), url.clone(), Some("long-poll"), want)),
        tokio::spawn(sse_reader(c.clone(), url.clone(), want)),
    );
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move {
                let mut acked = 0;
                for i in 0..PER_WRITER {
                    let body = json!({"w": w, "i": i}).to_string();
                    let r = c
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    acked += usize::from(r.is_ok_and(|r| r.status() == 204));
                }
                acked
            })
        })
        .collect();
    let mut acked = 0;
    for w in writers {
        acked += w.await.map_err(|e| e.to_string())?;
    }
    if acked != want {
        return Err(format!(
            "only {acked} of {want} appends acknowledged (appends are not faulted)"
        ));
    }
    let join = |r: Result<Result<Vec<(String, Value)>, String>, tokio::task::JoinError>| {
        r.map_err(|e| e.to_string()).and_then(|r| r)
    };
    let catch_up = check("catch-up", &join(readers.0.await)?, acked)?;
    let long_poll = check("long-poll", &join(readers.1.await)?, acked)?;
    let sse = check("sse", &join(readers.2.await)?, acked)?;
    if catch_up != long_poll || catch_up != sse {
        return Err("readers saw different orders".into());
    }
    sim.shutdown().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("RELIABILITY_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(6),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_acknowledged_message_is_read_exactly_once_in_order(plan in plans()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let outcome = rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), scenario(plan.clone())).await });
        match outcome {
            Ok(result) => prop_assert!(result.is_ok(), "{:?} under {}", result, serde_json::to_string(&plan).unwrap()),
            Err(_) => prop_assert!(false, "scenario timed out under {}", serde_json::to_string(&plan).unwrap()),
        }
    }
}
