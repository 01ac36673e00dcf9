//! The HTTP face of the simulator (PROTOCOL §5, §8, §10): request headers and query
//! parameters in, store calls, status codes and response headers out.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

use crate::control;
use crate::fault::{Applied, Fault, RequestKind};
use crate::offset::{Offset, RequestedOffset};
use crate::reply::Reply;
use crate::shaping::{self, RequestRecord};
use crate::shared::Shared;
use crate::store::ReadOptions;
use crate::store::{
    AppendOutcome, AppendRequest, CreateRequest, Lifetime, Metadata, Page, ProducerHeaders,
    Refusal, media_type,
};
use crate::transcript::HeaderList;
use futures_util::StreamExt;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.config.body_limit;
    Router::new()
        .nest(control::NEST, control::router())
        .fallback(handle)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A header whose value must be text when present: a value that is not visible ASCII is
/// refused rather than taken as absent (a non-ASCII `Stream-Seq` would otherwise skip the
/// ordering check).
fn text_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Refusal> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| Refusal::new(400, format!("{name} must be visible ASCII"))),
    }
}

/// `Stream-Closed` counts only when exactly `true`, case-insensitively (§4.1).
fn closed_flag(headers: &HeaderMap) -> bool {
    header(headers, "stream-closed").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// What kind of request this is, for fault rules.
fn classify(method: &Method, query: &HashMap<String, String>) -> RequestKind {
    match *method {
        Method::PUT => RequestKind::Create,
        Method::POST => RequestKind::Append,
        Method::HEAD => RequestKind::Head,
        Method::DELETE => RequestKind::Delete,
        Method::GET => match query.get("live").map(String::as_str) {
            None => RequestKind::CatchUp,
            Some("long-poll") => RequestKind::LongPoll,
            Some("sse") => RequestKind::Sse,
            Some(_) => RequestKind::Any,
        },
        _ => RequestKind::Any,
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_ms = shared.transcript.now_ms();
    // With transcripts off, only what shaping reads (the method) is kept.
    let recorded = shared.transcript.enabled();
    let uri_text = match recorded {
        true => uri.to_string(),
        false => String::new(),
    };
    // In flight until the response head is ready: a long-poll waiting for data shows here.
    let _in_flight = shared.transcript.arrive(method.as_str(), &uri_text);
    let path = uri.path().to_owned();
    let query = match Query::<HashMap<String, String>>::try_from_uri(&uri) {
        Ok(Query(q)) => q,
        Err(e) => return Reply::from(Refusal::new(400, format!("bad query: {e}"))).into_response(),
    };
    let applied = shared.faults().on_request(&path, classify(&method, &query));
    if applied.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(applied.delay_ms)).await;
    }
    for fault in &applied.faults {
        if let Fault::Act { act } = fault {
            // An action on a stream that cannot take it (missing, closed, not JSON) is a
            // no-op; the transcript still lists the fault.
            let _ = shared.store.act(&path, act);
        }
    }
    let record = RequestRecord {
        method: method.to_string(),
        uri: uri_text,
        headers: match recorded {
            true => HeaderList::of(headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()))),
            false => HeaderList::default(),
        },
        // A copy: the body received is a slice of hyper's read buffer, and holding it would
        // keep that whole buffer (often several times the body) alive while the exchange is
        // kept, unseen by the transcript's byte bound.
        body: match recorded {
            true => Bytes::copy_from_slice(&body),
            false => Bytes::new(),
        },
        received_ms,
    };
    let status_fault = applied.find(|f| match f {
        Fault::Status {
            status,
            retry_after,
        } => Some((*status, *retry_after)),
        _ => None,
    });
    let response = match status_fault {
        Some((status, retry_after)) => Reply::from(Refusal::new(status, "injected fault"))
            .header_if(
                retry_after.is_some(),
                "retry-after",
                retry_after.unwrap_or_default(),
            )
            .into_response(),
        None => dispatch(&shared, method, &path, query, headers, body, &applied).await,
    };
    shaping::shape(shared.transcript.clone(), record, applied, response).await
}

