//! Where each read resumes, judged from the simulator's transcript on every read of every
//! live case (catch-up, long-poll, SSE, and every reconnect after a fault):
//!
//! - its `offset` is the one the reader was last told (PROTOCOL §8, `DS-8-NEXT-OFFSET`; an
//!   SSE reconnect, §5.8, `DS-5.8-RECONNECT`): the `Stream-Next-Offset` of its last complete
//!   response, or the `streamNextOffset` of the last whole control event of an SSE
//!   connection. The documented exceptions: `-1` after a 410 (history compacted: start
//!   over), and the offset a served reset names (STATE-PROTOCOL §4.2.2: restart there);
//! - a live read (long-poll, or an SSE connection) carries as `cursor` the last cursor it
//!   was told (§10.1, `DS-10.1-CURSOR-ECHO`). A read from the beginning starts a new session
//!   and is not held to an old cursor;
//! - a live read names its offset at all (§5.7 and §5.8 make the parameter required,
//!   `DS-5.7-LIVE-OFFSET`): a server refuses one without it, so this is judged on the first
//!   read too.
//!
//! What is told comes from [`Exchange::told`], which the simulator's view of a reader uses
//! too. Requests still in flight count as the latest reads. A reader's first read (nothing
//! told yet) is not judged.

use state_reference::requirement::{CURSOR_ECHO, LIVE_OFFSET, NEXT_OFFSET, SSE_RECONNECT};
use stream_simulator::told::Told;
use stream_simulator::transcript::{Exchange, addresses, query_param};

use super::outcome::{RequestClass, RequestViolation};
use super::position::is_reset;

/// The first read that resumed from another offset than it was told, the first live read
/// that did not echo its cursor, and the first live read without an offset, if any.
pub fn resume_violations(
    exchanges: &[Exchange],
    in_flight: &[(String, String)],
    path: &str,
) -> Vec<RequestViolation> {
    let reads = exchanges
        .iter()
        .filter(|x| x.reads(path))
        .map(|x| (Some(x), x.uri.as_str()))
        .chain(
            in_flight
                .iter()
                .filter(|(m, u)| m == "GET" && addresses(u, path))
                .map(|(_, u)| (None, u.as_str())),
        );
    let (mut told, mut restart, mut resets): (Option<(u64, Told, bool)>, bool, Vec<String>) =
        (None, false, Vec::new());
    let (mut offset_broken, mut cursor_broken, mut offset_missing) = (None, None, None);
    for (x, uri) in reads {
        let what = match x {
            Some(x) => format!("exchange #{} ({uri})", x.seq),
            None => format!("the waiting request {uri}"),
        };
        let live = matches!(query_param(uri, "live"), Some("long-poll" | "sse"));
        let offset = query_param(uri, "offset");
        if live && offset_missing.is_none() && offset.is_none() {
            offset_missing = Some(violation(
                LIVE_OFFSET,
                format!("{what} reads live without an offset parameter"),
            ));
        }
        let offset = offset.unwrap_or_default().to_owned();
        if offset == "-1" && (restart || told.is_none()) {
            told = None; // a new session: nothing to resume, no cursor to echo
        }
        if let Some((seq, t, sse)) = &told {
            if offset_broken.is_none() && offset != t.offset && !resets.contains(&offset) {
                let requirement = if *sse { SSE_RECONNECT } else { NEXT_OFFSET };
                let how = if *sse {
                    "the last control event of SSE connection"
                } else {
                    "the response to"
                };
                offset_broken = Some(violation(
                    requirement,
                    format!(
                        "{what} reads from offset {offset}, but {how} #{seq} told it {}",
                        t.offset
                    ),
                ));
            }
            if let Some(cursor) = t.cursor.as_ref().filter(|_| live)
                && cursor_broken.is_none()
                && query_param(uri, "cursor") != Some(cursor.as_str())
            {
                cursor_broken = Some(violation(
                    CURSOR_ECHO,
                    format!("{what} does not echo the cursor {cursor:?} the server sent on #{seq}"),
                ));
            }
        }
        if let Some(x) = x {
            restart = x.status == 410;
            resets.extend(reset_offsets(x));
            if let Some(t) = x.told() {
                told = Some((x.seq, t, x.is_sse()));
            }
        }
    }
    [offset_missing, offset_broken, cursor_broken]
        .into_iter()
        .flatten()
        .collect()
}

fn violation(requirement: &str, detail: String) -> RequestViolation {
    RequestViolation {
        requirement: requirement.into(),
        detail,
        class: RequestClass::Every,
    }
}

/// The offsets named by reset control messages the exchange served.
fn reset_offsets(x: &Exchange) -> Vec<String> {
    x.served_items()
        .iter()
        .filter(|i| is_reset(i))
        .filter_map(|i| Some(i.pointer("/headers/offset")?.as_str()?.to_owned()))
        .collect()
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
