//! Load generator for `bench/simulator.sh` (a benchmark, not a test): the same client drives
//! any Durable Streams server, so servers compare side by side.
//!
//! `load URL SCENARIO`, where SCENARIO is one of
//! - `appends`: 16 connections, 20,000 single-message POSTs in all → requests/s
//! - `batches`: 4 connections, 1,000 POSTs of 100 messages each → messages/s
//! - `catch-up`: a 100,000-message stream read from the start, page by page → messages/s
//! - `tail`: 16 connections, 4,000 reads of the newest entry of a 100,000-entry stream → requests/s
//!
//! Prints one line: `SCENARIO RATE UNIT`.

use std::time::Instant;

use reqwest::Client;

const MESSAGE: &str =
    r#"{"type":"item","key":"k","value":{"n":1,"name":"load"},"headers":{"operation":"insert"}}"#;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, scenario] = args.as_slice() else {
        return Err("usage: load URL appends|batches|catch-up|tail".into());
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
            let last = head
                .headers()
                .get("stream-next-offset")
                .and_then(|v| v.to_str().ok())
                .ok_or("HEAD without offset")?
                .to_owned();
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
        other => return Err(format!("unknown scenario {other}").into()),
    };
    println!("{scenario} {rate:.0} {unit}");
    Ok(())
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

/// Reads the whole stream from the start; returns messages per second.
async fn catch_up(c: &Client, stream: &str) -> Result<f64, Error> {
    let start = Instant::now();
    let (mut from, mut count) = ("-1".to_owned(), 0usize);
    for _ in 0..100_000 {
        let r = c.get(format!("{stream}?offset={from}")).send().await?;
        let next = r
            .headers()
            .get("stream-next-offset")
            .and_then(|v| v.to_str().ok())
            .ok_or("no offset")?
            .to_owned();
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
