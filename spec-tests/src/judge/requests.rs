//! The rules a live case's requests are held to, judged from the simulator's transcript:
//! `Retry-After` and giving up at a server error (an open question), reconnect storms, and
//! fault rules that never fired (the case then did not test what it says). Where each read
//! resumes (offset and cursor) is [`super::resume`]'s.

use state_reference::requirement::OQ_TRANSIENT_ERRORS as TRANSIENT_ERRORS;
use stream_simulator::fault::{Fault, Rule};
use stream_simulator::transcript::{Exchange, addresses};

use super::outcome::{RequestClass, RequestViolation};
use crate::corpus::case::Case;

/// The case's fault rules that never fired: the implementation never made the request they
/// target, or the fault found nothing to act on (see [`Exchange::fault_acted`]), so the case
/// did not test what it says.
pub fn unfired_rules(case: &Case, exchanges: &[Exchange]) -> Vec<Rule> {
    let fired = |fault: &Fault| exchanges.iter().any(|x| x.fault_acted(fault));
    crate::corpus::case::fault_rules(&case.steps)
        .filter(|r| !fired(&r.fault))
        .cloned()
        .collect()
}

/// `OQ-TRANSIENT-ERRORS`: for a reader that ended (reported a stop, or went silent), its
/// last request on the stream was answered 5xx or 429 and it asked for nothing after (none
/// waiting): it gave up there, where the spec is silent and every profile retries. (The
/// caller asks only about a reader that ended: one waiting out a `Retry-After` has not.)
pub fn gave_up_at_server_error(
    exchanges: &[Exchange],
    in_flight: &[(String, String)],
    path: &str,
) -> Vec<RequestViolation> {
    if in_flight
        .iter()
        .any(|(m, u)| m == "GET" && addresses(u, path))
    {
        return Vec::new();
    }
    let last = exchanges.iter().rfind(|x| x.reads(path));
    match last {
        Some(x) if x.status == 429 || (500..=599).contains(&x.status) => vec![RequestViolation {
            requirement: TRANSIENT_ERRORS.into(),
            detail: format!(
                "the reader asked for nothing after exchange #{} answered {}",
                x.seq, x.status
            ),
            class: RequestClass::GaveUp,
        }],
        _ => Vec::new(),
    }
}

/// How the reader gave up at a server error, if it did (see [`gave_up_at_server_error`]).
pub fn gave_up(requests: &[RequestViolation]) -> Option<&str> {
    requests
        .iter()
        .find(|v| v.class == RequestClass::GaveUp)
        .map(|v| v.detail.as_str())
}

/// More requests than this for the same offset within one second, with nothing new served
/// between them, is a reconnect storm (a reader that backs off stays far below it; a
/// long-poll at the tail asks about twice a second).
pub const STORM_REQUESTS_PER_SECOND: usize = 20;

/// `OQ-RECONNECT-RATE`: the largest burst of requests for one offset within a second, when it
/// exceeds [`STORM_REQUESTS_PER_SECOND`]: a reader reconnecting without pause to reads that
/// keep ending with nothing new. Recorded in any case, never failed (the spec sets no rate).
pub fn reconnect_storm(exchanges: &[Exchange], path: &str) -> Vec<RequestViolation> {
    let reads: Vec<(&Exchange, &str)> = exchanges
        .iter()
        .filter(|x| x.reads(path))
        .map(|x| (x, x.query("offset").unwrap_or("")))
        .collect();
    let (mut worst, mut at) = (0, None);
    let mut start = 0;
    for end in 0..reads.len() {
        // The window: reads of the same offset as `end`, consecutive, within one second.
        if reads[end].1 != reads[start].1 {
            start = end;
        }
        while reads[end]
            .0
            .received_ms
            .saturating_sub(reads[start].0.received_ms)
            >= 1000
        {
            start += 1;
        }
        if end + 1 - start > worst {
            (worst, at) = (end + 1 - start, Some(start));
        }
    }
    match at {
        Some(first) if worst > STORM_REQUESTS_PER_SECOND => vec![RequestViolation {
            requirement: "OQ-RECONNECT-RATE".into(),
            detail: format!(
                "reconnect storm: {worst} requests for offset {} within one second from exchange #{} \
                 ({} requests on the stream in all), nothing new served between them",
                reads[first].1,
                reads[first].0.seq,
                reads.len()
            ),
            class: RequestClass::Recorded,
        }],
        _ => Vec::new(),
    }
}

/// Slack for timers that fire a little early (JavaScript's may, by a millisecond or so).
const RETRY_AFTER_SLACK_MS: u64 = 50;

/// `OQ-TRANSIENT-ERRORS`, as every profile answers it: after a response with `Retry-After: N`
/// (seconds), the reader's next request on the stream comes N seconds later at the earliest.
/// The first request that came sooner, if any. (HTTP defines the header; the protocol is
/// silent, so cases cite the open question and stay informational.)
pub fn retry_after_not_honoured(exchanges: &[Exchange], path: &str) -> Vec<RequestViolation> {
    let on_stream: Vec<&Exchange> = exchanges.iter().filter(|x| x.reads(path)).collect();
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
            return vec![RequestViolation::cited(
                TRANSIENT_ERRORS,
                format!(
                    "exchange #{} came {waited} ms after #{} answered {} with Retry-After: {seconds} \
                     (the profile's position: wait that long before retrying)",
                    next.seq, asked.seq, asked.status
                ),
            )];
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
            kind: stream_simulator::fault::RequestKind::CatchUp,
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
    fn a_burst_of_reads_of_one_offset_is_a_storm_and_a_backing_off_reader_is_not() {
        let at = |seq: u64, ms: u64| {
            let mut x = read(seq, 200, None, (ms, ms + 1));
            x.uri = "/s?offset=o1&live=sse".into();
            x
        };
        let storm: Vec<Exchange> = (0..30).map(|i| at(i, i * 10)).collect();
        let found = reconnect_storm(&storm, "/s");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].class, RequestClass::Recorded);
        assert!(
            found[0].detail.contains("30 requests for offset o1"),
            "{found:?}"
        );
        // Doubling pauses (10, 20, 40, … ms, at most 250): a handful a second.
        let mut ms = 0;
        let patient: Vec<Exchange> = (0..30)
            .map(|i| {
                ms += (5u64 << i.min(6)).min(250);
                at(i, ms)
            })
            .collect();
        assert!(reconnect_storm(&patient, "/s").is_empty());
        // Many reads, each of a new offset: a reader moving along, not a storm.
        let moving: Vec<Exchange> = (0..30)
            .map(|i| {
                let mut x = at(i, i * 10);
                x.uri = format!("/s?offset=o{i}");
                x
            })
            .collect();
        assert!(reconnect_storm(&moving, "/s").is_empty());
    }

    #[test]
    fn a_reader_that_asks_nothing_after_a_server_error_gave_up() {
        let answered = [read(0, 200, None, (0, 1)), read(1, 503, None, (5, 6))];
        let found = gave_up_at_server_error(&answered, &[], "/s");
        assert_eq!(found.len(), 1);
        assert_eq!(
            gave_up(&found),
            Some("the reader asked for nothing after exchange #1 answered 503")
        );
        // Still waiting on a request: not given up.
        let waiting = vec![("GET".to_owned(), "/s?offset=-1".to_owned())];
        assert!(gave_up_at_server_error(&answered, &waiting, "/s").is_empty());
        // Retried, and the retry answered: not given up.
        let retried = [read(1, 503, None, (5, 6)), read(2, 200, None, (20, 21))];
        assert!(gave_up_at_server_error(&retried, &[], "/s").is_empty());
    }
}
