//! Load generator for `bench/simulator.sh` (a benchmark, not a test): the same client drives
//! any Durable Streams server, so servers compare side by side.
//!
//! `load URL SCENARIO`, where SCENARIO is one of
//! - `appends`: 16 connections, 20,000 single-message POSTs in all → requests/s
//! - `batches`: 4 connections, 1,000 POSTs of 100 messages each → messages/s
//! - `catch-up`: a 100,000-message stream read from the start, page by page → messages/s
//! - `tail`: 16 connections, 4,000 reads of the newest entry of a 100,000-entry stream → requests/s
//! - `fanout-lp`, `fanout-sse`: 100 readers following one stream (long-poll with the cursor
//!   echoed, or SSE) while 40 single-message appends arrive 25 ms apart; the latency from each
//!   append's request to each reader holding its message → milliseconds, p50 and p99
//!
//! Prints one line: `SCENARIO VALUE UNIT` (fan-out: `SCENARIO P50 ms P99`).

use std::time::Instant;

use reqwest::Client;

const MESSAGE: &str =
    r#"{"type":"item","key":"k","value":{"n":1,"name":"load"},"headers":{"operation":"insert"}}"#;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, scenario] = args.as_slice() else {
        return Err("usage: load URL appends|batches|catch-up|tail|fanout-lp|fanout-sse".into());
    };
    // reqwest is built with rustls and no provider (for the runner's `check`): install ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = Client::builder().pool_max_idle_per_host(32).build()?;
    let stream = format!("{url}/v1/stream/load-{scenario}-{}", std::process::id());
    let created = c
        .put(&stream)
        .header("content-type", "application/json")
        .send()
        .await?;
    if !created.status().is_success() {
        return Err(format!("create: {}", created.status()).into());
    }
    let (rate, unit) = match scenario.as_str() {
        "appends" => (
            parallel(&c, &stream, 16, 20_000, Request::Append(MESSAGE.to_owned())).await?,
            "requests/s",
        ),
        "batches" => {
            let batch = format!("[{}]", vec![MESSAGE; 100].join(","));
            (
                parallel(&c, &stream, 4, 1_000, Request::Append(batch)).await? * 100.0,
                "messages/s",
            )
        }
        "catch-up" => {
            fill(&c, &stream, 100_000).await?;
            (catch_up(&c, &stream).await?, "messages/s")
        }
        "tail" => {
            // 100,000 entries; each read asks for the newest one, so the server has to find
            // an offset near the end, not just notice it is at the tail.
            fill(&c, &stream, 99_000).await?;
            let batch = format!("[{}]", vec![MESSAGE; 999].join(","));
            c.post(&stream)
                .header("content-type", "application/json")
                .body(batch)
                .send()
                .await?;
            let head = c.head(&stream).send().await?;
            let last = next_offset(&head).ok_or("HEAD without offset")?;
            c.post(&stream)
                .header("content-type", "application/json")
                .body(MESSAGE)
                .send()
                .await?;
            (
                parallel(&c, &stream, 16, 4_000, Request::Read(last)).await?,
                "requests/s",
            )
        }
        "fanout-lp" | "fanout-sse" => {
            let (p50, p99) = fan_out(&c, &stream, scenario == "fanout-sse").await?;
            println!("{scenario} {p50:.2} ms {p99:.2}");
            return Ok(());
        }
        other => return Err(format!("unknown scenario {other}").into()),
    };
    println!("{scenario} {rate:.0} {unit}");
    Ok(())
}

/// Readers in a fan-out scenario, appends, and the pause between appends.
const READERS: usize = 100;
const FAN_OUT_APPENDS: usize = 40;
const APPEND_EVERY: std::time::Duration = std::time::Duration::from_millis(25);

/// `READERS` readers follow the (empty) stream from its tail; `FAN_OUT_APPENDS` messages,
/// each numbered in `value.n`, are appended one at a time. Returns the p50 and p99 of the
/// latencies from an append's request to a reader holding its message, in ms.
async fn fan_out(c: &Client, stream: &str, sse: bool) -> Result<(f64, f64), Error> {
    let start = Instant::now();
    let tail = c.get(format!("{stream}?offset=-1")).send().await?;
    let from = next_offset(&tail).ok_or("no offset")?;
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (c, stream, from) = (c.clone(), stream.to_owned(), from.clone());
            tokio::spawn(async move {
                match sse {
                    true => follow_sse(&c, &stream, &from, start).await,
                    false => follow_long_poll(&c, &stream, &from, start).await,
                }
            })
        })
        .collect();
    // Let every reader's first request arrive before the first append.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut sent_ms = Vec::with_capacity(FAN_OUT_APPENDS);
    for n in 0..FAN_OUT_APPENDS {
        let body = format!(
            r#"{{"type":"item","key":"k{n}","value":{{"n":{n}}},"headers":{{"operation":"insert"}}}}"#
        );
        sent_ms.push(start.elapsed().as_secs_f64() * 1e3);
        let r = c
            .post(stream)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        if !r.status().is_success() {
            return Err(format!("append: {}", r.status()).into());
        }
        tokio::time::sleep(APPEND_EVERY).await;
    }
    let mut latencies = Vec::with_capacity(READERS * FAN_OUT_APPENDS);
    for reader in readers {
        let received = tokio::time::timeout(std::time::Duration::from_secs(30), reader)
            .await
            .map_err(|_| "a reader did not get every message within 30 s")???;
        latencies.extend(received.iter().map(|(n, at)| at - sent_ms[*n]));
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.50), at(0.99)))
}

