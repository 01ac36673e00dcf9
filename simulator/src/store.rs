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

/// The block a stream copies its small messages into, and the size of the next one.
#[derive(Debug, Default)]
struct Block {
    free: BytesMut,
    next_size: usize,
}

/// Blocks grow from the first to the largest size, doubling, so a small stream stays small.
const FIRST_BLOCK: usize = 4 << 10;
const LARGEST_BLOCK: usize = 1 << 20;

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

fn control_message(control: &str, offset: Option<Offset>) -> Bytes {
    let headers = match offset {
        Some(o) => serde_json::json!({"control": control, "offset": o.to_string()}),
        None => serde_json::json!({"control": control}),
    };
    Bytes::from(serde_json::json!({"headers": headers}).to_string())
}

/// The position a reset names, if `item` is a reset naming one this store wrote.
fn reset_offset(item: &serde_json::Value) -> Option<u64> {
    if item.pointer("/headers/control")?.as_str()? != "reset" {
        return None;
    }
    Offset::parse(item.pointer("/headers/offset")?.as_str()?).map(|o| o.0)
}

fn is_control(message: &[u8], control: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(message)
        .ok()
        .is_some_and(|v| v.pointer("/headers/control").and_then(|c| c.as_str()) == Some(control))
}

/// The message with `headers.offset` set to its own offset, if it has a headers object.
fn with_served_offset(message: &Bytes, offset: Offset) -> Bytes {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(message) else {
        return message.clone();
    };
    match value.get_mut("headers").and_then(|h| h.as_object_mut()) {
        Some(headers) => {
            headers.insert("offset".into(), offset.to_string().into());
            Bytes::from(value.to_string())
        }
        None => message.clone(),
    }
}

