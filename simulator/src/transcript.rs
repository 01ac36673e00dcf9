//! Transcripts: every exchange the simulator served, as it went over the wire (including
//! where a response was cut), for failure reports and replay.

use std::collections::VecDeque;
use std::sync::Mutex;

use base64::Engine;
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
}

/// The most recent exchanges (at most `capacity`), oldest first.
#[derive(Debug)]
pub struct Transcript {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    exchanges: VecDeque<(Exchange, Vec<u8>)>,
    next_seq: u64,
    capacity: usize,
}

impl Transcript {
    pub fn new(capacity: usize) -> Transcript {
        Transcript {
            inner: Mutex::new(Inner {
                exchanges: VecDeque::new(),
                next_seq: 0,
                capacity,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the start of an exchange; returns its sequence number.
    pub(crate) fn begin(&self, mut exchange: Exchange) -> u64 {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.capacity == 0 {
            return seq;
        }
        exchange.seq = seq;
        if inner.exchanges.len() == inner.capacity {
            inner.exchanges.pop_front();
        }
        inner.exchanges.push_back((exchange, Vec::new()));
        seq
    }

    fn with(&self, seq: u64, f: impl FnOnce(&mut Exchange, &mut Vec<u8>)) {
        let mut inner = self.lock();
        if let Some((e, body)) = inner.exchanges.iter_mut().rev().find(|(e, _)| e.seq == seq) {
            f(e, body);
        }
    }

    pub(crate) fn body_bytes(&self, seq: u64, bytes: &[u8]) {
        self.with(seq, |_, body| body.extend_from_slice(bytes));
    }

    pub(crate) fn finish(&self, seq: u64, cut: Option<Cut>) {
        self.with(seq, |e, _| {
            e.finished = true;
            e.cut = cut;
        });
    }

    /// Every recorded exchange, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.lock()
            .exchanges
            .iter()
            .map(|(e, body)| Exchange {
                response_body: RecordedBody::of(body),
                ..e.clone()
            })
            .collect()
    }

    pub fn clear(&self) {
        self.lock().exchanges.clear();
    }
}
