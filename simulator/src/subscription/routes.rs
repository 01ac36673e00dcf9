//! The HTTP face of subscriptions (PROTOCOL §6, §7): the reserved `__ds` paths, their JSON
//! bodies, and JSON errors `{"error": {"code", "message", …}}`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Config, Delivery, Finish, Key, Rejection, Report, apply, glob, webhook_url};
use crate::reply::Reply;
use crate::shared::Shared;

const DEFAULT_LEASE_TTL_MS: u64 = 30_000;
const LEASE_TTL_MS: std::ops::RangeInclusive<u64> = 1_000..=600_000;

/// `(root, rest)` for a path under the reserved `__ds` segment: `/v1/stream/__ds/jwks.json`
/// is `("/v1/stream/", "jwks.json")`. PROTOCOL §6 reserves the segment before any stream.
pub(crate) fn reserved(path: &str) -> Option<(&str, &str)> {
    let at = match path.find("/__ds/") {
        Some(at) => at,
        None if path.ends_with("/__ds") => path.len() - "/__ds".len(),
        None => return None,
    };
    Some((&path[..=at], path.get(at + "/__ds/".len()..).unwrap_or("")))
}

/// A path segment as it goes into a URL: everything but RFC 3986's unreserved characters
/// is percent-encoded.
pub(crate) fn encode(segment: &str) -> String {
    const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(segment, RESERVED).to_string()
}

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Answers a request below `root` + `__ds/`.
pub(crate) fn handle(
    shared: &Arc<Shared>,
    method: &Method,
    root: &str,
    rest: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    match route(shared, method, root, rest, headers, body) {
        Ok(reply) => reply,
        Err(rejection) => error(rejection),
    }
    .into_response()
}

