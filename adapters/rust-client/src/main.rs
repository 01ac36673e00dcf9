//! The Durable Streams authors' Rust client (`durable-streams` 0.1.0, from
//! `../shared/third-party/durable-streams-client-rust`) behind the adapter protocol, as a
//! subscriber.
//!
//! Transport is the client under test, used as its README shows: `stream(url).read()`,
//! `.offset(..)`, `.live(..)`, `.build()`, then `next_chunk()` until it ends or fails. State is
//! this suite's reference materializer (`state-reference`, under the profile `open` names):
//! every verdict on state is the reference's, so what a case finds is the client's transport
//! (resume offsets, retries, SSE reconnects, closed streams). The glue does what the protocol
//! asks of a consumer and nothing the client should do itself: a reset naming an offset makes
//! it read again from there with a new reader (the client cannot know that rule), given the
//! cursor the old one last had; when the client's iteration ends or fails, the subscription
//! has stopped, and the reason is the client's.
//!
//! The client has no "auto" mode: `auto` and `long-poll` cases long-poll. It does not report a
//! closed stream (no `Stream-Closed` handling), so `closed` is never reached.

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use durable_streams::{Client, LiveMode, Offset};
use serde_json::{Value, json};
use state_reference::{Batch, Collection, Materializer, Profile};

/// One open case: the materializer and what the client reported, behind one lock.
struct Subscription {
    materializer: Materializer,
    up_to_date: bool,
    stop_reason: Option<String>,
    cancelled: bool,
}

type Shared = Arc<Mutex<Subscription>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Subscription> {
    shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the stream at `url` into the subscription until the client stops.
async fn run(shared: Shared, url: String, live: LiveMode) {
    let client = Client::new();
    let stream = client.stream(&url);
    let mut offset = Offset::Beginning;
    // Carried across the adapter's own restarts (after a reset naming an offset), so the new
    // reader echoes the cursor the server last sent, as the client does within one read.
    let mut cursor: Option<String> = None;
    loop {
        let mut builder = stream.read().offset(offset.clone()).live(live.clone());
        if let Some(c) = &cursor {
            builder = builder.cursor(c.clone());
        }
        let mut reader = match builder.build() {
            Ok(reader) => reader,
            Err(e) => return stopped(&shared, format!("{e}")),
        };
        let restart = loop {
            let chunk = match reader.next_chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => {
                    if !matches!(live, LiveMode::Off) {
                        stopped(&shared, "the client's iteration ended".into());
                    }
                    return;
                }
                Err(e) => return stopped(&shared, format!("{e}")),
            };
            let mut s = lock(&shared);
            if s.cancelled {
                return;
            }
            let items = match chunk.data.is_empty() {
                true => Vec::new(),
                false => match serde_json::from_slice::<Value>(&chunk.data) {
                    Ok(Value::Array(items)) => items,
                    Ok(one) => vec![one],
                    Err(e) => {
                        drop(s);
                        return stopped(&shared, format!("a read's body is not JSON: {e}"));
                    }
                },
            };
            let next = chunk.next_offset.to_string();
            s.materializer.apply_batch(Batch {
                items,
                offset: Some(next.clone()),
                up_to_date: chunk.up_to_date,
            });
            match s.materializer.observe().offset {
                // A reset named an offset: read again from there.
                Some(at) if at != next => {
                    s.up_to_date = false;
                    break at;
                }
                _ => s.up_to_date = chunk.up_to_date,
            }
        };
        cursor = reader.cursor().map(str::to_owned);
        reader.close();
        offset = Offset::At(restart);
    }
}

fn stopped(shared: &Shared, reason: String) {
    let mut s = lock(shared);
    if !s.cancelled {
        s.stop_reason = Some(reason);
    }
}

fn reached(s: &Subscription, command: &Value) -> bool {
    let observed = s.materializer.observe();
    match command["until"].as_str() {
        Some("up-to-date") => {
            let want = command["offset"].as_str();
            let at = observed.offset.as_deref();
            s.up_to_date && want.is_none_or(|w| at.is_some_and(|a| a >= w))
        }
        Some("txid") => command["txid"]
            .as_str()
            .is_some_and(|t| observed.txids.iter().any(|seen| seen == t)),
        Some("stopped") => s.stop_reason.is_some(),
        _ => false,
    }
}

