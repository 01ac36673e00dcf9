//! Streams in memory, and the protocol rules that do not depend on HTTP (PROTOCOL §4, §5, §9).
//!
//! A stream is a list of chunks (one per message in JSON mode, one per append otherwise),
//! each at a byte position; offsets are positions, so finding where a read starts is a binary
//! search (O(log n)). Every change bumps a per-stream `watch` channel that live readers wait on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::offset::Offset;

mod append;
mod model;
mod state_protocol;

pub use model::{
    Action, AppendOutcome, AppendRequest, CreateRequest, Lifetime, Log, Logged, Metadata, Page,
    ProducerHeaders, ReadOptions, Refusal, Store, is_json, media_type,
};
use model::{Block, Stream};

use append::json_messages;
use state_protocol::with_served_offset;

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
