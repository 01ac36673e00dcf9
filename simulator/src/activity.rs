//! What the reader of one stream is doing, as the simulator sees it: which of its reads are
//! still open, when it last asked, what it was last told about where it stands, and whether
//! its last read was refused or cut. A runner decides from this, at any moment, whether a
//! reader that has not reached a checkpoint is still reading, has stalled (it was sent the
//! point and does not move) or has stopped (it asks for nothing), instead of waiting out a
//! timeout.

use bytes::Bytes;
use serde::Serialize;

use crate::transcript::{Exchange, HeaderList, Transcript};

/// One reader's activity on one stream (every time in ms on the simulator's clock, the one
/// [`Exchange::received_ms`] uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReaderActivity {
    /// The simulator's clock now.
    pub now_ms: u64,
    /// Reads of the stream not answered in full: a long-poll waiting for data, an SSE
    /// connection still open, a body still being written.
    pub open: usize,
    /// The last read to arrive (open or not).
    pub last_request: Option<Request>,
    /// When the last read that ended did (its body sent in full, or cut), if one has.
    pub last_end_ms: Option<u64>,
    /// What the reader was last told about where it stands: the headers of its last complete
    /// catch-up or long-poll response, or the last whole control event on an SSE connection.
    pub sent: Option<Sent>,
    /// The last read that ended, when it was refused (not 200 or 204) or cut: a reader may be
    /// waiting out a back-off, or the `Retry-After` it was given.
    pub refused: Option<Refused>,
}

/// A read as it arrived.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The exchange's number in the transcript (none while its response has not started).
    pub seq: Option<u64>,
    pub uri: String,
    pub received_ms: u64,
}

/// Where a reader was told it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// The exchange that told it.
    pub seq: u64,
    /// `Stream-Next-Offset` (or the control event's `streamNextOffset`).
    pub offset: String,
    pub up_to_date: bool,
    pub closed: bool,
    /// When it was sent (the response's end, or the last body bytes of the SSE connection).
    pub at_ms: u64,
}

/// A read that was refused or cut.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refused {
    pub seq: u64,
    /// 0 when the connection was dropped before any header.
    pub status: u16,
    /// How the response was cut, if it was.
    pub cut: Option<&'static str>,
    /// The `Retry-After` it carried, in seconds.
    pub retry_after_s: Option<u64>,
    pub at_ms: u64,
}

/// A recorded exchange as the transcript holds it.
pub(crate) struct Recorded<'t> {
    pub exchange: &'t Exchange,
    pub response_headers: &'t HeaderList,
    pub response_body: &'t [Bytes],
    /// When its response ended, or last sent bytes while it is open.
    pub last_sent_ms: u64,
}

impl Transcript {
    /// What the reader of the stream at `path` is doing (see [`ReaderActivity`]).
    pub fn activity(&self, path: &str) -> ReaderActivity {
        let inner = self.lock();
        of(
            path,
            self.now_ms(),
            inner
                .in_flight
                .values()
                .map(|(m, u, at)| (m.as_str(), u.as_str(), *at)),
            inner.exchanges.iter().map(|k| Recorded {
                exchange: &k.exchange,
                response_headers: &k.response_headers,
                response_body: &k.response_body,
                last_sent_ms: k.last_sent_ms,
            }),
        )
    }
}

/// The activity of `path`'s reader from the requests in flight (method, URI, arrival) and
/// the recorded exchanges, oldest first.
pub(crate) fn of<'t>(
    path: &str,
    now_ms: u64,
    in_flight: impl Iterator<Item = (&'t str, &'t str, u64)>,
    recorded: impl DoubleEndedIterator<Item = Recorded<'t>>,
) -> ReaderActivity {
    let mut activity = ReaderActivity {
        now_ms,
        ..ReaderActivity::default()
    };
    let later = |a: &Option<Request>, at: u64| a.as_ref().is_none_or(|r| at > r.received_ms);
    for (method, uri, received_ms) in in_flight {
        if method == "GET" && crate::transcript::addresses(uri, path) {
            activity.open += 1;
            if later(&activity.last_request, received_ms) {
                activity.last_request = Some(Request {
                    seq: None,
                    uri: uri.to_owned(),
                    received_ms,
                });
            }
        }
    }
    let (mut newest_seen, mut ended_seen) = (false, false);
    // Every read is looked at (an older SSE connection may still be open); the body of an
    // SSE response is read only until one has told the reader where it stands.
    for r in recorded.rev().filter(|r| {
        r.exchange.method == "GET" && crate::transcript::addresses(&r.exchange.uri, path)
    }) {
        let x = r.exchange;
        if !std::mem::replace(&mut newest_seen, true)
            && later(&activity.last_request, x.received_ms)
        {
            activity.last_request = Some(Request {
                seq: Some(x.seq),
                uri: x.uri.clone(),
                received_ms: x.received_ms,
            });
        }
        if !x.finished {
            activity.open += 1;
        } else if !ended_seen {
            ended_seen = true;
            activity.last_end_ms = Some(r.last_sent_ms);
            if !matches!(x.status, 200 | 204) || x.cut.is_some() {
                activity.refused = Some(Refused {
                    seq: x.seq,
                    status: x.status,
                    cut: x.cut.as_ref().map(|c| c.how),
                    retry_after_s: r
                        .response_headers
                        .get("retry-after")
                        .and_then(|v| v.trim().parse().ok()),
                    at_ms: r.last_sent_ms,
                });
            }
        }
        if activity.sent.is_none() {
            activity.sent = sent_by(&r);
        }
    }
    activity
}