async fn dispatch(
    shared: &Arc<Shared>,
    method: Method,
    path: &str,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
    applied: &Applied,
) -> Response {
    let reply = match method {
        Method::PUT => create(shared, path, &headers, body),
        Method::POST => append(shared, path, &headers, body),
        Method::GET => return read(shared.clone(), path.to_owned(), query, headers, applied).await,
        Method::HEAD => head(shared, path),
        Method::DELETE => match shared.store.delete(path) {
            true => Ok(Reply::new(204)),
            false => Err(Refusal::new(404, "no such stream")),
        },
        Method::OPTIONS => Ok(Reply::new(204)
            .header("access-control-allow-methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
            .header(
                "access-control-allow-headers",
                "Content-Type, If-None-Match, Stream-TTL, Stream-Expires-At, Stream-Closed, Stream-Seq, Producer-Id, Producer-Epoch, Producer-Seq, Authorization",
            )
            .header("access-control-max-age", "86400")),
        _ => Err(Refusal::new(405, "method not allowed")),
    };
    reply.unwrap_or_else(Reply::from).into_response()
}

fn lifetime(headers: &HeaderMap) -> Result<Lifetime, Refusal> {
    let ttl = header(headers, "stream-ttl");
    let expires = header(headers, "stream-expires-at");
    match (ttl, expires) {
        (Some(_), Some(_)) => Err(Refusal::new(
            400,
            "Stream-TTL and Stream-Expires-At are exclusive",
        )),
        (Some(t), None) => {
            let canonical = t == "0"
                || (t.starts_with(|c: char| ('1'..='9').contains(&c))
                    && t.bytes().all(|b| b.is_ascii_digit()));
            match (canonical, t.parse::<u64>()) {
                (true, Ok(secs)) => Ok(Lifetime::Ttl(secs)),
                _ => Err(Refusal::new(
                    400,
                    format!("Stream-TTL {t:?} is not a non-negative integer"),
                )),
            }
        }
        (None, Some(e)) => match OffsetDateTime::parse(e, &Rfc3339) {
            Ok(at) => Ok(Lifetime::ExpiresAt(e.to_owned(), at)),
            Err(_) => Err(Refusal::new(
                400,
                format!("Stream-Expires-At {e:?} is not an RFC 3339 timestamp"),
            )),
        },
        (None, None) => Ok(Lifetime::Forever),
    }
}

fn lifetime_headers(reply: Reply, meta: &Metadata) -> Reply {
    match &meta.lifetime {
        Lifetime::Forever => reply,
        Lifetime::Ttl(secs) => reply.header("stream-ttl", secs),
        Lifetime::ExpiresAt(text, _) => reply.header("stream-expires-at", text),
    }
}

fn create(shared: &Shared, path: &str, headers: &HeaderMap, body: Bytes) -> Result<Reply, Refusal> {
    let content_type = header(headers, "content-type")
        .unwrap_or("application/octet-stream")
        .to_owned();
    let req = CreateRequest {
        content_type,
        lifetime: lifetime(headers)?,
        closed: closed_flag(headers),
        body,
    };
    let (created, meta) = shared.store.create(path, req)?;
    let host = header(headers, "host").unwrap_or("127.0.0.1");
    let reply = Reply::new(if created { 201 } else { 200 })
        .header("content-type", &meta.content_type)
        .header("stream-next-offset", meta.tail)
        .header_if(created, "location", format!("http://{host}{path}"))
        .header_if(meta.closed, "stream-closed", "true");
    Ok(lifetime_headers(reply, &meta))
}

/// Producer headers: all three or none; id non-empty; integers within 2^53 - 1 (§5.2.1).
fn producer(headers: &HeaderMap) -> Result<Option<ProducerHeaders>, Refusal> {
    const MAX: u64 = (1 << 53) - 1;
    let number = |name: &str, v: &str| match v.parse::<u64>() {
        Ok(n) if n <= MAX && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(Refusal::new(
            400,
            format!("{name} {v:?} is not an integer in 0..=2^53-1"),
        )),
    };
    match (
        text_header(headers, "producer-id")?,
        text_header(headers, "producer-epoch")?,
        text_header(headers, "producer-seq")?,
    ) {
        (None, None, None) => Ok(None),
        (Some(id), Some(epoch), Some(seq)) if !id.is_empty() => Ok(Some(ProducerHeaders {
            id: id.to_owned(),
            epoch: number("Producer-Epoch", epoch)?,
            seq: number("Producer-Seq", seq)?,
        })),
        _ => Err(Refusal::new(
            400,
            "Producer-Id, Producer-Epoch and Producer-Seq go together, with a non-empty id",
        )),
    }
}

fn append(shared: &Shared, path: &str, headers: &HeaderMap, body: Bytes) -> Result<Reply, Refusal> {
    let req = AppendRequest {
        content_type: header(headers, "content-type").map(str::to_owned),
        close: closed_flag(headers),
        stream_seq: text_header(headers, "stream-seq")?.map(str::to_owned),
        producer: producer(headers)?,
        body,
    };
    Ok(match shared.store.append(path, req)? {
        AppendOutcome::Appended {
            next,
            wrote_data,
            closed,
            producer,
        } => {
            let reply = Reply::new(if producer.is_some() && wrote_data {
                200
            } else {
                204
            })
            .header("stream-next-offset", next)
            .header_if(closed, "stream-closed", "true");
            match producer {
                Some((epoch, seq)) => reply
                    .header("producer-epoch", epoch)
                    .header("producer-seq", seq),
                None => reply,
            }
        }
        AppendOutcome::Duplicate {
            next,
            closed,
            producer: (epoch, seq),
        } => Reply::new(204)
            .header("stream-next-offset", next)
            .header_if(closed, "stream-closed", "true")
            .header("producer-epoch", epoch)
            .header("producer-seq", seq),
        AppendOutcome::AlreadyClosed { next } => Reply::new(204)
            .header("stream-next-offset", next)
            .header("stream-closed", "true"),
    })
}

fn head(shared: &Shared, path: &str) -> Result<Reply, Refusal> {
    let meta = shared
        .store
        .metadata(path)
        .ok_or_else(|| Refusal::new(404, "no such stream"))?;
    let reply = Reply::new(200)
        .header("content-type", &meta.content_type)
        .header("stream-next-offset", meta.tail)
        .header("cache-control", "no-store")
        .header_if(meta.closed, "stream-closed", "true");
    Ok(lifetime_headers(reply, &meta))
}

/// The cursor for live responses (§10.1): 20-second intervals since 2024-10-09, always
/// ahead of the one the client echoed.
fn cursor(echoed: Option<&str>) -> u64 {
    const EPOCH: u64 = 1_728_432_000; // 2024-10-09T00:00:00Z
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let current = now.as_secs().saturating_sub(EPOCH) / 20;
    match echoed.and_then(|c| c.parse::<u64>().ok()) {
        Some(c) if c >= current => c + 1 + u64::from(now.subsec_nanos()) % 180,
        _ => current,
    }
}

fn etag(page: &Page) -> String {
    let closed = if page.meta.closed && page.up_to_date {
        ":c"
    } else {
        ""
    };
    format!("\"{}:{}:{}{closed}\"", page.meta.id, page.start, page.next)
}

/// The headers of a response that carries a page (catch-up, or long-poll with data).
fn page_reply(page: Page, live_cursor: Option<u64>) -> Reply {
    let eof = page.meta.closed && page.up_to_date;
    Reply::new(200)
        .header("content-type", &page.meta.content_type)
        .header("stream-next-offset", page.next)
        .header("etag", etag(&page))
        .header(
            "cache-control",
            "public, max-age=60, stale-while-revalidate=300",
        )
        .header_if(page.up_to_date, "stream-up-to-date", "true")
        .header_if(eof, "stream-closed", "true")
        .header_if(
            live_cursor.is_some(),
            "stream-cursor",
            live_cursor.unwrap_or_default(),
        )
        .body(page.body)
}

async fn read(
    shared: Arc<Shared>,
    path: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    applied: &Applied,
) -> Response {
    let offset_param = query.get("offset").map(String::as_str);
    let Some(requested) = RequestedOffset::parse(offset_param) else {
        return Reply::from(Refusal::new(400, "malformed offset")).into_response();
    };
    let live = query.get("live").map(String::as_str);
    if live.is_some() && offset_param.is_none() {
        return Reply::from(Refusal::new(400, "live reads need an offset")).into_response();
    }
    let from = match requested {
        RequestedOffset::Beginning => Some(Offset(0)),
        RequestedOffset::Now => None,
        RequestedOffset::At(o) => Some(o),
    };
    let opts = shared.read_options(applied);
    let cursor_param = query.get("cursor").map(String::as_str);
    let result = match live {
        None => catch_up(
            &shared,
            &path,
            from,
            requested == RequestedOffset::Now,
            &headers,
            opts,
        ),
        Some("long-poll") => {
            let wait = applied
                .find(|f| (*f == Fault::EmptyLongPoll).then_some(()))
                .is_none();
            long_poll(&shared, &path, from, cursor_param, opts, wait).await
        }
        Some("sse") => {
            return sse(
                shared.clone(),
                path,
                from,
                cursor_param.map(str::to_owned),
                opts,
            );
        }
        Some(other) => Err(Refusal::new(400, format!("unknown live mode {other:?}"))),
    };
    result.unwrap_or_else(Reply::from).into_response()
}

fn catch_up(
    shared: &Shared,
    path: &str,
    from: Option<Offset>,
    now: bool,
    headers: &HeaderMap,
    opts: ReadOptions,
) -> Result<Reply, Refusal> {
    let (page, _) = shared.store.read(path, from, opts)?;
    if now {
        let eof = page.meta.closed;
        let body: &'static [u8] = if crate::store::is_json(&page.meta.content_type) {
            b"[]"
        } else {
            b""
        };
        return Ok(Reply::new(200)
            .header("content-type", &page.meta.content_type)
            .header("stream-next-offset", page.meta.tail)
            .header("stream-up-to-date", "true")
            .header("cache-control", "no-store")
            .header_if(eof, "stream-closed", "true")
            .body(Bytes::from_static(body)));
    }
    if header(headers, "if-none-match").is_some_and(|tag| tag == etag(&page)) {
        return Ok(Reply::new(304)
            .header("etag", etag(&page))
            .header("stream-next-offset", page.next));
    }
    Ok(page_reply(page, None))
}

