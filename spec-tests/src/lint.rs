//! `check`: lint what is in a stream. Every message of a stream URL (read from its beginning,
//! as the server serves it) or of a JSON dump (an array of messages, as written) is judged
//! twice: as written, and as served, since servers add `headers.offset` to change messages
//! (the upstream reference server does) and the schema forbids that field.

use std::time::Duration;

use serde_json::Value;
use state_reference::{Message, ParseRules, Profile};

/// Pages read from a URL at most (a runaway server cannot keep `check` going forever).
const MAX_PAGES: usize = 100_000;

/// Why a target could not be linted.
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("cannot read {target}: {reason}")]
    Read { target: String, reason: String },
    #[error("{target}: {reason}")]
    NotMessages { target: String, reason: String },
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
}

fn not_messages(target: &str, reason: impl std::fmt::Display) -> LintError {
    LintError::NotMessages {
        target: target.to_owned(),
        reason: reason.to_string(),
    }
}

/// Each message's verdict as written and as served (`None`: valid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linted {
    pub as_written: Option<String>,
    pub as_served: Option<String>,
}

/// How a stream URL is read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The longest wait for a connection, and for each read to make progress.
    pub timeout: Duration,
    /// PEM certificates to trust instead of the system's roots (a private CA, a self-signed
    /// server).
    pub ca_certificates: Option<Vec<u8>>,
    /// Accept any certificate: no verification at all (for a test server only).
    pub insecure: bool,
}

impl ReadOptions {
    /// The HTTP client these options describe.
    fn client(&self) -> Result<reqwest::Client, String> {
        let mut builder = crate::runtime::http_client()
            .connect_timeout(self.timeout)
            .read_timeout(self.timeout)
            .tls_danger_accept_invalid_certs(self.insecure);
        if let Some(pem) = &self.ca_certificates {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("--cacert: not PEM certificates: {e}"))?;
            if certs.is_empty() {
                return Err("--cacert: no certificate in the file".into());
            }
            builder = builder.tls_certs_only(certs);
        }
        builder.build().map_err(|e| describe(&e))
    }
}

/// Lints `target` (a URL or a file) under `profile`, message by message. A URL is read as
/// `options` say, and at most [`crate::input::MAX_INPUT_BYTES`] in all.
pub fn lint(
    target: &str,
    profile: &Profile,
    options: &ReadOptions,
) -> Result<Vec<Linted>, LintError> {
    let (written, served) = if target.starts_with("http://") || target.starts_with("https://") {
        let served = read_stream(target, options)?;
        (served.iter().map(as_written).collect(), served)
    } else {
        let text = crate::input::read(std::path::Path::new(target))?;
        let Value::Array(written) = serde_json::from_slice(&text)
            .map_err(|e| not_messages(target, format!("not JSON: {e}")))?
        else {
            return Err(not_messages(target, "expected a JSON array of messages"));
        };
        let served = written
            .iter()
            .enumerate()
            .map(|(i, m)| as_served(m, i))
            .collect();
        (written, served)
    };
    let rules = ParseRules::from_profile(profile);
    // A rejection names its requirement itself (`SP-5.1-KEY-NONEMPTY at /key: …`).
    let verdict = |m: &Value| {
        Message::parse(m.clone(), &rules)
            .err()
            .map(|r| r.to_string())
    };
    Ok(written
        .iter()
        .zip(&served)
        .map(|(w, s)| Linted {
            as_written: verdict(w),
            as_served: verdict(s),
        })
        .collect())
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

/// `url` with its `offset` query parameter set to `offset`, every other parameter kept.
fn at_offset(url: &reqwest::Url, offset: &str) -> reqwest::Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "offset")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("offset", offset);
    out
}

/// Every message of the stream at `url`, read from the beginning until up to date.
fn read_stream(url: &str, options: &ReadOptions) -> Result<Vec<Value>, LintError> {
    let read = |reason: String| LintError::Read {
        target: url.to_owned(),
        reason,
    };
    let base = reqwest::Url::parse(url).map_err(|e| read(format!("not a URL: {e}")))?;
    crate::runtime::runtime().block_on(async {
        let http = options.client().map_err(read)?;
        let (mut offset, mut out) = ("-1".to_owned(), Vec::new());
        let mut total: u64 = 0;
        for _ in 0..MAX_PAGES {
            let mut response = http
                .get(at_offset(&base, &offset))
                .send()
                .await
                .map_err(|e| read(describe(&e)))?;
            let status = response.status();
            if !status.is_success() {
                return Err(read(format!("it answered {status}")));
            }
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let next = header("stream-next-offset")
                .ok_or_else(|| read("it answered without Stream-Next-Offset".into()))?;
            let up_to_date = header("stream-up-to-date").is_some();
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| read(format!("the read broke off: {}", describe(&e))))?
            {
                total += chunk.len() as u64;
                if total > crate::input::MAX_INPUT_BYTES {
                    return Err(read(format!(
                        "the stream holds more than {} MiB, the most `check` reads",
                        crate::input::MAX_INPUT_BYTES >> 20
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            if !body.is_empty() {
                match serde_json::from_slice(&body)
                    .map_err(|e| not_messages(url, format!("a read's body is not JSON: {e}")))?
                {
                    Value::Array(items) => out.extend(items),
                    _ => {
                        return Err(not_messages(
                            url,
                            "not a JSON-mode stream (a read is not an array)",
                        ));
                    }
                }
            }
            if up_to_date || next == offset {
                return Ok(out);
            }
            offset = next;
        }
        Err(read(format!(
            "still not up to date after {MAX_PAGES} reads"
        )))
    })
}

/// A transport error in words, naming a timeout as one, with its causes (a certificate
/// problem is only said by the innermost one).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer within the timeout (--timeout-ms)".to_owned();
    }
    let mut words = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        words.push_str(&format!(": {c}"));
        cause = c.source();
    }
    words
}
