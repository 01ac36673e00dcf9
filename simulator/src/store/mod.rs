//! Streams in memory, and the protocol rules that do not depend on HTTP (PROTOCOL §4, §5, §9).
//!
//! A stream is a list of chunks (one per message in JSON mode, one per append otherwise),
//! each at a byte position; offsets are positions, so finding where a read starts is a binary
//! search (O(log n)). Every change bumps a per-stream `watch` channel that live readers wait on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::offset::Offset;

mod append;
mod state_protocol;

use append::{Block, json_messages};
use state_protocol::with_served_offset;

/// A protocol error: the status to answer with and a short reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {reason}")]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
    /// Extra response headers (e.g. `Stream-Closed`, producer headers).
    pub headers: Vec<(&'static str, String)>,
}

impl Refusal {
    pub fn new(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> Refusal {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// How long a stream lives (PROTOCOL §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifetime {
    Forever,
    /// Sliding: idle seconds before expiry; reads and writes reset it.
    Ttl(u64),
    /// Absolute: the header text as given, and the instant it denotes.
    ExpiresAt(String, OffsetDateTime),
}

/// What a PUT asks for.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub content_type: String,
    pub lifetime: Lifetime,
    pub closed: bool,
    pub body: Bytes,
}

/// An idempotent producer's identity on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerHeaders {
    pub id: String,
    pub epoch: u64,
    pub seq: u64,
}

/// What a POST asks for.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub content_type: Option<String>,
    pub close: bool,
    pub stream_seq: Option<String>,
    pub producer: Option<ProducerHeaders>,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// New data and/or a close was written.
    Appended {
        next: Offset,
        wrote_data: bool,
        closed: bool,
        producer: Option<(u64, u64)>,
    },
    /// An idempotent producer's retry: nothing written.
    Duplicate {
        next: Offset,
        closed: bool,
        producer: (u64, u64),
    },
    /// Close-only on an already closed stream.
    AlreadyClosed { next: Offset },
}

/// Stream metadata, as HEAD reports it.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub id: u64,
    pub content_type: String,
    pub lifetime: Lifetime,
    pub tail: Offset,
    pub closed: bool,
}

/// How a read is shaped (by the simulator's settings and by faults).
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// The most bytes a page holds (at least one message is always returned).
    pub max_bytes: usize,
    /// The most messages a page holds.
    pub max_messages: Option<usize>,
    /// Add `headers.offset` (the message's own offset) to served JSON messages.
    pub served_offsets: bool,
}

/// A state-level or lifecycle change applied to a stream (the fault catalogue's rows that
/// act on the stream itself rather than on one exchange).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "action",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Action {
    /// Append a reset; with `offset`, it names the offset right after itself (where reading
    /// should restart); with `snapshot`, a full snapshot of the current state follows it.
    /// With `skip` (and `offset`), these messages are appended right after the reset, which
    /// names the offset past them: a reader that honours the offset never applies them.
    Reset {
        offset: bool,
        snapshot: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        skip: Vec<serde_json::Value>,
    },
    /// Append snapshot-start, an insert for every entity of the current state, snapshot-end.
    Snapshot,
    /// Drop history before the last snapshot-start (appending a snapshot first if there is
    /// none): reads from older offsets answer 410.
    Compact,
    /// Close the stream (EOF).
    Close,
    /// Delete the stream.
    Delete,
}

/// One stored message and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub offset: Offset,
    pub next: Offset,
    pub data: Bytes,
}

/// A stream's retained messages (see [`Store::log`]).
#[derive(Debug, Clone)]
pub struct Log {
    pub messages: Vec<Logged>,
    /// The first retained position (after a compaction, older offsets answer 410).
    pub earliest: Offset,
    pub meta: Metadata,
}

/// One page of a read.
#[derive(Debug, Clone)]
pub struct Page {
    pub meta: Metadata,
    pub start: Offset,
    /// The response body: raw bytes, or a JSON array in JSON mode.
    pub body: Bytes,
    /// How many stored chunks the page holds.
    pub chunks: usize,
    pub next: Offset,
    /// The page reaches the tail.
    pub up_to_date: bool,
}

#[derive(Debug)]
struct Chunk {
    start: u64,
    data: Bytes,
}

#[derive(Debug, Clone, Copy)]
struct Producer {
    epoch: u64,
    last_seq: u64,
}

#[derive(Debug)]
struct Stream {
    id: u64,
    content_type: String,
    json: bool,
    lifetime: Lifetime,
    chunks: Vec<Chunk>,
    tail: u64,
    closed: bool,
    /// The producer request that closed the stream, for idempotent retries.
    closed_by: Option<ProducerHeaders>,
    last_stream_seq: Option<String>,
    producers: HashMap<String, Producer>,
    touched: Instant,
    changes: watch::Sender<u64>,
    /// Reads before this position answer 410 (history compacted behind a snapshot).
    earliest: u64,
    /// Where small messages are kept (see [`Stream::keep`]).
    block: Block,
}

/// Media type without parameters, lower-cased: what content-type comparisons use.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

pub fn is_json(content_type: &str) -> bool {
    media_type(content_type) == "application/json"
}

impl Stream {
    fn meta(&self) -> Metadata {
        Metadata {
            id: self.id,
            content_type: self.content_type.clone(),
            lifetime: self.lifetime.clone(),
            tail: Offset(self.tail),
            closed: self.closed,
        }
    }