/// A long-poll: data at once if there is some, else wait (unless `wait` is off, a fault)
/// until data arrives, the stream closes, or the timeout passes (204).
async fn long_poll(
    shared: &Shared,
    path: &str,
    from: Option<Offset>,
    echoed: Option<&str>,
    opts: ReadOptions,
    wait: bool,
) -> Result<Reply, Refusal> {
    let deadline = Instant::now() + shared.config.long_poll_timeout;
    // `now` pins the start to the tail as it is when the request arrives.
    let mut from = from;
    loop {
        let (page, mut changes) = shared.store.read(path, from, opts)?;
        from = Some(page.start);
        if page.chunks > 0 {
            return Ok(page_reply(page, Some(cursor(echoed))));
        }
        if page.meta.closed || !wait || Instant::now() >= deadline {
            return Ok(Reply::new(204)
                .header("stream-next-offset", page.next)
                .header("stream-up-to-date", "true")
                .header("cache-control", "no-store")
                .header_if(page.meta.closed, "stream-closed", "true")
                .header_if(!page.meta.closed, "stream-cursor", cursor(echoed)));
        }
        let _ = tokio::time::timeout_at(deadline, changes.changed()).await;
    }
}

/// Appends one SSE event to `out`. Payload lines are split on CR, LF and CRLF alike, so no
/// payload can end an event or start another; a line starting with a space gets the one
/// space SSE parsers strip.
fn push_event(out: &mut Vec<u8>, kind: &str, data: &str) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
    let mut push_line = |line: &str| {
        out.extend_from_slice(match line.starts_with(' ') {
            true => b"data: ",
            false => b"data:",
        });
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    };
    match data.contains(['\r', '\n']) {
        false => push_line(data), // the common case: no line break to split on
        true => data
            .split("\r\n")
            .flat_map(|l| l.split(['\r', '\n']))
            .for_each(push_line),
    }
    out.push(b'\n');
}

