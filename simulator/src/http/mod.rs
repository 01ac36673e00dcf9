//! The HTTP face of the simulator (PROTOCOL §5, §8, §10): request headers and query
//! parameters in, store calls, status codes and response headers out.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};

use crate::control;
use crate::fault::{Applied, RequestKind};
use crate::offset::Offset;
use crate::reply::Reply;
use crate::shaping::{self, RequestRecord};
use crate::shared::Shared;
use crate::store::Refusal;
use crate::subscription;
use crate::transcript::HeaderList;

mod headers;
mod read;
mod sse;
mod write;

use read::read;
use write::{append, create, lifetime_headers};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.config.body_limit;
    Router::new()
        .nest(control::NEST, control::router())
        .fallback(handle)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared)
}

/// What kind of request this is, for fault rules.
fn classify(method: &Method, query: &HashMap<String, String>) -> RequestKind {
    RequestKind::of(method.as_str(), query.get("live").map(String::as_str))
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
    let in_flight = shared.transcript.arrive(method.as_str(), &uri_text);
    let path = uri.path().to_owned();
    let query = match Query::<HashMap<String, String>>::try_from_uri(&uri) {
        Ok(Query(q)) => q,
        Err(e) => return Reply::from(Refusal::new(400, format!("bad query: {e}"))).into_response(),
    };
    let kind = classify(&method, &query);
    let applied = shared.faults().on_request(&path, kind);
    if applied.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(applied.delay_ms)).await;
    }
    for act in &applied.acts {
        // An action on a stream that cannot take it (missing, closed, not JSON) is a no-op;
        // the transcript still lists the fault.
        let _ = shared.store.act(&path, act);
    }
    let record = RequestRecord {
        in_flight,
        method: method.to_string(),
        uri: uri_text,
        kind,
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
    let response = match applied.status {
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
    if let Some((root, rest)) = subscription::reserved(path) {
        return subscription::handle(shared, &method, root, rest, &headers, &body);
    }
    // What a write needs to tell the subscriptions: the tail before it (PROTOCOL §6.2).
    let before =
        match shared.subscriptions.watching() && matches!(method, Method::PUT | Method::POST) {
            true => Some(shared.store.metadata(path).map_or(Offset(0), |m| m.tail)),
            false => None,
        };
    let reply = match method {
        Method::PUT => create(shared, path, &headers, body),
        Method::POST => append(shared, path, &headers, body),
        Method::GET => return read(shared.clone(), path.to_owned(), query, headers, applied).await,
        Method::HEAD => head(shared, path),
        Method::DELETE => shared.store.delete(path).map(|()| {
            shared.subscriptions.stream_deleted(path);
            Reply::new(204)
        }),
        Method::OPTIONS => Ok(Reply::new(204)
            .header("access-control-allow-methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
            .header(
                "access-control-allow-headers",
                "Content-Type, If-None-Match, Stream-TTL, Stream-Expires-At, Stream-Closed, Stream-Seq, Stream-Forked-From, Stream-Fork-Offset, Stream-Fork-Sub-Offset, Producer-Id, Producer-Epoch, Producer-Seq, Authorization",
            )
            .header("access-control-max-age", "86400")),
        _ => Err(Refusal::new(405, "method not allowed")),
    };
    if let (Ok(_), Some(before)) = (&reply, before) {
        let effects = shared.subscriptions.written(path, before, &shared.store);
        subscription::apply(shared, effects);
    }
    reply.unwrap_or_else(Reply::from).into_response()
}

fn head(shared: &Shared, path: &str) -> Result<Reply, Refusal> {
    let meta = shared.store.metadata(path)?;
    let reply = Reply::new(200)
        .header("content-type", &meta.content_type)
        .header("stream-next-offset", meta.tail)
        .header("cache-control", "no-store")
        .header_if(meta.closed, "stream-closed", "true");
    Ok(lifetime_headers(reply, &meta))
}
