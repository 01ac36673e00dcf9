//! Transcripts: every exchange the simulator served, as it went over the wire (including
//! where a response was cut), for failure reports and replay.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use serde::Serialize;

use crate::fault::{Fault, RequestKind};

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

/// A header list as recorded: each name and value (the value lossily UTF-8) followed by a
/// NUL, which neither can contain, in one string: one allocation per list while recording,
/// split into pairs only when listed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HeaderList(String);

impl HeaderList {
    pub(crate) fn of<'h>(pairs: impl IntoIterator<Item = (&'h str, &'h [u8])>) -> HeaderList {
        let mut list = String::new();
        for (name, value) in pairs {
            list.push_str(name);
            list.push('\0');
            list.push_str(&String::from_utf8_lossy(value));
            list.push('\0');
        }
        HeaderList(list)
    }

    /// The value of the first header named `name` (lower case), if any.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let mut parts = self.0.split_terminator('\0');
        while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
            if k == name {
                return Some(v);
            }
        }
        None
    }

    fn pairs(&self) -> Vec<(String, String)> {
        let mut parts = self.0.split_terminator('\0');
        std::iter::from_fn(|| Some((parts.next()?.to_owned(), parts.next()?.to_owned()))).collect()
    }

    /// What the list counts against the byte bound: its names and values.
    fn size(&self) -> usize {
        self.0.len()
    }
}

/// An exchange as the transcript holds it: header lists packed, bodies as the bytes
/// received and sent (the response in the chunks sent).
#[derive(Debug)]
pub(crate) struct Kept {
    /// Everything but the header lists and the bodies.
    pub(crate) exchange: Exchange,
    request_headers: HeaderList,
    pub(crate) response_headers: HeaderList,
    request_body: Bytes,
    pub(crate) response_body: Vec<Bytes>,
    /// When the response last sent bytes, or ended: what a reader's silence counts from.
    pub(crate) last_sent_ms: u64,
}

impl Kept {
    /// What it holds apart from its response body: the request line, both header lists
    /// (headers count: 2,000 requests with large headers must not grow the simulator without
    /// bound) and the request body.
    fn size(&self) -> usize {
        let e = &self.exchange;
        e.method.len()
            + e.uri.len()
            + self.request_headers.size()
            + self.response_headers.size()
            + self.request_body.len()
    }
}

