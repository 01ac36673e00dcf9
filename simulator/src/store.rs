//! Streams in memory, and the protocol rules that do not depend on HTTP (PROTOCOL §4, §5, §9).
//!
//! A stream is a list of chunks (one per message in JSON mode, one per append otherwise),
//! each at a byte position; offsets are positions, so finding where a read starts is a binary
//! search (O(log n)). Every change bumps a per-stream `watch` channel that live readers wait on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
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

/// Splits a JSON-mode body into messages: one level of array flattening (§9.1.2).
fn json_messages(body: &[u8], allow_empty_array: bool) -> Result<Vec<Bytes>, Refusal> {
    let text =
        std::str::from_utf8(body).map_err(|_| Refusal::new(400, "body is not UTF-8 JSON"))?;
    let value: &RawValue =
        serde_json::from_str(text).map_err(|e| Refusal::new(400, format!("invalid JSON: {e}")))?;
    let raw = value.get();
    if raw.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(raw)
            .map_err(|e| Refusal::new(400, format!("invalid JSON: {e}")))?;
        if items.is_empty() && !allow_empty_array {
            return Err(Refusal::new(400, "an empty JSON array appends nothing"));
        }
        Ok(items
            .into_iter()
            .map(|m| Bytes::copy_from_slice(m.get().as_bytes()))
            .collect())
    } else {
        Ok(vec![Bytes::copy_from_slice(raw.as_bytes())])
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
            let start = self.tail;
            self.tail += data.len() as u64;
            self.chunks.push(Chunk { start, data });
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

    fn read(&self, from: u64, max_bytes: usize) -> Result<Page, Refusal> {
        if from > self.tail {
            return Err(Refusal::new(400, "offset is beyond the end of the stream"));
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
            let data = chunk.data.slice(skip..);
            if !taken.is_empty() && size + data.len() > max_bytes {
                break;
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
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
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
        };
        stream.push(messages);
        let meta = stream.meta();
        map.insert(path.to_owned(), stream);
        Ok((true, meta))
    }

    /// POST: appends and/or closes (§5.2, §5.2.1, §5.3).
    pub fn append(&self, path: &str, req: AppendRequest) -> Result<AppendOutcome, Refusal> {
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
            (false, true) => json_messages(&req.body, false)?,
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
    pub fn read(
        &self,
        path: &str,
        from: Option<Offset>,
        max_bytes: usize,
    ) -> Result<(Page, watch::Receiver<u64>), Refusal> {
        let mut map = self.lock();
        let stream =
            Self::live(&mut map, path).ok_or_else(|| Refusal::new(404, "no such stream"))?;
        stream.touched = Instant::now();
        let from = from.map_or(stream.tail, |o| o.0);
        Ok((stream.read(from, max_bytes)?, stream.changes.subscribe()))
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

    #[test]
    fn json_mode_flattens_one_level_and_rejects_empty_arrays() {
        let store = Store::default();
        create(&store, "application/json", "[]");
        append(&store, r#"[{"a":1},[2,3]]"#).unwrap();
        append(&store, r#"{"b":4}"#).unwrap();
        assert_eq!(append(&store, "[]").unwrap_err().status, 400);
        assert_eq!(append(&store, "{nope").unwrap_err().status, 400);
        let (page, _) = store.read("/s", Some(Offset(0)), 1 << 20).unwrap();
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
        let (first, _) = store.read("/s", Some(Offset(0)), 20).unwrap();
        assert_eq!((first.chunks, first.up_to_date), (2, false));
        let (rest, _) = store.read("/s", Some(first.next), 1 << 20).unwrap();
        assert_eq!((rest.chunks, rest.up_to_date), (8, true));
        assert_eq!(
            store.read("/s", Some(Offset(3)), 10).unwrap_err().status,
            400,
            "not a message boundary"
        );
    }
}
