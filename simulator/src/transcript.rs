//! Transcripts: every exchange the simulator served, as it went over the wire (including
//! where a response was cut), for failure reports and replay.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use serde::Serialize;

use crate::fault::Fault;

/// A body as recorded: UTF-8 text when it is, base64 otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedBody {
    pub text: String,
    pub base64: bool,
}

impl RecordedBody {
    pub fn of(bytes: &[u8]) -> RecordedBody {
        match std::str::from_utf8(bytes) {
            Ok(text) => RecordedBody {
                text: text.to_owned(),
                base64: false,
            },
            Err(_) => RecordedBody {
                text: base64::engine::general_purpose::STANDARD.encode(bytes),
                base64: true,
            },
        }
    }
}

/// How a response ended early.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cut {
    /// `reset-before-headers`, `cut-body`, `cut-inside-message`, `sse-close` or `sse-abort`.
    pub how: &'static str,
    /// Body bytes delivered before the cut.
    pub after_bytes: usize,
}

/// One request and the response it got.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    /// 0-based number of the exchange since the simulator started.
    pub seq: u64,
    pub method: String,
    pub uri: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: RecordedBody,
    /// 0 when the connection was reset before any header was sent.
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    /// The body bytes actually sent (so far, for a response still streaming).
    pub response_body: RecordedBody,
    pub faults: Vec<Fault>,
    pub cut: Option<Cut>,
    /// The response body has been sent completely (or cut).
    pub finished: bool,
    /// When the request arrived, in ms since the simulator started.
    pub received_ms: u64,
    /// When the response head was ready (or the connection dropped), in ms since the
    /// simulator started: what a client's wait before its next request counts from.
    pub answered_ms: u64,
}

impl Exchange {
    /// Whether `fault`, listed on this exchange, really acted on it: a transport fault only
    /// when it is the one that cut the response (a cut aimed past the body's end, or an SSE
    /// close the connection never reached, did nothing), an empty long-poll only when it
    /// served a 204; every other fault acts by being applied.
    pub fn fault_acted(&self, fault: &Fault) -> bool {
        if !self.faults.contains(fault) {
            return false;
        }
        let cut_by = |how: &str| self.cut.as_ref().is_some_and(|c| c.how == how);
        match fault {
            Fault::ResetBeforeHeaders => cut_by("reset-before-headers"),
            Fault::CutBody { .. } => cut_by("cut-body"),
            Fault::CutInsideMessage { .. } => cut_by("cut-inside-message"),
            Fault::SseCloseAfter { .. } => cut_by("sse-close"),
            Fault::SseAbortAfter { .. } => cut_by("sse-abort"),
            Fault::EmptyLongPoll => self.status == 204,
            _ => true,
        }
    }
}

/// Bytes (request line, headers and bodies, both ways) the transcript holds at most; older
/// exchanges are dropped first.
pub const MAX_BYTES: usize = 256 << 20;

/// The most recent exchanges (at most `capacity`, and at most [`MAX_BYTES`] of bodies),
/// oldest first.
#[derive(Debug)]
pub struct Transcript {
    inner: Mutex<Inner>,
    started: std::time::Instant,
    /// A capacity above 0. Fixed at construction and read without the lock, so with
    /// transcripts off (a load test) no request touches the lock at all.
    enabled: bool,
}

#[derive(Debug)]
struct Inner {
    /// Each exchange with its request body and its response body as sent, in chunks: handles
    /// on the bytes received and sent, not copies (the store keeps its messages as slices of
    /// the same buffers).
    exchanges: VecDeque<(Exchange, Bytes, Vec<Bytes>)>,
    /// Requests received whose response head is not ready yet (a long-poll waiting for data),
    /// by arrival number: method and URI.
    in_flight: std::collections::BTreeMap<u64, (String, String)>,
    next_arrival: u64,
    next_seq: u64,
    capacity: usize,
    /// Bytes held: each exchange's [`recorded_size`] plus its response body as sent.
    bytes: usize,
}