/// What shaping hands the transcript when an exchange begins.
pub(crate) struct Begun {
    /// The exchange with its header lists and bodies empty.
    pub exchange: Exchange,
    pub request_headers: HeaderList,
    pub response_headers: HeaderList,
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
    /// What kind of request it was, as fault rules classify it (classified once, where the
    /// request was served).
    pub kind: RequestKind,
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

/// The value of query parameter `name` in `uri`, as sent (not percent-decoded), if present.
pub fn query_param<'u>(uri: &'u str, name: &str) -> Option<&'u str> {
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// Whether `uri` addresses the stream at `path` (the path itself, with or without a query).
pub fn addresses(uri: &str, path: &str) -> bool {
    uri.strip_prefix(path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
}

impl Exchange {
    /// The value of query parameter `name` in the request's URI, if present.
    pub fn query(&self, name: &str) -> Option<&str> {
        query_param(&self.uri, name)
    }

    /// Whether this exchange is a read (`GET`) of the stream at `path`.
    pub fn reads(&self, path: &str) -> bool {
        self.method == "GET" && addresses(&self.uri, path)
    }

    /// Whether `fault`, listed on this exchange, really acted on it: a transport fault only
    /// when it is the one that cut the response (a cut aimed past the body's end, or an SSE
    /// close the connection never reached, did nothing), an empty long-poll only when it
    /// served a 204; every other fault acts by being applied.
    pub fn fault_acted(&self, fault: &Fault) -> bool {
        if !self.faults.contains(fault) {
            return false;
        }
        match (fault.cut_name(), fault) {
            (Some(how), _) => self.cut.as_ref().is_some_and(|c| c.how == how),
            (None, Fault::EmptyLongPoll) => self.status == 204,
            (None, _) => true,
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
pub(crate) struct Inner {
    /// In sequence order.
    pub(crate) exchanges: VecDeque<Kept>,
    /// Requests received whose response head is not ready yet (a long-poll waiting for data),
    /// by arrival number: method, URI and when it arrived.
    pub(crate) in_flight: std::collections::BTreeMap<u64, (String, String, u64)>,
    next_arrival: u64,
    next_seq: u64,
    capacity: usize,
    /// Bytes held: each exchange's [`Kept::size`] plus its response body as sent.
    bytes: usize,
}

/// A request in flight (see [`Transcript::arrive`]).
pub(crate) struct InFlight {
    transcript: Arc<Transcript>,
    id: Option<u64>,
}

impl InFlight {
    /// Its number among the arrivals (none with transcripts off).
    pub(crate) fn id(&self) -> Option<u64> {
        self.id
    }
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
            if let Some(kept) = self.exchanges.pop_front() {
                self.bytes -= kept.size() + total_len(&kept.response_body);
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

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes a request as received; it stays in flight until the returned guard is dropped
    /// (when its response head is ready, or the request is abandoned).
    pub(crate) fn arrive(self: &Arc<Self>, method: &str, uri: &str) -> InFlight {
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
        let now = self.now_ms();
        inner
            .in_flight
            .insert(id, (method.to_owned(), uri.to_owned(), now));
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
        let inner = self.lock();
        inner
            .in_flight
            .values()
            .map(|(m, u, _)| (m.clone(), u.clone()))
            .collect()
    }

    /// Records the start of an exchange, made by `begun` only when transcripts are on, with
    /// the body of its request; returns its sequence number. The request (`arrival`) stops
    /// being in flight in the same step, so no reader of the transcript sees it twice.
    pub(crate) fn begin(
        &self,
        request_body: Bytes,
        arrival: Option<u64>,
        begun: impl FnOnce() -> Begun,
    ) -> u64 {
        if !self.enabled {
            return 0; // nothing is recorded, so no later call looks the number up
        }
        let seq = {
            let mut inner = self.lock();
            let seq = inner.next_seq;
            inner.next_seq += 1;
            seq
        };
        // Made outside the lock (it copies headers), so concurrent requests do not queue
        // behind it; it is then put in sequence order.
        let Begun {
            mut exchange,
            request_headers,
            response_headers,
        } = begun();
        exchange.seq = seq;
        let kept = Kept {
            exchange,
            request_headers,
            response_headers,
            request_body,
            response_body: Vec::new(),
            last_sent_ms: self.now_ms(),
        };
        let mut inner = self.lock();
        if let Some(id) = arrival {
            inner.in_flight.remove(&id);
        }
        inner.bytes += kept.size();
        let at = inner.exchanges.partition_point(|k| k.exchange.seq < seq);
        inner.exchanges.insert(at, kept);
        inner.evict_to_fit();
        seq
    }

    fn with(&self, seq: u64, f: impl FnOnce(&mut Exchange, &mut Vec<Bytes>) -> usize) {
        let now = self.now_ms();
        if !self.enabled {
            return;
        }
        let mut inner = self.lock();
        // Exchanges are kept in sequence order (see `begin`); an evicted one is not found.
        let found = inner
            .exchanges
            .binary_search_by_key(&seq, |k| k.exchange.seq)
            .ok();
        let added = match found.and_then(|i| inner.exchanges.get_mut(i)) {
            Some(kept) => {
                kept.last_sent_ms = now;
                f(&mut kept.exchange, &mut kept.response_body)
            }
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
        Self::listed(&self.lock())
    }

    /// Every recorded exchange and the requests still in flight, read at one instant: a
    /// request that starts its response in between is in one list, never in both.
    pub fn snapshot(&self) -> (Vec<Exchange>, Vec<(String, String)>) {
        let inner = self.lock();
        let in_flight = inner
            .in_flight
            .values()
            .map(|(m, u, _)| (m.clone(), u.clone()))
            .collect();
        (Self::listed(&inner), in_flight)
    }

    fn listed(inner: &Inner) -> Vec<Exchange> {
        inner
            .exchanges
            .iter()
            .map(|kept| Exchange {
                request_headers: kept.request_headers.pairs(),
                response_headers: kept.response_headers.pairs(),
                request_body: RecordedBody::of(&kept.request_body),
                response_body: RecordedBody::of(&kept.response_body.concat()),
                ..kept.exchange.clone()
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
#[path = "transcript_tests.rs"]
mod tests;
