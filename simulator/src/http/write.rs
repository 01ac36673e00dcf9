//! Writes (PROTOCOL §5.1, §5.2, §9): create with its lifetime (TTL or Expires-At), append
//! with `Stream-Seq`, idempotent producer headers and close.

use super::headers::{closed_flag, header, text_header};

use axum::body::Bytes;
use axum::http::HeaderMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::offset::Offset;
use crate::reply::Reply;
use crate::shared::Shared;
use crate::store::{
    AppendOutcome, AppendRequest, CreateRequest, ForkRequest, Lifetime, Metadata, ProducerHeaders,
    Refusal,
};

pub(super) fn lifetime(headers: &HeaderMap) -> Result<Lifetime, Refusal> {
    let ttl = header(headers, "stream-ttl");
    let expires = header(headers, "stream-expires-at");
    match (ttl, expires) {
        (Some(_), Some(_)) => Err(Refusal::new(
            400,
            "Stream-TTL and Stream-Expires-At are exclusive",
        )),
        (Some(t), None) => match (canonical_integer(t), t.parse::<u64>()) {
            (true, Ok(secs)) => Ok(Lifetime::Ttl(secs)),
            _ => Err(Refusal::new(
                400,
                format!("Stream-TTL {t:?} is not a non-negative integer"),
            )),
        },
        (None, Some(e)) => match OffsetDateTime::parse(e, &Rfc3339) {
            Ok(at) => Ok(Lifetime::ExpiresAt(e.to_owned(), at)),
            Err(_) => Err(Refusal::new(
                400,
                format!("Stream-Expires-At {e:?} is not an RFC 3339 timestamp"),
            )),
        },
        (None, None) => Ok(Lifetime::Forever),
    }
}

pub(super) fn lifetime_headers(reply: Reply, meta: &Metadata) -> Reply {
    match &meta.lifetime {
        Lifetime::Forever => reply,
        Lifetime::Ttl(secs) => reply.header("stream-ttl", secs),
        Lifetime::ExpiresAt(text, _) => reply.header("stream-expires-at", text),
    }
}

pub(super) fn create(
    shared: &Shared,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Reply, Refusal> {
    let req = CreateRequest {
        content_type: header(headers, "content-type").map(str::to_owned),
        lifetime: lifetime(headers)?,
        closed: closed_flag(headers),
        body,
        fork: fork(headers)?,
    };
    let (created, meta) = shared.store.create(path, req)?;
    let host = header(headers, "host").unwrap_or("127.0.0.1");
    let reply = Reply::new(if created { 201 } else { 200 })
        .header("content-type", &meta.content_type)
        .header("stream-next-offset", meta.tail)
        .header_if(created, "location", format!("http://{host}{path}"))
        .header_if(meta.closed, "stream-closed", "true");
    Ok(lifetime_headers(reply, &meta))
}

/// The fork headers (PROTOCOL §4.2): `Stream-Forked-From` makes a PUT a fork; the offset
/// must be one this server gave; the sub-offset, a non-negative integer, needs the other two
/// (it may be `0` with `Stream-Forked-From` alone).
pub(super) fn fork(headers: &HeaderMap) -> Result<Option<ForkRequest>, Refusal> {
    let source = text_header(headers, "stream-forked-from")?;
    let offset = text_header(headers, "stream-fork-offset")?;
    let sub = text_header(headers, "stream-fork-sub-offset")?;
    let Some(source) = source else {
        return match (offset, sub) {
            (None, None) => Ok(None),
            _ => Err(Refusal::new(
                400,
                "Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From",
            )),
        };
    };
    let offset = match offset {
        None => None,
        Some(text) => Some(Offset::parse(text).ok_or_else(|| {
            Refusal::new(400, format!("Stream-Fork-Offset {text:?} is not an offset"))
        })?),
    };
    let sub_offset = match sub {
        None => 0,
        Some(text) => match (canonical_integer(text), text.parse::<u64>()) {
            (true, Ok(n)) => n,
            _ => {
                return Err(Refusal::new(
                    400,
                    format!("Stream-Fork-Sub-Offset {text:?} is not a non-negative integer"),
                ));
            }
        },
    };
    if sub_offset > 0 && offset.is_none() {
        return Err(Refusal::new(
            400,
            "a Stream-Fork-Sub-Offset past 0 needs Stream-Fork-Offset",
        ));
    }
    Ok(Some(ForkRequest {
        source: source.to_owned(),
        offset,
        sub_offset,
    }))
}

/// `0`, or digits without a leading zero.
fn canonical_integer(t: &str) -> bool {
    t == "0"
        || (t.starts_with(|c: char| ('1'..='9').contains(&c))
            && t.bytes().all(|b| b.is_ascii_digit()))
}

/// Producer headers: all three or none; id non-empty; integers within 2^53 - 1 (§5.2.1).
pub(super) fn producer(headers: &HeaderMap) -> Result<Option<ProducerHeaders>, Refusal> {
    const MAX: u64 = (1 << 53) - 1;
    let number = |name: &str, v: &str| match v.parse::<u64>() {
        Ok(n) if n <= MAX && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(Refusal::new(
            400,
            format!("{name} {v:?} is not an integer in 0..=2^53-1"),
        )),
    };
    match (
        text_header(headers, "producer-id")?,
        text_header(headers, "producer-epoch")?,
        text_header(headers, "producer-seq")?,
    ) {
        (None, None, None) => Ok(None),
        (Some(id), Some(epoch), Some(seq)) if !id.is_empty() => Ok(Some(ProducerHeaders {
            id: id.to_owned(),
            epoch: number("Producer-Epoch", epoch)?,
            seq: number("Producer-Seq", seq)?,
        })),
        _ => Err(Refusal::new(
            400,
            "Producer-Id, Producer-Epoch and Producer-Seq go together, with a non-empty id",
        )),
    }
}

pub(super) fn append(
    shared: &Shared,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Reply, Refusal> {
    let req = AppendRequest {
        content_type: header(headers, "content-type").map(str::to_owned),
        close: closed_flag(headers),
        stream_seq: text_header(headers, "stream-seq")?.map(str::to_owned),
        producer: producer(headers)?,
        body,
    };
    Ok(match shared.store.append(path, req)? {
        AppendOutcome::Appended {
            next,
            wrote_data,
            closed,
            producer,
        } => {
            let reply = Reply::new(if producer.is_some() && wrote_data {
                200
            } else {
                204
            })
            .header("stream-next-offset", next)
            .header_if(closed, "stream-closed", "true");
            match producer {
                Some((epoch, seq)) => reply
                    .header("producer-epoch", epoch)
                    .header("producer-seq", seq),
                None => reply,
            }
        }
        AppendOutcome::Duplicate {
            next,
            closed,
            producer: (epoch, seq),
        } => Reply::new(204)
            .header("stream-next-offset", next)
            .header_if(closed, "stream-closed", "true")
            .header("producer-epoch", epoch)
            .header("producer-seq", seq),
        AppendOutcome::AlreadyClosed { next } => Reply::new(204)
            .header("stream-next-offset", next)
            .header("stream-closed", "true"),
    })
}
