//! SSE reads (PROTOCOL §5.8): a page's data and `control` events written as one body chunk,
//! payload lines split so no payload can end an event, and one lifetime timer per connection.

use super::headers::cursor;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::offset::Offset;
use crate::reply::Reply;
use crate::shared::Shared;
use crate::store::ReadOptions;
use crate::store::media_type;
use futures_util::StreamExt;

/// Appends one SSE event to `out`. Payload lines are split on CR, LF and CRLF alike, so no
/// payload can end an event or start another; a line starting with a space gets the one
/// space SSE parsers strip.
pub(super) fn push_event(out: &mut Vec<u8>, kind: &str, data: &str) {
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
pub(super) struct Control {
    stream_next_offset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_cursor: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    up_to_date: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream_closed: bool,
}

pub(super) fn push_control(
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

/// A JSON array's text with one element per line between `[` and `]` (the elements' own
/// text kept), for the multi-line served form; the text as it was if it is not an array.
fn one_message_per_line(array: &str) -> String {
    match serde_json::from_str::<Vec<&serde_json::value::RawValue>>(array) {
        Ok(items) if !items.is_empty() => {
            let lines: Vec<&str> = items.iter().map(|i| i.get()).collect();
            format!("[\n{}\n]", lines.join(",\n"))
        }
        _ => array.to_owned(),
    }
}

/// SSE (§5.8): a data event and a control event per page, written together as one body
/// chunk (one write for both; shaping splits chunks into events where a fault counts them),
/// until the stream closes, goes away, or the connection lifetime ends. With `multi_line`,
/// a JSON stream's data events are written one message per `data:` line.
pub(super) fn sse(
    shared: Arc<Shared>,
    path: String,
    from: Option<Offset>,
    echoed: Option<String>,
    (opts, multi_line): (ReadOptions, bool),
) -> Response {
    let (first, first_changes) = match shared.store.read(&path, from, opts) {
        Ok(read) => read,
        Err(r) => return Reply::from(r).into_response(),
    };
    let json = crate::store::is_json(&first.meta.content_type);
    let text = media_type(&first.meta.content_type).starts_with("text/") || json;
    let multi_line = multi_line && json;
    struct At<P, C> {
        /// The page read when the request came: the first events are what the stream held
        /// then (a gate that waits for the response to start sees them), not what it holds
        /// when the body is first polled.
        first: Option<(P, C)>,
        from: Offset,
        sent_control: bool,
        done: bool,
        /// The connection's end of life: one timer for the whole connection, not one per
        /// wait for data.
        lifetime: std::pin::Pin<Box<tokio::time::Sleep>>,
    }
    let start = At {
        from: first.start,
        first: Some((first, first_changes)),
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
                let (page, mut changes) = match at.first.take() {
                    Some(read) => read,
                    None => match shared.store.read(&path, Some(at.from), opts) {
                        Ok(read) => read,
                        Err(_) => return None, // deleted or expired: end the connection
                    },
                };
                let eof = page.meta.closed && page.up_to_date;
                if page.chunks > 0 || eof || !at.sent_control {
                    let mut events = Vec::with_capacity(page.body.len() + 160);
                    if page.chunks > 0 {
                        match text {
                            true if multi_line => push_event(
                                &mut events,
                                "data",
                                &one_message_per_line(&String::from_utf8_lossy(&page.body)),
                            ),
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
