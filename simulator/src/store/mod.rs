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
mod fork;
mod model;
mod state_protocol;

pub use model::{
    Action, AppendOutcome, AppendRequest, CreateRequest, ForkRequest, Lifetime, Log, Logged,
    Metadata, Page, ProducerHeaders, ReadOptions, Refusal, Store, is_json, media_type,
};
use model::{Block, Stream};

use append::json_messages;
use state_protocol::with_served_offset;

impl Stream {
    /// A new, empty stream.
    fn empty(id: u64, content_type: String, lifetime: Lifetime, closed: bool) -> Stream {
        Stream {
            id,
            json: is_json(&content_type),
            content_type,
            lifetime,
            chunks: Vec::new(),
            tail: 0,
            closed,
            closed_by: None,
            last_stream_seq: None,
            producers: HashMap::new(),
            touched: Instant::now(),
            changes: watch::channel(0).0,
            earliest: 0,
            block: Block::default(),
            origin: None,
            forks: 0,
            soft_deleted: false,
        }
    }

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

    /// The stream at `path`, soft-deleted or not, once expiry has been applied: an expired
    /// stream goes (or, while forks of it live, is soft-deleted).
    fn live<'m>(map: &'m mut HashMap<String, Stream>, path: &str) -> Option<&'m mut Stream> {
        if map
            .get(path)
            .is_some_and(|s| !s.soft_deleted && s.expired(Instant::now()))
        {
            Self::remove(map, path);
        }
        map.get_mut(path)
    }

    /// The stream a request addresses directly: 404 if there is none, 410 if it is
    /// soft-deleted (PROTOCOL §4.2).
    fn direct<'m>(
        map: &'m mut HashMap<String, Stream>,
        path: &str,
    ) -> Result<&'m mut Stream, Refusal> {
        match Self::live(map, path) {
            None => Err(Refusal::new(404, "no such stream")),
            Some(s) if s.soft_deleted => Err(Refusal::new(
                410,
                "the stream was deleted (its data is kept for its forks)",
            )),
            Some(s) => Ok(s),
        }
    }

    /// PUT: creates the stream (a fork, with `req.fork`), or confirms an identical one
    /// (`Ok(false)`).
    pub fn create(&self, path: &str, req: CreateRequest) -> Result<(bool, Metadata), Refusal> {
        let mut map = self.lock();
        if let Some(existing) = Self::live(&mut map, path) {
            if existing.soft_deleted {
                return Err(Refusal::new(
                    409,
                    "the stream at this URL was deleted while forks of it remain",
                ));
            }
            let origin = existing.origin.clone();
            let same_origin = Self::same_origin(&map, origin.as_ref(), req.fork.as_ref());
            let existing = Self::live(&mut map, path).ok_or_else(gone_meanwhile)?;
            let same = same_origin
                && req
                    .content_type
                    .as_deref()
                    .is_none_or(|ct| media_type(&existing.content_type) == media_type(ct))
                && (existing.lifetime == req.lifetime
                    || (existing.origin.is_some() && req.lifetime == Lifetime::Forever))
                && existing.closed == req.closed;
            return match same {
                true => Ok((false, existing.meta())),
                false => Err(Refusal::new(
                    409,
                    "a stream with a different configuration exists at this URL",
                )),
            };
        }
        let mut stream = match &req.fork {
            Some(f) => fork::fork(&map, f, &req)?,
            None => {
                let content_type = req
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned());
                Stream::empty(0, content_type, req.lifetime.clone(), req.closed)
            }
        };
        stream.id = self.next_id();
        let messages = match (stream.json, req.body.is_empty()) {
            (_, true) => Vec::new(),
            (true, false) => json_messages(&req.body, true)?,
            (false, false) => vec![req.body.clone()],
        };
        stream.push(messages);
        if let Some(origin) = &stream.origin
            && let Some(source) = map.get_mut(&origin.source)
        {
            source.forks += 1;
        }
        let meta = stream.meta();
        map.insert(path.to_owned(), stream);
        Ok((true, meta))
    }

    fn next_id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The paths of the live streams under `prefix` (soft-deleted ones left out).
    pub fn paths_under(&self, prefix: &str) -> Vec<String> {
        let mut map = self.lock();
        let paths: Vec<String> = map
            .keys()
            .filter(|p| p.starts_with(prefix))
            .cloned()
            .collect();
        paths
            .into_iter()
            .filter(|p| Self::live(&mut map, p).is_some_and(|s| !s.soft_deleted))
            .collect()
    }

    /// HEAD (does not reset a sliding TTL).
    pub fn metadata(&self, path: &str) -> Result<Metadata, Refusal> {
        let mut map = self.lock();
        Self::direct(&mut map, path).map(|s| s.meta())
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
        let stream = Self::direct(&mut map, path)?;
        stream.touched = Instant::now();
        let from = match from {
            None => stream.tail,
            Some(Offset(0)) => stream.earliest,
            Some(o) => o.0,
        };
        Ok((stream.read(from, opts)?, stream.changes.subscribe()))
    }

    /// DELETE: the stream goes, or, while forks of it live, is soft-deleted.
    pub fn delete(&self, path: &str) -> Result<(), Refusal> {
        let mut map = self.lock();
        let stream = Self::direct(&mut map, path)?;
        if stream.forks > 0 {
            stream.soft_deleted = true;
            stream.notify();
            return Ok(());
        }
        Self::remove(&mut map, path);
        Ok(())
    }

    /// Drops the stream at `path` (soft-deleting it instead while it has forks), then its
    /// source if this was the last fork of a soft-deleted one, and so on up the chain.
    fn remove(map: &mut HashMap<String, Stream>, path: &str) {
        let mut next = Some(path.to_owned());
        while let Some(path) = next.take() {
            let Some(stream) = map.get_mut(&path) else {
                return;
            };
            if stream.forks > 0 {
                stream.soft_deleted = true;
                stream.notify();
                return;
            }
            let Some(gone) = map.remove(&path) else {
                return;
            };
            gone.notify();
            if let Some(origin) = gone.origin
                && let Some(source) = map.get_mut(&origin.source)
            {
                source.forks = source.forks.saturating_sub(1);
                if source.soft_deleted && source.forks == 0 {
                    next = Some(origin.source);
                }
            }
        }
    }
}

fn gone_meanwhile() -> Refusal {
    Refusal::new(404, "no such stream")
}

#[cfg(test)]
mod tests;
