//! Applying transport faults to a response as it is sent, and recording what was sent.
//!
//! Every response body passes through [`shape`]: it is recorded into the transcript chunk by
//! chunk, counted in bytes (and in SSE events), and cut where the exchange's faults say.
//! A cut is a broken connection: the body stream fails, so the client sees a truncated body
//! (or no response at all when nothing was sent).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::value::RawValue;

use crate::abort::Abort;
use crate::fault::{Applied, Fault};
use crate::transcript::{Begun, Cut, Exchange, HeaderList, RecordedBody, Transcript};

/// Where the body stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Break the connection after this many body bytes.
    BreakAfterBytes(usize, &'static str),
    /// End the (SSE) body cleanly after this many events.
    CloseAfterEvents(usize),
    /// Break the (SSE) body after this many events.
    BreakAfterEvents(usize),
}

/// The byte position halfway through message `k` of a JSON array body, if it has one.
fn inside_message(body: &[u8], k: usize) -> Option<usize> {
    let text = std::str::from_utf8(body).ok()?;
    let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
    let m = items.get(k)?.get();
    let start = m.as_ptr() as usize - text.as_ptr() as usize;
    Some(start + m.len() / 2)
}

/// Where the first of the exchange's cuts that finds something to cut stops the body.
fn stop_for(applied: &Applied, body: Option<&[u8]>) -> Option<Stop> {
    applied.cuts.iter().find_map(|cut| {
        let how = cut.cut_name()?;
        match *cut {
            Fault::ResetBeforeHeaders => Some(Stop::BreakAfterBytes(0, how)),
            Fault::CutBody { bytes } => Some(Stop::BreakAfterBytes(bytes, how)),
            Fault::CutInsideMessage { message } => body
                .and_then(|b| inside_message(b, message))
                .map(|at| Stop::BreakAfterBytes(at, how)),
            Fault::SseCloseAfter { events } => Some(Stop::CloseAfterEvents(events)),
            Fault::SseAbortAfter { events } => Some(Stop::BreakAfterEvents(events)),
            _ => None,
        }
    })
}

/// An SSE chunk cut after each event's blank line. Payload lines are never empty (each starts
/// with `data:`), so a blank line, `\n\n`, only ever ends an event.
fn split_events(chunk: Bytes) -> Vec<Bytes> {
    let mut events = Vec::new();
    let mut start = 0;
    while let Some(at) = chunk[start..].windows(2).position(|w| w == b"\n\n") {
        let end = start + at + 2;
        events.push(chunk.slice(start..end));
        start = end;
    }
    if start < chunk.len() {
        events.push(chunk.slice(start..));
    }
    events
}

/// The request side of an exchange, for the transcript.
pub(crate) struct RequestRecord {
    /// The request's in-flight mark, ended when its exchange is recorded.
    pub in_flight: crate::transcript::InFlight,
    pub method: String,
    pub uri: String,
    pub kind: crate::fault::RequestKind,
    pub headers: HeaderList,
    pub body: Bytes,
    /// See [`Exchange::received_ms`].
    pub received_ms: u64,
}