/// Where `r` told its reader it stands, if it did (see [`crate::told`]).
fn sent_by(r: &Recorded<'_>) -> Option<Sent> {
    let x = r.exchange;
    let body: Vec<u8> = r.response_body.concat();
    let body = String::from_utf8_lossy(&body);
    let header = |name: &str| r.response_headers.get(name);
    let told = crate::told::told(&crate::told::Response {
        status: x.status,
        complete: x.finished && x.cut.is_none(),
        header: &header,
        body: &body,
    })?;
    Some(Sent {
        seq: x.seq,
        offset: told.offset,
        up_to_date: told.up_to_date,
        closed: told.closed,
        at_ms: r.last_sent_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Cut;

    fn exchange(seq: u64, uri: &str, status: u16, finished: bool) -> Exchange {
        Exchange {
            seq,
            method: "GET".into(),
            uri: uri.into(),
            kind: crate::fault::RequestKind::of("GET", crate::transcript::query_param(uri, "live")),
            request_headers: Vec::new(),
            request_body: Default::default(),
            status,
            response_headers: Vec::new(),
            response_body: Default::default(),
            faults: Vec::new(),
            cut: None,
            finished,
            received_ms: seq * 10,
            answered_ms: seq * 10 + 1,
        }
    }

    fn recorded<'t>(x: &'t Exchange, headers: &'t HeaderList, body: &'t [Bytes]) -> Recorded<'t> {
        Recorded {
            exchange: x,
            response_headers: headers,
            response_body: body,
            last_sent_ms: x.received_ms + 5,
        }
    }

    #[test]
    fn a_complete_read_tells_where_the_reader_stands_and_a_cut_one_does_not() {
        let told = HeaderList::of([
            ("stream-next-offset", b"0001".as_slice()),
            ("stream-up-to-date", b"true"),
        ]);
        let first = exchange(0, "/s?offset=-1", 200, true);
        let mut cut = exchange(1, "/s?offset=0001&live=long-poll", 200, true);
        cut.cut = Some(Cut {
            how: "cut-body",
            after_bytes: 3,
        });
        let later = HeaderList::of([("stream-next-offset", b"0002".as_slice())]);
        let other = exchange(2, "/s-other?offset=-1", 200, true);
        let a = of(
            "/s",
            100,
            [("GET", "/s?offset=0001&live=long-poll", 50)].into_iter(),
            [
                recorded(&first, &told, &[]),
                recorded(&cut, &later, &[]),
                recorded(&other, &later, &[]),
            ]
            .into_iter(),
        );
        let sent = a.sent.expect("the first read told it");
        assert_eq!(
            (sent.seq, sent.offset.as_str(), sent.up_to_date),
            (0, "0001", true)
        );
        assert_eq!(a.open, 1);
        assert_eq!(a.last_request.map(|r| r.received_ms), Some(50));
        assert_eq!(a.last_end_ms, Some(15));
        let refused = a.refused.expect("the cut read is the last that ended");
        assert_eq!((refused.seq, refused.cut), (1, Some("cut-body")));
    }

    #[test]
    fn an_open_sse_connection_tells_its_last_whole_control_event() {
        let headers = HeaderList::of([("content-type", b"text/event-stream".as_slice())]);
        let body = [
            Bytes::from_static(
                b"event: data\ndata:[{\"a\":1}]\n\nevent: control\ndata:{\"streamNextOffset\":\"0003\",\"upToDate\":true}\n\n",
            ),
            Bytes::from_static(b"event: control\ndata:{\"streamNextOffset\":\"0004\""),
        ];
        let open = exchange(3, "/s?offset=0001&live=sse", 200, false);
        let a = of(
            "/s",
            100,
            std::iter::empty(),
            [recorded(&open, &headers, &body)].into_iter(),
        );
        assert_eq!(a.open, 1);
        assert_eq!(a.last_end_ms, None);
        let sent = a.sent.expect("one whole control event");
        assert_eq!((sent.offset.as_str(), sent.up_to_date), ("0003", true));
    }

    #[test]
    fn a_refusal_carries_its_retry_after() {
        let headers = HeaderList::of([("retry-after", b"2".as_slice())]);
        let refused = exchange(0, "/s?offset=-1", 429, true);
        let a = of(
            "/s",
            100,
            std::iter::empty(),
            [recorded(&refused, &headers, &[])].into_iter(),
        );
        assert_eq!(a.refused.and_then(|r| r.retry_after_s), Some(2));
        assert_eq!(a.sent, None);
        assert_eq!(a.open, 0);
    }
}
