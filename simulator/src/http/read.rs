//! Catch-up and long-poll reads (PROTOCOL §5.5, §5.6, §10): pages with their offsets,
//! up-to-date and cursor headers, ETags and 304, and a long-poll that waits for data or
//! answers 204 at its timeout.

use super::headers::{cursor, header};
use super::sse::sse;
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::fault::Applied;
use crate::offset::{Offset, RequestedOffset};
use crate::reply::Reply;
use crate::shared::Shared;
use crate::store::ReadOptions;
use crate::store::{Page, Refusal};

pub(super) fn etag(page: &Page) -> String {
    let closed = if page.meta.closed && page.up_to_date {
        ":c"
    } else {
        ""
    };
    format!("\"{}:{}:{}{closed}\"", page.meta.id, page.start, page.next)
}

/// The headers of a response that carries a page (catch-up, or long-poll with data).
pub(super) fn page_reply(page: Page, live_cursor: Option<u64>) -> Reply {
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

pub(super) async fn read(
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
            let wait = !applied.empty_long_poll;
            long_poll(&shared, &path, from, cursor_param, opts, wait).await
        }
        Some("sse") => {
            let multi_line = applied.sse_multi_line;
            return sse(
                shared.clone(),
                path,
                from,
                cursor_param.map(str::to_owned),
                (opts, multi_line),
            );
        }
        Some(other) => Err(Refusal::new(400, format!("unknown live mode {other:?}"))),
    };
    result.unwrap_or_else(Reply::from).into_response()
}

pub(super) fn catch_up(
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
pub(super) async fn long_poll(
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
