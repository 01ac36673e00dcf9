//! A stream read by URL from its beginning until up to date, a read at a time: each read's
//! messages are judged and dropped before the next, within a deadline for the whole check.

use std::time::Duration;

use serde_json::Value;

use super::judge::{Judge, LintError, Place, not_messages};

/// Reads from a URL at most (a runaway server cannot keep `check` going forever).
const MAX_PAGES: usize = 100_000;

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
    /// The longest the whole check may take (a server that trickles its body slowly
    /// enough never trips the per-read timeout).
    pub deadline: Duration,
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

/// Judges every message of the stream at `url`, read from the beginning until up to date,
/// within `options.deadline`.
pub(super) fn read(
    url: &str,
    options: &ReadOptions,
    judge: &mut Judge<'_>,
) -> Result<(), LintError> {
    let failed = |reason: String| LintError::Read {
        target: url.to_owned(),
        reason,
    };
    let base = reqwest::Url::parse(url).map_err(|e| failed(format!("not a URL: {e}")))?;
    let deadline = options.deadline;
    crate::runtime::runtime().block_on(async {
        match tokio::time::timeout(deadline, pages(url, &base, options, judge)).await {
            Ok(done) => done,
            Err(_) => Err(failed(format!(
                "not read to its end within {} ms (--deadline-ms, the longest the whole check may take)",
                deadline.as_millis()
            ))),
        }
    })
}

/// The reads of [`read`], each judged as it ends.
async fn pages(
    url: &str,
    base: &reqwest::Url,
    options: &ReadOptions,
    judge: &mut Judge<'_>,
) -> Result<(), LintError> {
    let read = |reason: String| LintError::Read {
        target: url.to_owned(),
        reason,
    };
    {
        let http = options.client().map_err(read)?;
        let mut offset = "-1".to_owned();
        for _ in 0..MAX_PAGES {
            let mut response = http
                .get(at_offset(base, &offset))
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
                // One read is held whole to be parsed: bounded like an input file.
                if (body.len() + chunk.len()) as u64 > crate::input::MAX_INPUT_BYTES {
                    return Err(read(format!(
                        "a read from offset {offset} is larger than {} MiB, the most `check` holds at once",
                        crate::input::MAX_INPUT_BYTES >> 20
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            if !body.is_empty() {
                match serde_json::from_slice(&body)
                    .map_err(|e| not_messages(url, format!("a read's body is not JSON: {e}")))?
                {
                    Value::Array(items) => {
                        for (item, message) in items.into_iter().enumerate() {
                            let place = Place::Read {
                                offset: offset.clone(),
                                item,
                            };
                            judge.judge(message, place, true);
                        }
                    }
                    _ => {
                        return Err(not_messages(
                            url,
                            "not a JSON-mode stream (a read is not an array)",
                        ));
                    }
                }
            }
            if up_to_date || next == offset {
                return Ok(());
            }
            offset = next;
        }
        Err(read(format!(
            "still not up to date after {MAX_PAGES} reads"
        )))
    }
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