/// What an exchange holds apart from its bodies: the request line and both header lists
/// (headers count: 2,000 requests with large headers must not grow the simulator without
/// bound).
fn recorded_size(e: &Exchange) -> usize {
    let headers = |h: &[(String, String)]| h.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    e.method.len() + e.uri.len() + headers(&e.request_headers) + headers(&e.response_headers)
}

/// A request in flight (see [`Transcript::arrive`]).
pub(crate) struct InFlight {
    transcript: Arc<Transcript>,
    id: Option<u64>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.transcript.lock().in_flight.remove(&id);
        }
    }
}

fn total_len(chunks: &[Bytes]) -> usize {
    chunks.iter().map(Bytes::len).sum()
}

impl Inner {
    fn evict_to_fit(&mut self) {
        while (self.bytes > MAX_BYTES && self.exchanges.len() > 1)
            || self.exchanges.len() > self.capacity
        {
            if let Some((e, request, response)) = self.exchanges.pop_front() {
                self.bytes -= recorded_size(&e) + request.len() + total_len(&response);
            }
        }
    }
}

impl Transcript {
    pub fn new(capacity: usize) -> Transcript {
        Transcript {
            inner: Mutex::new(Inner {
                exchanges: VecDeque::new(),
                in_flight: std::collections::BTreeMap::new(),
                next_arrival: 0,
                next_seq: 0,
                capacity,
                bytes: 0,
            }),
            started: std::time::Instant::now(),
            enabled: capacity > 0,
        }
    }

    /// Milliseconds since the simulator started (the clock of the exchanges' timestamps).
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes a request as received; it stays in flight until the returned guard is dropped
    /// (when its response head is ready, or the request is abandoned).
    pub(crate) fn arrive(self: &Arc<Self>, method: &str, uri: &impl ToString) -> InFlight {
        if !self.enabled {
            // Transcripts off (a load test): nothing is recorded, in flight or not.
            return InFlight {
                transcript: Arc::clone(self),
                id: None,
            };
        }
        let mut inner = self.lock();
        let id = inner.next_arrival;
        inner.next_arrival += 1;
        inner
            .in_flight
            .insert(id, (method.to_owned(), uri.to_string()));
        InFlight {
            transcript: Arc::clone(self),
            id: Some(id),
        }
    }

    /// Whether exchanges are recorded at all (a capacity of 0 turns transcripts off): callers
    /// skip building what would not be kept.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Requests received and not answered yet, in arrival order: method and URI.
    pub fn in_flight(&self) -> Vec<(String, String)> {
        self.lock().in_flight.values().cloned().collect()
    }

    /// Records the start of an exchange, made by `exchange` only when transcripts are on,
    /// with the body of its request; returns its sequence number.
    pub(crate) fn begin(&self, request_body: Bytes, exchange: impl FnOnce() -> Exchange) -> u64 {
        if !self.enabled {
            return 0; // nothing is recorded, so no later call looks the number up
        }
        let seq = {
            let mut inner = self.lock();
            let seq = inner.next_seq;
            inner.next_seq += 1;
            seq
        };
        // Made outside the lock (it copies headers and the request body), so concurrent
        // requests do not queue behind it; it is then put in sequence order.
        let mut exchange = exchange();
        exchange.seq = seq;
        let mut inner = self.lock();
        inner.bytes += recorded_size(&exchange) + request_body.len();
        let at = inner.exchanges.partition_point(|(e, _, _)| e.seq < seq);
        inner
            .exchanges
            .insert(at, (exchange, request_body, Vec::new()));
        inner.evict_to_fit();
        seq
    }

    fn with(&self, seq: u64, f: impl FnOnce(&mut Exchange, &mut Vec<Bytes>) -> usize) {
        if !self.enabled {
            return;
        }
        let mut inner = self.lock();
        // Exchanges are kept in sequence order (see `begin`); an evicted one is not found.
        let found = inner
            .exchanges
            .binary_search_by_key(&seq, |(e, _, _)| e.seq)
            .ok();
        let added = match found.and_then(|i| inner.exchanges.get_mut(i)) {
            Some((e, _, body)) => f(e, body),
            None => 0,
        };
        inner.bytes += added;
        inner.evict_to_fit();
    }

