//! The append path: a body split into messages (JSON mode flattens one array level and
//! refuses `[]` on append), `Stream-Seq` and idempotent-producer checks, close, and the
//! messages copied into the stream's own blocks (4 KiB doubling to 1 MiB) rather than kept as
//! slices of the request buffer.

use super::model::*;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use serde_json::value::RawValue;

use crate::offset::Offset;

impl Stream {
    /// Stores the messages of one append.
    pub(super) fn push(&mut self, messages: Vec<Bytes>) {
        let last = messages.len();
        for (i, data) in messages.into_iter().enumerate() {
            let data = self.keep(data);
            let start = self.tail;
            self.tail += data.len() as u64;
            let append_end = i + 1 == last;
            self.chunks.push(Chunk {
                start,
                data,
                append_end,
            });
        }
    }

    /// A message as stored. A small one is copied into the stream's current block: a body
    /// as received is a slice of hyper's read buffer, and holding it would keep that whole
    /// buffer alive (often several times the body) and make hyper allocate a fresh one for
    /// the next request, each a new piece of heap to map and fault in. Blocks are the
    /// stream's own, so deleting a stream frees them whole. A large message (collected from
    /// several reads into an allocation of its own) is kept as received.
    pub(super) fn keep(&mut self, data: Bytes) -> Bytes {
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
}

impl Store {
    /// POST: appends and/or closes (§5.2, §5.2.1, §5.3).
    pub fn append(&self, path: &str, req: AppendRequest) -> Result<AppendOutcome, Refusal> {
        // A JSON body is split before the lock is taken, so appends to any streams parse in
        // parallel; its error, if any, is reported where the checks below reach it.
        let parsed = (!req.body.is_empty() && req.content_type.as_deref().is_some_and(is_json))
            .then(|| json_messages(&req.body, false));
        let mut map = self.lock();
        let stream = Self::direct(&mut map, path)?;
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
}

/// Splits a JSON-mode body into messages: one level of array flattening (§9.1.2). The body
/// is parsed (and so validated) once, and each message is a slice of it, not a copy.
pub(super) fn json_messages(body: &Bytes, allow_empty_array: bool) -> Result<Vec<Bytes>, Refusal> {
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