    fn expired(&self, now: Instant) -> bool {
        match &self.lifetime {
            Lifetime::Forever => false,
            Lifetime::Ttl(secs) => now.duration_since(self.touched) >= Duration::from_secs(*secs),
            Lifetime::ExpiresAt(_, at) => OffsetDateTime::now_utc() >= *at,
        }
    }

    fn notify(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    /// Index of the first chunk that ends after `position` (binary search).
    fn chunk_at(&self, position: u64) -> usize {
        self.chunks
            .partition_point(|c| c.start + c.data.len() as u64 <= position)
    }

    fn read(&self, from: u64, opts: ReadOptions) -> Result<Page, Refusal> {
        if from > self.tail {
            return Err(Refusal::new(400, "offset is beyond the end of the stream"));
        }
        if from < self.earliest {
            return Err(Refusal::new(
                410,
                "offset is before the earliest retained position (compacted)",
            ));
        }
        let first = self.chunk_at(from);
        if self.json && first < self.chunks.len() && self.chunks[first].start != from {
            return Err(Refusal::new(400, "offset is not a message boundary"));
        }
        let mut taken = Vec::new();
        let mut size = 0usize;
        let mut next = from;
        for chunk in &self.chunks[first..] {
            let skip = (next - chunk.start) as usize;
            let mut data = chunk.data.slice(skip..);
            let full = opts.max_messages.is_some_and(|m| taken.len() >= m);
            if !taken.is_empty() && (size + data.len() > opts.max_bytes || full) {
                break;
            }
            if self.json && opts.served_offsets {
                data = with_served_offset(&data, Offset(chunk.start));
            }
            size += data.len();
            next = chunk.start + chunk.data.len() as u64;
            taken.push(data);
        }
        let chunks = taken.len();
        let body = if self.json {
            let mut out = Vec::with_capacity(size + taken.len() + 2);
            out.push(b'[');
            for (i, m) in taken.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(m);
            }
            out.push(b']');
            Bytes::from(out)
        } else if taken.len() == 1 {
            taken.pop().unwrap_or_default()
        } else {
            Bytes::from(taken.concat())
        };
        Ok(Page {
            meta: self.meta(),
            start: Offset(from),
            chunks,
            body,
            next: Offset(next),
            up_to_date: next == self.tail,
        })
    }
}

/// Every stream of a simulator.
#[derive(Debug, Default)]
pub struct Store {
    streams: Mutex<HashMap<String, Stream>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Store {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Stream>> {
        // A panic while holding the lock cannot leave a stream half-written (every mutation
        // completes before it returns), so a poisoned lock is still consistent.
        self.streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The live stream at `path`, dropping it first if it has expired.
    fn live<'m>(map: &'m mut HashMap<String, Stream>, path: &str) -> Option<&'m mut Stream> {
        if map.get(path).is_some_and(|s| s.expired(Instant::now())) {
            if let Some(gone) = map.remove(path) {
                gone.notify();
            }
        }
        map.get_mut(path)
    }

    /// PUT: creates the stream, or confirms an identical one (`Ok(false)`).
    pub fn create(&self, path: &str, req: CreateRequest) -> Result<(bool, Metadata), Refusal> {
        let mut map = self.lock();
        if let Some(existing) = Self::live(&mut map, path) {
            let same = media_type(&existing.content_type) == media_type(&req.content_type)
                && existing.lifetime == req.lifetime
                && existing.closed == req.closed;
            return match same {
                true => Ok((false, existing.meta())),
                false => Err(Refusal::new(
                    409,
                    "a stream with a different configuration exists at this URL",
                )),
            };
        }
        let json = is_json(&req.content_type);
        let messages = match (json, req.body.is_empty()) {
            (_, true) => Vec::new(),
            (true, false) => json_messages(&req.body, true)?,
            (false, false) => vec![req.body.clone()],
        };
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut stream = Stream {
            id,
            content_type: req.content_type,
            json,
            lifetime: req.lifetime,
            chunks: Vec::new(),
            tail: 0,
            closed: req.closed,
            closed_by: None,
            last_stream_seq: None,
            producers: HashMap::new(),
            touched: Instant::now(),
            changes: watch::channel(0).0,
            earliest: 0,
            block: Block::default(),
        };
        stream.push(messages);
        let meta = stream.meta();
        map.insert(path.to_owned(), stream);
        Ok((true, meta))
    }

    /// HEAD (does not reset a sliding TTL).
    pub fn metadata(&self, path: &str) -> Option<Metadata> {
        let mut map = self.lock();
        Self::live(&mut map, path).map(|s| s.meta())
    }

    /// A page of data from `from`, and a receiver that changes when the stream does.
    /// `from: None` reads at the tail; the beginning of a compacted stream is its earliest
    /// retained position.
    pub fn read(
        &self,
        path: &str,
        from: Option<Offset>,
        opts: ReadOptions,
    ) -> Result<(Page, watch::Receiver<u64>), Refusal> {
        let mut map = self.lock();
        let stream =
            Self::live(&mut map, path).ok_or_else(|| Refusal::new(404, "no such stream"))?;
        stream.touched = Instant::now();
        let from = match from {
            None => stream.tail,
            Some(Offset(0)) => stream.earliest,
            Some(o) => o.0,
        };
        Ok((stream.read(from, opts)?, stream.changes.subscribe()))
    }

    pub fn delete(&self, path: &str) -> bool {
        let mut map = self.lock();
        match Self::live(&mut map, path).is_some() {
            true => {
                let gone = map.remove(path);
                gone.inspect(Stream::notify).is_some()
            }
            false => false,
        }
    }
}

#[cfg(test)]
mod tests;