    pub(crate) fn body_bytes(&self, seq: u64, bytes: Bytes) {
        self.with(seq, |_, body| {
            let len = bytes.len();
            body.push(bytes);
            len
        });
    }

    pub(crate) fn finish(&self, seq: u64, cut: Option<Cut>) {
        self.with(seq, |e, _| {
            e.finished = true;
            e.cut = cut;
            0
        });
    }

    /// Every recorded exchange, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.lock()
            .exchanges
            .iter()
            .map(|(e, request, response)| Exchange {
                request_body: RecordedBody::of(request),
                response_body: RecordedBody::of(&response.concat()),
                ..e.clone()
            })
            .collect()
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        // A new deque, not `clear()`: the memory goes back, not only the entries.
        inner.exchanges = VecDeque::new();
        inner.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange() -> Exchange {
        Exchange {
            seq: 0,
            method: "GET".into(),
            uri: "/s".into(),
            request_headers: Vec::new(),
            request_body: RecordedBody::default(),
            status: 200,
            response_headers: Vec::new(),
            response_body: RecordedBody::default(),
            faults: Vec::new(),
            cut: None,
            finished: false,
            received_ms: 0,
            answered_ms: 0,
        }
    }

    /// The request body is kept as received (a handle, not a copy), listed as text, and
    /// counts toward the byte bound until its exchange is evicted.
    #[test]
    fn request_bodies_are_listed_as_received_and_counted() {
        let t = Transcript::new(1);
        t.begin(Bytes::from_static(b"[{\"a\":1}]"), exchange);
        t.begin(Bytes::from_static(&[0xff, 0x00]), exchange);
        let kept = t.exchanges();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (
                kept[0].request_body.text.as_str(),
                kept[0].request_body.base64
            ),
            ("/wA=", true)
        );
        let inner = t.lock();
        assert_eq!(inner.bytes, recorded_size(&inner.exchanges[0].0) + 2);
    }

    /// Exchanges begun at once are made outside the lock and may finish being made in any
    /// order; the transcript still lists them in sequence order.
    #[test]
    fn exchanges_made_out_of_order_are_listed_in_sequence_order() {
        let t = Transcript::new(100);
        let outer = t.begin(Bytes::new(), || {
            // A second exchange begins and is recorded while the first is still being made.
            let inner = t.begin(Bytes::new(), exchange);
            assert_eq!(inner, 1);
            exchange()
        });
        assert_eq!(outer, 0);
        t.begin(Bytes::new(), exchange);
        assert_eq!(
            t.exchanges().iter().map(|e| e.seq).collect::<Vec<_>>(),
            [0, 1, 2]
        );
    }

    #[test]
    fn keeps_at_most_capacity_exchanges_and_max_bytes_of_bodies() {
        let t = Transcript::new(3);
        for _ in 0..5 {
            t.begin(Bytes::new(), exchange);
        }
        assert_eq!(
            t.exchanges().iter().map(|e| e.seq).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        let big = vec![b'x'; MAX_BYTES / 2 + 1];
        for _ in 0..3 {
            let seq = t.begin(Bytes::new(), exchange);
            t.body_bytes(seq, Bytes::from(big.clone()));
        }
        let kept = t.exchanges();
        assert_eq!(kept.len(), 1, "two bodies of half the budget do not fit");
        assert_eq!(kept[0].seq, 7);
    }

    #[test]
    fn headers_count_against_the_byte_budget() {
        let t = Transcript::new(usize::MAX);
        let big = "h".repeat(MAX_BYTES / 4 + 1);
        for _ in 0..5 {
            t.begin(Bytes::new(), || Exchange {
                request_headers: vec![("x-big".into(), big.clone())],
                ..exchange()
            });
        }
        assert_eq!(
            t.exchanges().len(),
            3,
            "four such exchanges exceed the budget"
        );
        t.clear();
        assert!(t.exchanges().is_empty());
        assert_eq!(t.lock().bytes, 0);
    }
}