/// Splits a JSON-mode body into messages: one level of array flattening (§9.1.2). The body
/// is parsed (and so validated) once, and each message is a slice of it, not a copy.
fn json_messages(body: &Bytes, allow_empty_array: bool) -> Result<Vec<Bytes>, Refusal> {
    let text =
        std::str::from_utf8(body).map_err(|_| Refusal::new(400, "body is not UTF-8 JSON"))?;
    let invalid = |e: serde_json::Error| Refusal::new(400, format!("invalid JSON: {e}"));
    // A value borrowed from `text` is a slice of `body`: where it starts is a pointer offset.
    let slice = |raw: &RawValue| {
        let start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        body.slice(start..start + raw.get().len())
    };
    let array = text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('[');
    if array {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(invalid)?;
        if items.is_empty() && !allow_empty_array {
            return Err(Refusal::new(400, "an empty JSON array appends nothing"));
        }
        Ok(items.into_iter().map(slice).collect())
    } else {
        let value: &RawValue = serde_json::from_str(text).map_err(invalid)?;
        Ok(vec![slice(value)])
    }
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

    fn push(&mut self, messages: Vec<Bytes>) {
        for data in messages {
            let data = self.keep(data);
            let start = self.tail;
            self.tail += data.len() as u64;
            self.chunks.push(Chunk { start, data });
        }
    }

    /// A message as stored. A small one is copied into the stream's current block: a body
    /// as received is a slice of hyper's read buffer, and holding it would keep that whole
    /// buffer alive (often several times the body) and make hyper allocate a fresh one for
    /// the next request, each a new piece of heap to map and fault in. Blocks are the
    /// stream's own, so deleting a stream frees them whole. A large message (collected from
    /// several reads into an allocation of its own) is kept as received.
    fn keep(&mut self, data: Bytes) -> Bytes {
        if data.len() > LARGEST_BLOCK / 8 {
            return data;
        }
        let block = &mut self.block;
        if block.free.capacity() < data.len() {
            let size = block.next_size.max(FIRST_BLOCK).max(data.len());
            block.next_size = (size * 2).min(LARGEST_BLOCK);
            block.free = BytesMut::with_capacity(size);
        }
        block.free.extend_from_slice(&data);
        block.free.split().freeze()
    }

    /// snapshot-start, an insert for every entity the stream materializes to (reference
    /// materializer, default profile), snapshot-end. The stored log is read in one pass, so a
    /// reset is followed by what comes after it, except what a reset's offset skips.
    fn snapshot_messages(&self) -> Vec<Bytes> {
        use state_reference::profile::ResetOffset;
        use state_reference::{Batch, Collection, Materializer, Profile};
        let mut resume = self.earliest;
        let mut items = Vec::new();
        for c in &self.chunks {
            if c.start < resume {
                continue;
            }
            let Ok(item) = serde_json::from_slice::<serde_json::Value>(&c.data) else {
                continue;
            };
            if let Some(to) = reset_offset(&item) {
                resume = resume.max(to);
            }
            items.push(item);
        }
        let mut profile = Profile::default_profile();
        profile.reset_offset = ResetOffset::Continue;
        let mut m = Materializer::new(profile);
        m.apply_batch(Batch {
            items,
            offset: None,
            up_to_date: true,
        });
        let mut out = vec![control_message("snapshot-start", None)];
        for (entity_type, entities) in m.observe().state {
            let collection = Collection::new(entity_type.clone(), entity_type, "id");
            for (key, value) in entities {
                if let Ok(change) = collection.insert(value).key(key).build() {
                    out.push(Bytes::from(change.to_value().to_string()));
                }
            }
        }
        out.push(control_message("snapshot-end", None));
        out
    }

    /// Position of the last snapshot-start control message, if any.
    fn last_snapshot_start(&self) -> Option<u64> {
        self.chunks
            .iter()
            .rev()
            .find(|c| is_control(&c.data, "snapshot-start"))
            .map(|c| c.start)
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

    /// POST: appends and/or closes (§5.2, §5.2.1, §5.3).
    pub fn append(&self, path: &str, req: AppendRequest) -> Result<AppendOutcome, Refusal> {
        // A JSON body is split before the lock is taken, so appends to any streams parse in
        // parallel; its error, if any, is reported where the checks below reach it.
        let parsed = (!req.body.is_empty() && req.content_type.as_deref().is_some_and(is_json))
            .then(|| json_messages(&req.body, false));
        let mut map = self.lock();
        let stream =
            Self::live(&mut map, path).ok_or_else(|| Refusal::new(404, "no such stream"))?;
        stream.touched = Instant::now();
        let next = Offset(stream.tail);
        let close_only = req.body.is_empty();
        if close_only && !req.close {
            return Err(Refusal::new(400, "empty body: nothing to append"));
        }
        if stream.closed {
            if close_only {
                return Ok(AppendOutcome::AlreadyClosed { next });
            }
            if let (Some(p), Some(by)) = (&req.producer, &stream.closed_by)
                && p == by
            {
                return Ok(AppendOutcome::Duplicate {
                    next,
                    closed: true,
                    producer: (p.epoch, p.seq),
                });
            }
            return Err(Refusal::new(409, "the stream is closed")
                .with("Stream-Closed", "true")
                .with("Stream-Next-Offset", next));
        }
        if !close_only {
            match &req.content_type {
                None => return Err(Refusal::new(400, "Content-Type is required with a body")),
                Some(ct) if media_type(ct) != media_type(&stream.content_type) => {
                    return Err(Refusal::new(
                        409,
                        format!(
                            "content type {ct} does not match the stream's {}",
                            stream.content_type
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let producer_state = match &req.producer {
            Some(p) => match stream.producers.get(&p.id) {
                Some(state) if p.epoch < state.epoch => {
                    return Err(Refusal::new(403, "stale producer epoch")
                        .with("Producer-Epoch", state.epoch));
                }
                Some(state) if p.epoch == state.epoch && p.seq <= state.last_seq => {
                    return Ok(AppendOutcome::Duplicate {
                        next,
                        closed: stream.closed,
                        producer: (p.epoch, state.last_seq),
                    });
                }
                Some(state) if p.epoch == state.epoch && p.seq > state.last_seq + 1 => {
                    return Err(Refusal::new(409, "producer sequence gap")
                        .with("Producer-Expected-Seq", state.last_seq + 1)
                        .with("Producer-Received-Seq", p.seq));
                }
                _ if p.seq != 0
                    && stream
                        .producers
                        .get(&p.id)
                        .is_none_or(|s| p.epoch > s.epoch) =>
                {
                    return Err(Refusal::new(
                        400,
                        "a new producer epoch must start at sequence 0",
                    ));
                }
                _ => Some(Producer {
                    epoch: p.epoch,
                    last_seq: p.seq,
                }),
            },
            None => None,
        };
        if let (Some(seq), Some(last)) = (&req.stream_seq, &stream.last_stream_seq)
            && seq.as_bytes() <= last.as_bytes()
        {
            return Err(Refusal::new(
                409,
                format!("Stream-Seq {seq:?} is not after {last:?}"),
            ));
        }
        let messages = match (close_only, stream.json) {
            (true, _) => Vec::new(),
            (false, true) => match parsed {
                Some(messages) => messages?,
                None => json_messages(&req.body, false)?,
            },
            (false, false) => vec![req.body.clone()],
        };
        stream.push(messages);
        if let Some(seq) = req.stream_seq {
            stream.last_stream_seq = Some(seq);
        }
        if let (Some(p), Some(state)) = (&req.producer, producer_state) {
            stream.producers.insert(p.id.clone(), state);
        }
        if req.close {
            stream.closed = true;
            stream.closed_by = req.producer.clone();
        }
        stream.notify();
        Ok(AppendOutcome::Appended {
            next: Offset(stream.tail),
            wrote_data: !close_only,
            closed: stream.closed,
            producer: producer_state.map(|s| (s.epoch, s.last_seq)),
        })
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

    /// Applies a state-level or lifecycle action; returns the stream's new tail.
    pub fn act(&self, path: &str, action: &Action) -> Result<Offset, Refusal> {
        if *action == Action::Delete {
            return match self.delete(path) {
                true => Ok(Offset(0)),
                false => Err(Refusal::new(404, "no such stream")),
            };
        }
        let mut map = self.lock();
        let stream =
            Self::live(&mut map, path).ok_or_else(|| Refusal::new(404, "no such stream"))?;
        if *action == Action::Close {
            stream.closed = true;
            stream.notify();
            return Ok(Offset(stream.tail));
        }
        if !stream.json {
            return Err(Refusal::new(
                409,
                "state-level actions need an application/json stream",
            ));
        }
        if stream.closed {
            return Err(Refusal::new(409, "the stream is closed"));
        }
        match action {
            Action::Reset {
                offset,
                snapshot,
                skip,
            } => {
                let snapshot_messages = if *snapshot {
                    stream.snapshot_messages()
                } else {
                    Vec::new()
                };
                let skipped: Vec<Bytes> = skip.iter().map(|m| Bytes::from(m.to_string())).collect();
                // The reset names the offset right after itself and what it skips: where the
                // new state begins. Offsets are fixed-width, so its length does not depend on
                // the value.
                let own_len = control_message("reset", Some(Offset(0))).len() as u64;
                let skipped_len: u64 = skipped.iter().map(|m| m.len() as u64).sum();
                let reset = control_message(
                    "reset",
                    offset.then(|| Offset(stream.tail + own_len + skipped_len)),
                );
                stream.push(vec![reset]);
                stream.push(skipped);
                stream.push(snapshot_messages);
            }
            Action::Snapshot => {
                let messages = stream.snapshot_messages();
                stream.push(messages);
            }
            Action::Compact => {
                let start = match stream.last_snapshot_start() {
                    Some(start) => start,
                    None => {
                        let start = stream.tail;
                        let messages = stream.snapshot_messages();
                        stream.push(messages);
                        start
                    }
                };
                stream.earliest = start;
            }
            Action::Close | Action::Delete => {}
        }
        stream.notify();
        Ok(Offset(stream.tail))
    }

    /// Every retained message of a JSON stream with its own and its successor's offset (what
    /// a fresh reader from the beginning would be served), optionally in served form.
    pub fn log(&self, path: &str, served_offsets: bool) -> Result<Log, Refusal> {
        let mut map = self.lock();
        let stream =
            Self::live(&mut map, path).ok_or_else(|| Refusal::new(404, "no such stream"))?;
        let messages = stream
            .chunks
            .iter()
            .filter(|c| c.start >= stream.earliest)
            .map(|c| Logged {
                offset: Offset(c.start),
                next: Offset(c.start + c.data.len() as u64),
                data: match served_offsets && stream.json {
                    true => with_served_offset(&c.data, Offset(c.start)),
                    false => c.data.clone(),
                },
            })
            .collect();
        Ok(Log {
            messages,
            earliest: Offset(stream.earliest),
            meta: stream.meta(),
        })
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
mod tests {
    use super::*;

    fn opts(max_bytes: usize) -> ReadOptions {
        ReadOptions {
            max_bytes,
            max_messages: None,
            served_offsets: false,
        }
    }

    fn create(store: &Store, ct: &str, body: &str) {
        let req = CreateRequest {
            content_type: ct.into(),
            lifetime: Lifetime::Forever,
            closed: false,
            body: Bytes::from(body.to_owned()),
        };
        store.create("/s", req).unwrap();
    }

    fn append(store: &Store, body: &str) -> Result<AppendOutcome, Refusal> {
        let req = AppendRequest {
            content_type: Some("application/json".into()),
            close: false,
            stream_seq: None,
            producer: None,
            body: Bytes::from(body.to_owned()),
        };
        store.append("/s", req)
    }

    /// Messages of every size, some filling a block exactly, some larger than any block,
    /// are stored and read back byte for byte, in order, while earlier blocks are held.
    #[test]
    fn messages_of_any_size_read_back_as_appended() {
        let store = Store::default();
        create(&store, "application/octet-stream", "");
        let sizes = [1, FIRST_BLOCK - 1, 1, FIRST_BLOCK, 300, LARGEST_BLOCK / 8];
        let sizes = sizes
            .into_iter()
            .chain([LARGEST_BLOCK / 8 + 1, LARGEST_BLOCK + 7, 5]);
        let mut expected = Vec::new();
        for (i, n) in sizes.cycle().take(60).enumerate() {
            let body = vec![b'a' + (i % 26) as u8; n];
            expected.extend_from_slice(&body);
            let req = AppendRequest {
                content_type: Some("application/octet-stream".into()),
                close: false,
                stream_seq: None,
                producer: None,
                body: Bytes::from(body),
            };
            store.append("/s", req).unwrap();
        }
        let mut read = Vec::new();
        let mut from = Offset(0);
        loop {
            let (page, _) = store.read("/s", Some(from), opts(1 << 16)).unwrap();
            read.extend_from_slice(&page.body);
            from = page.next;
            if page.up_to_date {
                break;
            }
        }
        assert_eq!(read.len(), expected.len());
        assert!(
            read == expected,
            "the bytes read back differ from those appended"
        );
    }

    #[test]
    fn json_mode_flattens_one_level_and_rejects_empty_arrays() {
        let store = Store::default();
        create(&store, "application/json", "[]");
        append(&store, r#"[{"a":1},[2,3]]"#).unwrap();
        append(&store, r#"{"b":4}"#).unwrap();
        assert_eq!(append(&store, "[]").unwrap_err().status, 400);
        assert_eq!(append(&store, "{nope").unwrap_err().status, 400);
        let (page, _) = store.read("/s", Some(Offset(0)), opts(1 << 20)).unwrap();
        assert_eq!(&page.body[..], br#"[{"a":1},[2,3],{"b":4}]"#);
        assert!(page.up_to_date);
    }

    #[test]
    fn reads_resume_at_any_returned_offset_and_page() {
        let store = Store::default();
        create(&store, "application/json", "");
        for i in 0..10 {
            append(&store, &format!("{{\"i\":{i}}}")).unwrap();
        }
        let (first, _) = store.read("/s", Some(Offset(0)), opts(20)).unwrap();
        assert_eq!((first.chunks, first.up_to_date), (2, false));
        let (rest, _) = store.read("/s", Some(first.next), opts(1 << 20)).unwrap();
        assert_eq!((rest.chunks, rest.up_to_date), (8, true));
        assert_eq!(
            store
                .read("/s", Some(Offset(3)), opts(10))
                .unwrap_err()
                .status,
            400,
            "not a message boundary"
        );
    }
}