/// The payload of a control event (§5.8).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Control {
    stream_next_offset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_cursor: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    up_to_date: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream_closed: bool,
}

fn push_control(
    out: &mut Vec<u8>,
    next: Offset,
    cursor: Option<u64>,
    up_to_date: bool,
    closed: bool,
) {
    let control = Control {
        stream_next_offset: next.to_string(),
        stream_cursor: cursor.filter(|_| !closed).map(|c| c.to_string()),
        up_to_date: up_to_date || closed,
        stream_closed: closed,
    };
    let json = serde_json::to_string(&control).unwrap_or_default();
    push_event(out, "control", &json);
}

/// SSE (§5.8): a data event and a control event per page, written together as one body
/// chunk (one write for both; shaping splits chunks into events where a fault counts them),
/// until the stream closes, goes away, or the connection lifetime ends.
fn sse(
    shared: Arc<Shared>,
    path: String,
    from: Option<Offset>,
    echoed: Option<String>,
    opts: ReadOptions,
) -> Response {
    let first = match shared.store.read(&path, from, opts) {
        Ok((page, _)) => page,
        Err(r) => return Reply::from(r).into_response(),
    };
    let text = media_type(&first.meta.content_type).starts_with("text/")
        || crate::store::is_json(&first.meta.content_type);
    struct At {
        from: Offset,
        sent_control: bool,
        done: bool,
        /// The connection's end of life: one timer for the whole connection, not one per
        /// wait for data.
        lifetime: std::pin::Pin<Box<tokio::time::Sleep>>,
    }
    let start = At {
        from: first.start,
        sent_control: false,
        done: false,
        lifetime: Box::pin(tokio::time::sleep(shared.config.sse_lifetime)),
    };
    let pages = futures_util::stream::unfold(start, move |mut at| {
        let (shared, path, echoed) = (shared.clone(), path.clone(), echoed.clone());
        async move {
            loop {
                if at.done {
                    return None;
                }
                let Ok((page, mut changes)) = shared.store.read(&path, Some(at.from), opts) else {
                    return None; // deleted or expired: end the connection
                };
                let eof = page.meta.closed && page.up_to_date;
                if page.chunks > 0 || eof || !at.sent_control {
                    let mut events = Vec::with_capacity(page.body.len() + 160);
                    if page.chunks > 0 {
                        match text {
                            true => push_event(
                                &mut events,
                                "data",
                                &String::from_utf8_lossy(&page.body),
                            ),
                            false => push_event(
                                &mut events,
                                "data",
                                &base64::engine::general_purpose::STANDARD.encode(&page.body),
                            ),
                        }
                    }
                    push_control(
                        &mut events,
                        page.next,
                        Some(cursor(echoed.as_deref())),
                        page.up_to_date,
                        eof,
                    );
                    at.from = page.next;
                    at.sent_control = true;
                    at.done = eof;
                    return Some((Bytes::from(events), at));
                }
                tokio::select! {
                    _ = changes.changed() => {}
                    () = &mut at.lifetime => return None,
                }
            }
        }
    });
    let events = pages.map(Ok::<_, Infallible>);
    Reply::new(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .header_if(!text, "stream-sse-data-encoding", "base64")
        .body(Body::from_stream(events))
        .into_response()
}
