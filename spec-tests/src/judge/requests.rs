//! The rules a live case's requests are held to, judged from the simulator's transcript:
//! the cursor echo (PROTOCOL §10.1), `Retry-After` (an open question), and fault rules that
//! never fired (the case then did not test what it says).

use state_reference::requirement::{CURSOR_ECHO, OQ_TRANSIENT_ERRORS as TRANSIENT_ERRORS};
use stream_simulator::fault::Fault;
use stream_simulator::transcript::Exchange;

use super::outcome::RequestViolation;
use crate::corpus::case::Case;

/// The case's fault rules that never fired (as JSON): the implementation never made the
/// request they target, or the fault found nothing to act on (see [`Exchange::fault_acted`]),
/// so the case did not test what it says.
pub fn unfired_rules(case: &Case, exchanges: &[Exchange]) -> Vec<String> {
    let fired = |fault: &Fault| exchanges.iter().any(|x| x.fault_acted(fault));
    crate::corpus::case::fault_rules(&case.steps)
        .filter(|r| !fired(&r.fault))
        .map(|r| serde_json::to_string(r).unwrap_or_default())
        .collect()
}

/// PROTOCOL §10.1: every long-poll carries, as `cursor`, the last `Stream-Cursor` of a
/// complete response on this stream. The first long-poll that does not, if any. A read from
/// the beginning (`offset=-1`, as after a 410) starts a new session: the spec does not say a
/// reader starting over keeps its cursor, so one that drops it is not held to it. Requests
/// still `in_flight` (method, URI) count as the latest.
pub fn cursor_not_echoed(
    exchanges: &[Exchange],
    in_flight: &[(String, String)],
    path: &str,
) -> Vec<RequestViolation> {
    let mut last: Option<(u64, &str)> = None;
    let param = |uri: &str, name: &str| -> Option<String> {
        let query = uri.split_once('?').map_or("", |(_, q)| q);
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    // Whether a request to `uri` breaks the rule, given the last cursor sent.
    let breaks = |uri: &str, last: Option<(u64, &str)>| {
        let (seq, cursor) = last?;
        (param(uri, "live").as_deref() == Some("long-poll")
            && param(uri, "cursor").as_deref() != Some(cursor))
        .then(|| (seq, cursor.to_owned()))
    };
    for x in exchanges
        .iter()
        .filter(|x| x.method == "GET" && x.uri.starts_with(path))
    {
        if matches!(param(&x.uri, "offset").as_deref(), None | Some("-1")) {
            last = None;
        }
        if let Some((seq, cursor)) = breaks(&x.uri, last) {
            return vec![RequestViolation {
                requirement: CURSOR_ECHO.into(),
                detail: format!(
                    "exchange #{} ({}) does not echo the cursor {cursor:?} the server sent on #{seq}",
                    x.seq, x.uri
                ),
            }];
        }
        // A response cut short (or refused) is one the reader rightly discards, cursor and all.
        let complete = matches!(x.status, 200 | 204) && x.cut.is_none();
        let sent = x
            .response_headers
            .iter()
            .find(|(k, _)| k == "stream-cursor");
        if let Some((_, cursor)) = sent.filter(|_| complete) {
            last = Some((x.seq, cursor));
        }
    }
    for (method, uri) in in_flight {
        if method != "GET" || !uri.starts_with(path) {
            continue;
        }
        if matches!(param(uri, "offset").as_deref(), None | Some("-1")) {
            last = None;
        }
        if let Some((seq, cursor)) = breaks(uri, last) {
            return vec![RequestViolation {
                requirement: CURSOR_ECHO.into(),
                detail: format!(
                    "the waiting request {uri} does not echo the cursor {cursor:?} the server sent on #{seq}"
                ),
            }];
        }
    }
    Vec::new()
}

/// Slack for timers that fire a little early (JavaScript's may, by a millisecond or so).
const RETRY_AFTER_SLACK_MS: u64 = 50;

/// `OQ-TRANSIENT-ERRORS`, as every profile answers it: after a response with `Retry-After: N`
/// (seconds), the reader's next request on the stream comes N seconds later at the earliest.
/// The first request that came sooner, if any. (HTTP defines the header; the protocol is
/// silent, so cases cite the open question and stay informational.)
pub fn retry_after_not_honoured(exchanges: &[Exchange], path: &str) -> Vec<RequestViolation> {
    let on_stream: Vec<&Exchange> = exchanges
        .iter()
        .filter(|x| x.method == "GET" && x.uri.starts_with(path))
        .collect();
    for pair in on_stream.windows(2) {
        let (asked, next) = (pair[0], pair[1]);
        let Some(seconds) = asked
            .response_headers
            .iter()
            .find(|(k, _)| k == "retry-after")
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        else {
            continue;
        };
        let waited = next.received_ms.saturating_sub(asked.answered_ms);
        if waited + RETRY_AFTER_SLACK_MS < seconds.saturating_mul(1000) {
            return vec![RequestViolation {
                requirement: TRANSIENT_ERRORS.into(),
                detail: format!(
                    "exchange #{} came {waited} ms after #{} answered {} with Retry-After: {seconds} \
                     (the profile's position: wait that long before retrying)",
                    next.seq, asked.seq, asked.status
                ),
            }];
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(seq: u64, status: u16, retry_after: Option<&str>, at: (u64, u64)) -> Exchange {
        Exchange {
            seq,
            method: "GET".into(),
            uri: "/s?offset=-1".into(),
            request_headers: Vec::new(),
            request_body: Default::default(),
            status,
            response_headers: retry_after
                .map(|v| vec![("retry-after".to_owned(), v.to_owned())])
                .unwrap_or_default(),
            response_body: Default::default(),
            faults: Vec::new(),
            cut: None,
            finished: true,
            received_ms: at.0,
            answered_ms: at.1,
        }
    }

    #[test]
    fn a_retry_sooner_than_retry_after_is_named_and_a_patient_one_is_not() {
        let hasty = [
            read(0, 429, Some("2"), (0, 5)),
            read(1, 200, None, (900, 901)),
        ];
        let found = retry_after_not_honoured(&hasty, "/s");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].requirement, TRANSIENT_ERRORS);
        assert!(
            found[0]
                .detail
                .contains("#1 came 895 ms after #0 answered 429 with Retry-After: 2")
        );

        let patient = [
            read(0, 503, Some("1"), (0, 5)),
            read(1, 200, None, (1004, 1005)),
        ];
        assert!(retry_after_not_honoured(&patient, "/s").is_empty());
        let other_stream = [read(0, 429, Some("5"), (0, 5)), {
            let mut x = read(1, 200, None, (10, 11));
            x.uri = "/t?offset=-1".into();
            x
        }];
        assert!(retry_after_not_honoured(&other_stream, "/s").is_empty());
    }

    #[test]
    fn a_waiting_long_poll_is_held_to_the_cursor_too() {
        let mut first = read(0, 200, None, (0, 1));
        first.uri = "/s?offset=o1&live=long-poll".into();
        first.response_headers = vec![("stream-cursor".into(), "c1".into())];
        let get = |uri: &str| vec![("GET".to_owned(), uri.to_owned())];
        let none = cursor_not_echoed(std::slice::from_ref(&first), &[], "/s");
        assert!(none.is_empty());
        let dropped = cursor_not_echoed(
            std::slice::from_ref(&first),
            &get("/s?offset=o2&live=long-poll"),
            "/s",
        );
        assert_eq!(dropped.len(), 1);
        assert!(
            dropped[0].detail.contains("waiting request") && dropped[0].detail.contains("c1"),
            "{:?}",
            dropped[0]
        );
        let echoed = get("/s?offset=o2&live=long-poll&cursor=c1");
        assert!(cursor_not_echoed(std::slice::from_ref(&first), &echoed, "/s").is_empty());
        // Starting over from the beginning forgets the cursor.
        let restart = get("/s?offset=-1");
        assert!(cursor_not_echoed(std::slice::from_ref(&first), &restart, "/s").is_empty());
    }
}