fn report(s: &Subscription) -> Value {
    let observed = s.materializer.observe();
    json!({
        "state": observed.state,
        "txids": observed.txids,
        "offset": observed.offset,
        "halted": observed.halted,
    })
}

fn wait(shared: &Shared, command: &Value) -> Value {
    let timeout = command["timeoutMs"].as_u64().unwrap_or(5000);
    let deadline = Instant::now() + Duration::from_millis(timeout);
    loop {
        {
            let s = lock(shared);
            let done = reached(&s, command) || s.stop_reason.is_some();
            if done || Instant::now() >= deadline {
                let mut answer = report(&s);
                answer["reached"] = json!(reached(&s, command));
                answer["upToDate"] = json!(s.up_to_date);
                answer["closed"] = json!(false);
                if let Some(reason) = &s.stop_reason {
                    answer["stopReason"] = json!(reason);
                }
                return answer;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn open(command: &Value) -> Result<Shared, String> {
    let profile = Profile::preset(command["profile"].as_str().unwrap_or("spec-1.0"))
        .map_err(|e| e.to_string())?;
    let collections: Option<Vec<Collection>> = match &command["collections"] {
        Value::Null => None,
        c => Some(serde_json::from_value(c.clone()).map_err(|e| e.to_string())?),
    };
    let materializer =
        Materializer::consumer(&profile, collections.as_deref(), None).map_err(|e| e.to_string())?;
    Ok(Arc::new(Mutex::new(Subscription {
        materializer,
        up_to_date: false,
        stop_reason: None,
        cancelled: false,
    })))
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let mut session: Option<Shared> = None;
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let command: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let cmd = command["cmd"].as_str().unwrap_or_default().to_owned();
        let mut answer = json!({"cmd": cmd, "ok": true});
        match cmd.as_str() {
            "hello" => {
                answer["protocol"] = json!(1);
                answer["implementation"] = json!({"name": "durable-streams (Rust client)", "version": "0.1.0 (durable-streams@82f9963a)"});
                answer["capabilities"] = json!(["subscribe"]);
                answer["profiles"] = json!(["spec-1.0"]);
            }
            "open" => {
                if let Some(old) = session.take() {
                    lock(&old).cancelled = true;
                }
                match open(&command) {
                    Ok(shared) => session = Some(shared),
                    Err(e) => answer = json!({"cmd": cmd, "ok": false, "error": e}),
                }
            }
            "subscribe" => match &session {
                Some(shared) => {
                    let live = match &command["live"] {
                        Value::Bool(false) => LiveMode::Off,
                        Value::String(s) if s == "false" => LiveMode::Off,
                        Value::String(s) if s == "sse" => LiveMode::Sse,
                        _ => LiveMode::LongPoll,
                    };
                    let url = command["url"].as_str().unwrap_or_default().to_owned();
                    runtime.spawn(run(shared.clone(), url, live));
                }
                None => answer = json!({"cmd": cmd, "ok": false, "error": "no open case"}),
            },
            "await" => match &session {
                Some(shared) => {
                    let waited = wait(shared, &command);
                    for (k, v) in waited.as_object().into_iter().flatten() {
                        answer[k] = v.clone();
                    }
                }
                None => answer = json!({"cmd": cmd, "ok": false, "error": "no open case"}),
            },
            "state" => match &session {
                Some(shared) => {
                    let reported = report(&lock(shared));
                    for (k, v) in reported.as_object().into_iter().flatten() {
                        answer[k] = v.clone();
                    }
                }
                None => answer = json!({"cmd": cmd, "ok": false, "error": "no open case"}),
            },
            "bye" => {}
            other => {
                answer = json!({"cmd": other, "ok": false, "error": "not supported by this adapter"});
            }
        }
        let mut out = stdout.lock();
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
        if cmd == "bye" {
            break;
        }
    }
    runtime.shutdown_background();
}
