//! Forks (PROTOCOL §4.2): a new stream holding its source's data up to a divergence point,
//! then its own appends. The source's stored messages are shared, not copied (`Bytes`), and
//! keep their offsets, so an offset read from the source before the fork point reads the same
//! data from the fork; the fork has its own tail, watch channel, producers and lifetime, so
//! appends to the source after the fork never reach (or wake) the fork's readers. Soft
//! delete and the clean-up up the chain are in the store's `delete`/`remove`.

use std::collections::HashMap;

use super::model::*;
use super::{Store, Stream};

/// The fork that `req` asks for, before its own initial body: everything checked against the
/// source (404 if there is none, 409 if it is soft-deleted or of another content type, 400 for
/// a divergence point past its tail or a sub-offset past the append it falls in).
pub(super) fn fork(
    map: &HashMap<String, Stream>,
    f: &ForkRequest,
    req: &CreateRequest,
) -> Result<Stream, Refusal> {
    let (origin, source) = origin_of(map, f)?;
    if let Some(ct) = &req.content_type
        && media_type(ct) != media_type(&source.content_type)
    {
        return Err(Refusal::new(
            409,
            format!(
                "content type {ct} differs from the source's {}",
                source.content_type
            ),
        ));
    }
    // The fork's lifetime: its own when it asks for one, else the source's (a TTL's value,
    // refreshed independently from now on; an Expires-At as is).
    let lifetime = match &req.lifetime {
        Lifetime::Forever => source.lifetime.clone(),
        own => own.clone(),
    };
    let mut fork = Stream::empty(0, source.content_type.clone(), lifetime, req.closed);
    fork.chunks = inherited(source, origin.offset, origin.sub_offset)?;
    fork.tail = fork
        .chunks
        .last()
        .map_or(0, |c| c.start + c.data.len() as u64);
    fork.tail = fork.tail.max(origin.offset);
    fork.earliest = source.earliest.min(fork.tail);
    fork.origin = Some(origin);
    Ok(fork)
}

/// Where a fork of `f.source` diverges, resolved (the offset given, or the source's tail, and
/// the sub-offset), and the source. 404 without a source, 409 if it is soft-deleted, 400 past
/// its tail.
fn origin_of<'m>(
    map: &'m HashMap<String, Stream>,
    f: &ForkRequest,
) -> Result<(ForkOrigin, &'m Stream), Refusal> {
    let source = map
        .get(&f.source)
        .filter(|s| !s.expired(std::time::Instant::now()) || s.soft_deleted)
        .ok_or_else(|| Refusal::new(404, "the stream to fork does not exist"))?;
    if source.soft_deleted {
        return Err(Refusal::new(
            409,
            "the stream to fork was deleted (only its forks remain)",
        ));
    }
    let offset = f.offset.map_or(source.tail, |o| o.0);
    if offset > source.tail {
        return Err(Refusal::new(
            400,
            "Stream-Fork-Offset is beyond the source's tail",
        ));
    }
    let origin = ForkOrigin {
        source: f.source.clone(),
        offset,
        sub_offset: f.sub_offset,
    };
    Ok((origin, source))
}

/// The source's messages before `offset`, then `sub` more (messages of the append that
/// starts there in JSON mode; bytes of it otherwise), sharing the source's storage.
fn inherited(source: &Stream, offset: u64, sub: u64) -> Result<Vec<Chunk>, Refusal> {
    let first = source.chunk_at(offset);
    let share = |c: &Chunk, data: bytes::Bytes, append_end: bool| Chunk {
        start: c.start,
        data,
        append_end,
    };
    let mut chunks: Vec<Chunk> = source.chunks[..first]
        .iter()
        .map(|c| share(c, c.data.clone(), c.append_end))
        .collect();
    let at = source.chunks.get(first);
    if source.json && at.is_some_and(|c| c.start != offset) {
        return Err(Refusal::new(
            400,
            "Stream-Fork-Offset is not a message boundary",
        ));
    }
    if let Some(c) = at.filter(|c| c.start < offset) {
        // Binary, mid-append: the bytes before the divergence point.
        chunks.push(share(c, c.data.slice(..(offset - c.start) as usize), true));
    }
    if sub == 0 {
        return Ok(chunks);
    }
    let overshoot = || {
        Refusal::new(
            400,
            "Stream-Fork-Sub-Offset goes past the append at Stream-Fork-Offset",
        )
    };
    let Some(c) = at else {
        return Err(overshoot());
    };
    if source.json {
        let append: Vec<&Chunk> = source.chunks[first..]
            .iter()
            .scan(false, |ended, c| {
                let take = !*ended;
                *ended = c.append_end;
                take.then_some(c)
            })
            .collect();
        if sub > append.len() as u64 {
            return Err(overshoot());
        }
        let taken = &append[..sub as usize];
        for (i, c) in taken.iter().enumerate() {
            chunks.push(share(c, c.data.clone(), i + 1 == taken.len()));
        }
    } else {
        let from = (offset - c.start) as usize;
        if sub > (c.data.len() - from) as u64 {
            return Err(overshoot());
        }
        let piece = c.data.slice(from..from + sub as usize);
        chunks.push(Chunk {
            start: offset,
            data: piece,
            append_end: true,
        });
    }
    Ok(chunks)
}

impl Store {
    /// Whether an existing fork was made as `f` asks (an identical PUT answers 200).
    pub(super) fn same_origin(
        map: &HashMap<String, Stream>,
        existing: Option<&ForkOrigin>,
        f: Option<&ForkRequest>,
    ) -> bool {
        match (existing, f) {
            (None, None) => true,
            (Some(o), Some(f)) => {
                let offset = f
                    .offset
                    .map(|o| o.0)
                    .or_else(|| map.get(&f.source).map(|s| s.tail));
                o.source == f.source && o.sub_offset == f.sub_offset && offset == Some(o.offset)
            }
            _ => false,
        }
    }
}
