//! `check`: lint what is in a stream. Every message of a stream URL (read from its beginning,
//! as the server serves it) or of a JSON dump (an array of messages, as written) is judged
//! twice: as written, and as served, since servers add `headers.offset` to change messages
//! (the upstream reference server does) and the schema forbids that field.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use state_reference::{Message, ParseRules, Profile};

/// Pages read from a URL at most (a runaway server cannot keep `check` going forever).
const MAX_PAGES: usize = 100_000;

/// Lints `target` (a URL or a file) under `profile`; exit 1 when a message is invalid as
/// written.
pub fn run(target: &str, profile: &Profile) -> Result<ExitCode> {
    let (written, served) = if target.starts_with("http://") || target.starts_with("https://") {
        let served = read_stream(target)?;
        (served.iter().map(as_written).collect(), served)
    } else {
        let text = std::fs::read(target).with_context(|| format!("cannot read {target}"))?;
        let written =
            match serde_json::from_slice(&text).with_context(|| format!("{target} is not JSON"))? {
                Value::Array(items) => items,
                _ => bail!("{target}: expected a JSON array of messages"),
            };
        let served = written
            .iter()
            .enumerate()
            .map(|(i, m)| as_served(m, i))
            .collect();
        (written, served)
    };
    let rules = ParseRules::from_profile(profile);
    let verdict = |m: &Value| match Message::parse(m.clone(), &rules) {
        Ok(_) => "valid".to_owned(),
        Err(r) => format!("invalid: {}: {r}", r.requirement),
    };
    let mut invalid = (0, 0);
    for (i, (w, s)) in written.iter().zip(&served).enumerate() {
        let (vw, vs) = (verdict(w), verdict(s));
        invalid.0 += usize::from(vw != "valid");
        invalid.1 += usize::from(vs != "valid");
        println!("#{i}\n  as written: {vw}\n  as served:  {vs}");
    }
    println!(
        "{} messages under {}: {} invalid as written, {} invalid as served",
        written.len(),
        profile.name,
        invalid.0,
        invalid.1
    );
    Ok(match invalid.0 {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// Change messages without the `headers.offset` a server added.
fn as_written(message: &Value) -> Value {
    let mut m = message.clone();
    if m.pointer("/headers/operation").is_some()
        && let Some(h) = m.get_mut("headers").and_then(Value::as_object_mut)
    {
        h.remove("offset");
    }
    m
}

/// A change message as a server that adds `headers.offset` would serve it.
fn as_served(message: &Value, index: usize) -> Value {
    let mut m = message.clone();
    if m.pointer("/headers/operation").is_some()
        && let Some(h) = m.get_mut("headers").and_then(Value::as_object_mut)
    {
        h.insert("offset".into(), format!("{index:016}").into());
    }
    m
}

/// Every message of the stream at `url`, read from the beginning until up to date.
fn read_stream(url: &str) -> Result<Vec<Value>> {
    crate::live::runtime().block_on(async {
        let http = reqwest::Client::new();
        let (mut offset, mut out) = ("-1".to_owned(), Vec::new());
        for _ in 0..MAX_PAGES {
            let response = http
                .get(format!("{url}?offset={offset}"))
                .send()
                .await
                .with_context(|| format!("cannot read {url}"))?;
            let status = response.status();
            if !status.is_success() {
                bail!("{url} answered {status}");
            }
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let next = header("stream-next-offset")
                .with_context(|| format!("{url} answered without Stream-Next-Offset"))?;
            let up_to_date = header("stream-up-to-date").is_some();
            let body = response.bytes().await.context("the read broke off")?;
            if !body.is_empty() {
                match serde_json::from_slice(&body).context("a read's body is not JSON")? {
                    Value::Array(items) => out.extend(items),
                    _ => bail!("{url} is not a JSON-mode stream (a read is not an array)"),
                }
            }
            if up_to_date || next == offset {
                return Ok(out);
            }
            offset = next;
        }
        bail!("{url} was still not up to date after {MAX_PAGES} reads")
    })
}