/// `(n, ms since start)` for each numbered message, until all `FAN_OUT_APPENDS` are held.
type Received = Vec<(usize, f64)>;

/// Every `value.n` in a JSON body (an array of messages, or SSE data).
fn numbers(text: &str) -> Vec<usize> {
    text.match_indices(r#""n":"#)
        .filter_map(|(i, key)| {
            let rest = &text[i + key.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

async fn follow_long_poll(
    c: &Client,
    stream: &str,
    from: &str,
    start: Instant,
) -> Result<Received, Error> {
    let (mut offset, mut cursor, mut got) = (from.to_owned(), None::<String>, Vec::new());
    while got.len() < FAN_OUT_APPENDS {
        let mut url = format!("{stream}?offset={offset}&live=long-poll");
        if let Some(cur) = &cursor {
            url.push_str(&format!("&cursor={cur}"));
        }
        let r = c.get(url).send().await?;
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if let Some(next) = header("stream-next-offset") {
            offset = next;
        }
        cursor = header("stream-cursor").or(cursor);
        let body = r.text().await?;
        let at = start.elapsed().as_secs_f64() * 1e3;
        got.extend(numbers(&body).into_iter().map(|n| (n, at)));
    }
    Ok(got)
}

async fn follow_sse(
    c: &Client,
    stream: &str,
    from: &str,
    start: Instant,
) -> Result<Received, Error> {
    let mut r = c
        .get(format!("{stream}?offset={from}&live=sse"))
        .send()
        .await?;
    let (mut got, mut pending) = (Vec::new(), String::new());
    while got.len() < FAN_OUT_APPENDS {
        let Some(chunk) = r.chunk().await? else {
            return Err("the SSE stream ended early".into());
        };
        let at = start.elapsed().as_secs_f64() * 1e3;
        pending.push_str(&String::from_utf8_lossy(&chunk));
        // Whole events only: a number cut between two chunks is read with the next one.
        if let Some(end) = pending.rfind("\n\n") {
            got.extend(numbers(&pending[..end]).into_iter().map(|n| (n, at)));
            pending.drain(..end + 2);
        }
    }
    Ok(got)
}

#[derive(Clone)]
enum Request {
    Append(String),
    Read(String),
}

/// `total` requests over `connections` concurrent workers; returns requests per second.
async fn parallel(
    c: &Client,
    stream: &str,
    connections: usize,
    total: usize,
    req: Request,
) -> Result<f64, Error> {
    let start = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|w| {
            let (c, stream, req) = (c.clone(), stream.to_owned(), req.clone());
            let n = total / connections + usize::from(w < total % connections);
            tokio::spawn(async move {
                for _ in 0..n {
                    let r = match &req {
                        Request::Append(body) => {
                            c.post(&stream)
                                .header("content-type", "application/json")
                                .body(body.clone())
                                .send()
                                .await?
                        }
                        Request::Read(offset) => {
                            c.get(format!("{stream}?offset={offset}")).send().await?
                        }
                    };
                    if !r.status().is_success() {
                        return Err::<(), Error>(format!("status {}", r.status()).into());
                    }
                    r.bytes().await?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Appends `messages` messages in batches of 1,000.
async fn fill(c: &Client, stream: &str, messages: usize) -> Result<(), Error> {
    let batch = format!("[{}]", vec![MESSAGE; 1000].join(","));
    for _ in 0..messages / 1000 {
        let r = c
            .post(stream)
            .header("content-type", "application/json")
            .body(batch.clone())
            .send()
            .await?;
        if !r.status().is_success() {
            return Err(format!("fill: {}", r.status()).into());
        }
    }
    Ok(())
}

/// The offset a response says to read from next (`Stream-Next-Offset`).
fn next_offset(r: &reqwest::Response) -> Option<String> {
    let value = r.headers().get("stream-next-offset")?;
    value.to_str().ok().map(str::to_owned)
}

/// Reads the whole stream from the start; returns messages per second.
async fn catch_up(c: &Client, stream: &str) -> Result<f64, Error> {
    let start = Instant::now();
    let (mut from, mut count) = ("-1".to_owned(), 0usize);
    for _ in 0..100_000 {
        let r = c.get(format!("{stream}?offset={from}")).send().await?;
        let next = next_offset(&r).ok_or("no offset")?;
        let done = r.headers().contains_key("stream-up-to-date");
        let body = r.bytes().await?;
        count += serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(&body)?.len();
        from = next;
        if done {
            break;
        }
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}