/// Records `response` in the transcript and cuts its body as `applied` says.
pub(crate) async fn shape(
    transcript: Arc<Transcript>,
    request: RequestRecord,
    applied: Applied,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    let streaming = parts
        .headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    // A whole (non-streaming) body is read first, so a cut can address its messages.
    let (whole, body) = match streaming {
        true => (None, Some(body)),
        false => (axum::body::to_bytes(body, usize::MAX).await.ok(), None),
    };
    let stop = stop_for(&applied, whole.as_deref());
    // A break before the first body byte, or any break of a response that has no body to
    // break (a 204, a HEAD), drops the connection before the headers: hyper would otherwise
    // send such a response whole without ever polling its body.
    let body_less = request.method == "HEAD" || whole.as_ref().is_some_and(Bytes::is_empty);
    let reset = match stop {
        Some(Stop::BreakAfterBytes(at, how)) if at == 0 || body_less => Some(how),
        _ => None,
    };
    let seq = transcript.begin(request.body.clone(), request.in_flight.id(), || Begun {
        exchange: Exchange {
            seq: 0,
            method: request.method,
            uri: request.uri,
            kind: request.kind,
            request_headers: Vec::new(),
            request_body: RecordedBody::default(),
            status: if reset.is_some() {
                0
            } else {
                parts.status.as_u16()
            },
            response_headers: Vec::new(),
            response_body: RecordedBody::default(),
            faults: applied.faults.clone(),
            cut: None,
            finished: false,
            received_ms: request.received_ms,
            answered_ms: transcript.now_ms(),
        },
        request_headers: request.headers,
        response_headers: match reset {
            Some(_) => HeaderList::default(),
            None => HeaderList::of(
                parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_bytes())),
            ),
        },
    });
    if let Some(how) = reset {
        transcript.finish(
            seq,
            Some(Cut {
                how,
                after_bytes: 0,
            }),
        );
        let mut dropped = Response::new(Body::empty());
        dropped.extensions_mut().insert(Abort(how));
        return dropped;
    }
    if let (None, Some(bytes)) = (stop, &whole) {
        // Nothing to cut: send it whole, with its Content-Length.
        transcript.body_bytes(seq, bytes.clone());
        transcript.finish(seq, None);
        return Response::from_parts(parts, Body::from(bytes.clone()));
    }
    let body = match body {
        // Nothing to record or cut: the stream goes out as the handler made it.
        Some(body) if stop.is_none() && !transcript.enabled() => {
            return Response::from_parts(parts, body);
        }
        body => body,
    };
    let chunks: futures_util::stream::BoxStream<'static, Bytes> = match whole {
        Some(bytes) => futures_util::stream::iter([bytes]).boxed(),
        // An SSE body yields a page's events in one chunk (see `http::sse`); a fault that
        // counts events gets them one per chunk.
        None => match body {
            Some(body) => {
                let chunks = body
                    .into_data_stream()
                    .filter_map(|r| async move { r.ok() });
                match stop {
                    Some(Stop::CloseAfterEvents(_) | Stop::BreakAfterEvents(_)) => chunks
                        .flat_map(|chunk| futures_util::stream::iter(split_events(chunk)))
                        .boxed(),
                    _ => chunks.boxed(),
                }
            }
            None => futures_util::stream::empty().boxed(),
        },
    };
    struct State {
        chunks: futures_util::stream::BoxStream<'static, Bytes>,
        sent: usize,
        events: usize,
        /// The connection breaks on the next poll.
        pending_break: Option<&'static str>,
        done: bool,
    }
    let state = State {
        chunks,
        sent: 0,
        events: 0,
        pending_break: None,
        done: false,
    };
    let out = futures_util::stream::unfold(state, move |mut st| {
        let transcript = transcript.clone();
        async move {
            if st.done {
                return None;
            }
            if let Some(how) = st.pending_break.take() {
                // Returning Pending once makes hyper flush what it buffered (headers and the
                // partial body) before the break.
                tokio::task::yield_now().await;
                st.done = true;
                return Some((Err(std::io::Error::other(how)), st));
            }
            let finish = |cut: Option<Cut>| transcript.finish(seq, cut);
            match stop {
                Some(Stop::CloseAfterEvents(n)) if st.events >= n => {
                    finish(Some(Cut {
                        how: "sse-close",
                        after_bytes: st.sent,
                    }));
                    return None;
                }
                Some(Stop::BreakAfterEvents(n)) if st.events >= n => {
                    finish(Some(Cut {
                        how: "sse-abort",
                        after_bytes: st.sent,
                    }));
                    st.pending_break = Some("sse-abort");
                    return Some((Ok(Bytes::new()), st));
                }
                _ => {}
            }
            let Some(chunk) = st.chunks.next().await else {
                finish(None);
                return None;
            };
            if let Some(Stop::BreakAfterBytes(limit, how)) = stop
                && st.sent + chunk.len() >= limit
            {
                let keep = limit - st.sent;
                transcript.body_bytes(seq, chunk.slice(..keep));
                finish(Some(Cut {
                    how,
                    after_bytes: limit,
                }));
                if keep == 0 {
                    st.done = true;
                    return Some((Err(std::io::Error::other(how)), st));
                }
                st.pending_break = Some(how);
                return Some((Ok(chunk.slice(..keep)), st));
            }
            transcript.body_bytes(seq, chunk.clone());
            st.sent += chunk.len();
            st.events += 1;
            Some((Ok(chunk), st))
        }
    });
    Response::from_parts(parts, Body::from_stream(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_chunk_splits_into_its_events_whole() {
        let chunk = Bytes::from_static(
            b"event: data\ndata:[1,\ndata: 2]\n\nevent: control\ndata:{\"upToDate\":true}\n\n",
        );
        let events = split_events(chunk.clone());
        assert_eq!(
            events,
            [
                Bytes::from_static(b"event: data\ndata:[1,\ndata: 2]\n\n"),
                Bytes::from_static(b"event: control\ndata:{\"upToDate\":true}\n\n"),
            ]
        );
        // Nothing lost or added, and a trailing partial event is kept as it is.
        assert_eq!(events.concat(), chunk.to_vec());
        let partial = Bytes::from_static(b"event: control\n\nevent: da");
        assert_eq!(split_events(partial).len(), 2);
    }
}
