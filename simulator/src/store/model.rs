//! What the store holds and answers with: requests and outcomes, refusals, metadata, pages,
//! the State-Protocol actions, and the streams themselves (chunks, producers, the blocks their
//! messages are copied into). The store's children read these types; none of them reads the
//! store's own file.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
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

    pub(super) fn with(mut self, name: &'static str, value: impl ToString) -> Refusal {
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
    /// As given; absent, a new stream is `application/octet-stream` and a fork takes its
    /// source's.
    pub content_type: Option<String>,
    pub lifetime: Lifetime,
    pub closed: bool,
    pub body: Bytes,
    /// `Stream-Forked-From` and the rest: create a fork of another stream (PROTOCOL §4.2).
    pub fork: Option<ForkRequest>,
}

/// What a fork is made from: the source's path, where it diverges (`Stream-Fork-Offset`, the
/// source's tail when absent) and how far past that it inherits (`Stream-Fork-Sub-Offset`:
/// messages in JSON mode, bytes otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkRequest {
    pub source: String,
    pub offset: Option<Offset>,
    pub sub_offset: u64,
}

/// Where a fork came from, as resolved when it was made: what an identical PUT must repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ForkOrigin {
    pub(super) source: String,
    pub(super) offset: u64,
    pub(super) sub_offset: u64,
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
pub(super) struct Chunk {
    pub(super) start: u64,
    pub(super) data: Bytes,
    /// The last message of one append (JSON mode splits an append into messages): where a
    /// fork's sub-offset stops counting.
    pub(super) append_end: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Producer {
    pub(super) epoch: u64,
    pub(super) last_seq: u64,
}

#[derive(Debug)]
pub(super) struct Stream {
    pub(super) id: u64,
    pub(super) content_type: String,
    pub(super) json: bool,
    pub(super) lifetime: Lifetime,
    pub(super) chunks: Vec<Chunk>,
    pub(super) tail: u64,
    pub(super) closed: bool,
    /// The producer request that closed the stream, for idempotent retries.
    pub(super) closed_by: Option<ProducerHeaders>,
    pub(super) last_stream_seq: Option<String>,
    pub(super) producers: HashMap<String, Producer>,
    pub(super) touched: Instant,
    pub(super) changes: watch::Sender<u64>,
    /// Reads before this position answer 410 (history compacted behind a snapshot).
    pub(super) earliest: u64,
    /// Where small messages are kept (see [`Stream::keep`]).
    pub(super) block: Block,
    /// Set on a fork: its source and divergence point.
    pub(super) origin: Option<ForkOrigin>,
    /// How many live streams are forks of this one; while any is, a delete only
    /// soft-deletes it (PROTOCOL §4.2).
    pub(super) forks: usize,
    /// Deleted while forks remained: direct access answers 410, its path cannot be re-created
    /// (409), and it goes when its last fork does.
    pub(super) soft_deleted: bool,
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

/// Every stream of a simulator.
#[derive(Debug, Default)]
pub struct Store {
    pub(super) streams: Mutex<HashMap<String, Stream>>,
    pub(super) next_id: std::sync::atomic::AtomicU64,
}

/// The block a stream copies its small messages into, and the size of the next one.
#[derive(Debug, Default)]
pub(super) struct Block {
    pub(super) free: BytesMut,
    pub(super) next_size: usize,
}

/// Blocks grow from the first to the largest size, doubling, so a small stream stays small.
pub(super) const FIRST_BLOCK: usize = 4 << 10;

pub(super) const LARGEST_BLOCK: usize = 1 << 20;