fn route(
    shared: &Arc<Shared>,
    method: &Method,
    root: &str,
    rest: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Reply, Rejection> {
    let subs = &shared.subscriptions;
    let store = &shared.store;
    if rest == "jwks.json" {
        return match *method {
            Method::GET | Method::HEAD => Ok(json_reply(200, &subs.jwks())
                .header("content-type", "application/jwk-set+json")
                .header("cache-control", "public, max-age=300")),
            _ => Err(not_allowed()),
        };
    }
    let Some(after) = rest.strip_prefix("subscriptions/") else {
        return Err(Rejection::new(
            404,
            "NOT_FOUND",
            format!("no control API at __ds/{rest}"),
        ));
    };
    let (id, action) = after.split_once('/').unwrap_or((after, ""));
    let key = Key {
        root: root.to_owned(),
        id: decode(id),
    };
    if key.id.is_empty() {
        return Err(Rejection::new(
            404,
            "NOT_FOUND",
            "a subscription id is needed",
        ));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (method, action) {
        (&Method::PUT, "") => {
            let config = config(parse(body)?)?;
            let host = headers
                .get("host")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("127.0.0.1");
            let (created, view) = subs.put(key, config, format!("http://{host}"), store)?;
            Ok(json_reply(if created { 201 } else { 200 }, &view))
        }
        (&Method::GET, "") => Ok(json_reply(200, &subs.view(&key, store)?)),
        (&Method::DELETE, "") => subs.delete(&key).map(|()| Reply::new(204)),
        (&Method::POST, "streams") => {
            let StreamsBody { streams } = parse(body)?;
            let streams: Vec<String> = streams
                .iter()
                .map(|s| stream_path(s))
                .collect::<Result<_, _>>()?;
            subs.add_streams(&key, &streams, store)
                .map(|()| Reply::new(204))
        }
        (&Method::DELETE, action) if action.starts_with("streams/") => {
            let path = glob::normalize(&decode(&action["streams/".len()..]));
            subs.remove_stream(&key, &path).map(|()| Reply::new(204))
        }
        (&Method::POST, "claim") => {
            let ClaimBody { worker } = parse(body)?;
            let (claimed, effects) = subs.claim(&key, &worker, store)?;
            apply(shared, effects);
            Ok(json_reply(200, &claimed))
        }
        (&Method::POST, action @ ("callback" | "ack" | "release")) => {
            let finish = match action {
                "callback" => Finish::Callback,
                "ack" => Finish::Ack,
                _ => Finish::Release,
            };
            let report: ReportBody = parse(body)?;
            let report = Report {
                wake_id: report.wake_id,
                generation: report.generation,
                acks: report
                    .acks
                    .into_iter()
                    .map(|a| (a.stream, a.offset))
                    .collect(),
                done: report.done,
            };
            let (next, effects) = subs.finish(&key, finish, token, &report, store)?;
            apply(shared, effects);
            Ok(match next {
                Some(next_wake) => json_reply(200, &json!({"ok": true, "next_wake": next_wake})),
                None => Reply::new(204),
            })
        }
        (_, "" | "streams" | "claim" | "callback" | "ack" | "release") => Err(not_allowed()),
        _ => Err(Rejection::new(
            404,
            "NOT_FOUND",
            format!("no control API at __ds/{rest}"),
        )),
    }
}

#[derive(Deserialize)]
struct CreateBody {
    #[serde(rename = "type")]
    kind: String,
    pattern: Option<String>,
    streams: Option<Vec<String>>,
    webhook: Option<WebhookBody>,
    wake_stream: Option<String>,
    lease_ttl_ms: Option<u64>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct WebhookBody {
    url: String,
}

#[derive(Deserialize)]
struct StreamsBody {
    streams: Vec<String>,
}

#[derive(Deserialize)]
struct ClaimBody {
    worker: String,
}

#[derive(Deserialize)]
struct ReportBody {
    wake_id: String,
    generation: u64,
    #[serde(default)]
    acks: Vec<AckBody>,
    #[serde(default)]
    done: bool,
}

#[derive(Deserialize)]
struct AckBody {
    #[serde(alias = "path")]
    stream: String,
    offset: String,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Rejection> {
    serde_json::from_slice(body).map_err(|e| {
        Rejection::new(
            400,
            "INVALID_REQUEST",
            format!("the body is not the JSON this API takes: {e}"),
        )
    })
}

/// A stream path of a request body: relative, not under the reserved segment.
fn stream_path(path: &str) -> Result<String, Rejection> {
    let path = glob::normalize(path);
    match path.is_empty() || path == "__ds" || path.starts_with("__ds/") {
        true => Err(Rejection::new(
            400,
            "INVALID_REQUEST",
            format!("{path:?} is not an application stream path"),
        )),
        false => Ok(path),
    }
}

/// The configuration a PUT asks for, checked and normalized (PROTOCOL §6.2).
fn config(body: CreateBody) -> Result<Config, Rejection> {
    let invalid = |message: String| Rejection::new(400, "INVALID_REQUEST", message);
    let delivery = match body.kind.as_str() {
        "webhook" => {
            let url = body
                .webhook
                .ok_or_else(|| invalid("a webhook subscription needs webhook.url".into()))?
                .url;
            webhook_url::check(&url)
                .map_err(|why| Rejection::new(400, "WEBHOOK_URL_REJECTED", why))?;
            Delivery::Webhook(url)
        }
        "pull-wake" => {
            Delivery::PullWake(stream_path(&body.wake_stream.ok_or_else(|| {
                invalid("a pull-wake subscription needs wake_stream".into())
            })?)?)
        }
        other => {
            return Err(invalid(format!(
                "type {other:?} is neither \"webhook\" nor \"pull-wake\""
            )));
        }
    };
    let streams: BTreeSet<String> = body
        .streams
        .unwrap_or_default()
        .iter()
        .map(|s| stream_path(s))
        .collect::<Result<_, _>>()?;
    let pattern = body.pattern.map(|p| glob::normalize(&p));
    if pattern.is_none() && streams.is_empty() {
        return Err(invalid("a subscription needs a pattern or streams".into()));
    }
    let lease_ttl_ms = body.lease_ttl_ms.unwrap_or(DEFAULT_LEASE_TTL_MS);
    if !LEASE_TTL_MS.contains(&lease_ttl_ms) {
        return Err(invalid(format!(
            "lease_ttl_ms {lease_ttl_ms} is outside 1000..=600000"
        )));
    }
    Ok(Config {
        delivery,
        pattern,
        streams,
        lease_ttl_ms,
        description: body.description,
    })
}

fn json_reply(status: u16, body: &Value) -> Reply {
    Reply::new(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(body.to_string())
}

fn error(rejection: Rejection) -> Reply {
    let mut inner = rejection.extra;
    inner.insert("code".into(), json!(rejection.code));
    inner.insert("message".into(), json!(rejection.message));
    json_reply(rejection.status, &json!({ "error": inner }))
}

fn not_allowed() -> Rejection {
    Rejection::new(
        405,
        "METHOD_NOT_ALLOWED",
        "this control API does not take that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserved_segment_splits_root_from_the_control_path() {
        assert_eq!(
            reserved("/v1/stream/__ds/jwks.json"),
            Some(("/v1/stream/", "jwks.json"))
        );
        assert_eq!(
            reserved("/__ds/subscriptions/a"),
            Some(("/", "subscriptions/a"))
        );
        assert_eq!(reserved("/x/__ds"), Some(("/x/", "")));
        assert_eq!(reserved("/x/__dsx/y"), None);
        assert_eq!(reserved("/events/abc"), None);
    }

    #[test]
    fn ids_keep_unreserved_characters_in_urls() {
        assert_eq!(encode("sub-1_a.b~c"), "sub-1_a.b~c");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
        assert_eq!(decode("a%2Fb%20c"), "a/b c");
    }
}
