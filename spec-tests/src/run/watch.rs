//! Awaiting a checkpoint while watching the reader through the simulator. The await is asked
//! of the adapter in short round-trips; between them the simulator says what the reader is
//! doing ([`ReaderActivity`]). A reader that was sent the point and whose reported progress
//! does not move is **stalled**; one with no read open that has asked for nothing for longer
//! than any reader waits is **stopped**. Either ends the await at once, where it used to cost
//! the whole timeout. Only a reader that is still reading (or waiting out a back-off after a
//! fault the simulator served) keeps the await open to its timeout.
//!
//! Both decisions count adapter answers, not time alone: an adapter that is descheduled
//! answers late, which delays a decision and never makes one.

use std::time::{Duration, Instant};

use state_reference::client::{Progress, Until};
use stream_simulator::SimulatorHandle;
use stream_simulator::activity::{ReaderActivity, Sent};
use stream_simulator::fault::RequestKind;

use crate::adapter::Implementation;
use crate::adapter::process::AdapterFault;
use crate::adapter::protocol::Awaited;
use crate::judge::outcome::{EndedEarly, Idle};

/// The longest one `await` round-trip asks of the adapter.
const ROUND_TRIP: Duration = Duration::from_millis(100);
/// How long a reader has, after being sent the point, before it can be called stalled.
const STALL_GRACE_MS: u64 = 1_000;
/// Answers in a row, past the grace, with the same progress: a stall.
const STALL_ANSWERS: u32 = 3;
/// Added to the long-poll timeout: how long a following reader may have no read open.
pub const STOP_MARGIN_MS: u64 = 250;
/// Answers that must come while a reader is silent past the limit: proof that the adapter
/// was running all along and its reader could have asked.
const STOP_ANSWERS: u32 = 2;

/// How long the progress of a reader that reported a stop, but still has a read open, must
/// stay the same before it is taken as final.
const STOP_SETTLE: Duration = Duration::from_secs(1);

/// The reader of one stream, as the simulator sees it, over a whole case: a reader found
/// stopped at one await is found so again at the next at its first answer.
pub struct Watch<'s> {
    sim: &'s SimulatorHandle,
    path: &'s str,
    judge: IdleJudge,
}

/// An await's answer, and why it ended early if it did.
pub struct Watched {
    pub answer: Awaited,
    pub ended_early: Option<EndedEarly>,
}

impl Watched {
    /// The adapter's answer, the await not cut short.
    fn answered(answer: Awaited) -> Watched {
        Watched {
            answer,
            ended_early: None,
        }
    }
}

impl<'s> Watch<'s> {
    /// Watches the reader of `path` on a simulator whose long-poll timeout is `long_poll`.
    pub fn new(sim: &'s SimulatorHandle, path: &'s str, long_poll: Duration) -> Watch<'s> {
        Watch {
            sim,
            path,
            judge: IdleJudge::new(long_poll),
        }
    }

    /// Waits for `until` (at most `timeout`). `target` is the stream's tail when the await
    /// began (what a txid await needs delivered). With `decide_early` off (a checkpoint the
    /// reader must not reach) the whole timeout is waited.
    pub fn wait(
        &mut self,
        client: &mut dyn Implementation,
        until: &Until,
        target: Option<&str>,
        timeout: Duration,
        decide_early: bool,
    ) -> Result<Watched, AdapterFault> {
        let deadline = Instant::now() + timeout;
        self.judge.new_point();
        // Since when the reported progress has not moved (for a reader that reported a stop).
        let mut settled: Option<(Progress, Instant)> = None;
        loop {
            let asked = Instant::now();
            let slice = deadline.saturating_duration_since(asked).min(ROUND_TRIP);
            let answer = client.wait(until, slice)?;
            if answer.reached || Instant::now() >= deadline {
                return Ok(Watched::answered(answer));
            }
            if answer.progress.stop_reason.is_some() {
                // A reader that reported a stop is done once it has no read open; one that
                // reads on (StreamDB does, after its preload fails) is observed once its
                // progress has settled.
                let since = match settled.take() {
                    Some((p, at)) if p == answer.progress => at,
                    _ => Instant::now(),
                };
                if self.sim.activity(self.path).open == 0 || since.elapsed() >= STOP_SETTLE {
                    return Ok(Watched::answered(answer));
                }
                settled = Some((answer.progress, since));
                continue;
            }
            if decide_early {
                let activity = self.sim.activity(self.path);
                if let Some(e) = self
                    .judge
                    .observe(&answer.progress, &activity, until, target)
                {
                    return Ok(Watched {
                        answer,
                        ended_early: Some(e),
                    });
                }
            }
            // An answer that came well before its time is the adapter's own word that the
            // point will not be reached (its client's subscription ended): final, as it
            // always was.
            if asked.elapsed() < slice / 2 {
                return Ok(Watched::answered(answer));
            }
        }
    }

    /// Waits (at most `timeout`) until `count` requests of `kind` to the stream were answered
    /// (with `status`, when given). A reader that never makes them is not waited for past
    /// the timeout, nor once it is found stopped (returns `true` then): the case's checks
    /// say what did not happen.
    pub fn await_requests(
        &mut self,
        client: &mut dyn Implementation,
        kind: RequestKind,
        status: Option<u16>,
        count: usize,
        timeout: Duration,
    ) -> Result<bool, AdapterFault> {
        let deadline = Instant::now() + timeout;
        let mut probed = Instant::now();
        self.judge.new_point();
        loop {
            let answered = self
                .sim
                .transcript()
                .iter()
                .filter(|x| x.reads(self.path))
                .filter(|x| x.kind == kind && status.is_none_or(|s| s == x.status))
                // An SSE connection is answered once its response has started (its first
                // events are written with its head); other reads once answered in full.
                .filter(|x| x.finished || kind == RequestKind::Sse)
                .count();
            if answered >= count || Instant::now() >= deadline {
                return Ok(false);
            }
            if probed.elapsed() >= ROUND_TRIP {
                // The adapter answering is what lets a silence count (see the module doc).
                let probe = client.wait(&Until::Stopped, Duration::ZERO)?;
                let activity = self.sim.activity(self.path);
                let early = self
                    .judge
                    .observe(&probe.progress, &activity, &Until::Stopped, None);
                if early.is_some_and(|e| e.reader == Idle::Stopped) {
                    return Ok(true);
                }
                probed = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Decides, answer after answer, whether a reader that has not reached its point stalled
/// or stopped. Pure: fed the adapter's answers and the simulator's view, it keeps no clock.
pub struct IdleJudge {
    long_poll_ms: u64,
    last: Option<Progress>,
    /// Answers in a row with the same progress since the point was sent (past the grace).
    unchanged: u32,
    /// Answers in a row while the reader was silent past the limit.
    silent: u32,
    /// The simulator's clock at the first answer: a reader that never asked is silent since.
    first_seen_ms: Option<u64>,
    /// When the reader was first sent the point, while every answer since found it sent.
    sent_since: Option<u64>,
}

impl IdleJudge {
    pub fn new(long_poll: Duration) -> IdleJudge {
        IdleJudge {
            long_poll_ms: u64::try_from(long_poll.as_millis()).unwrap_or(u64::MAX),
            last: None,
            unchanged: 0,
            silent: 0,
            first_seen_ms: None,
            sent_since: None,
        }
    }

    /// A new await begins: a stall is counted afresh (a stop carries over).
    pub fn new_point(&mut self) {
        self.unchanged = 0;
        self.sent_since = None;
    }

    /// Takes one answer's progress and the reader's activity when it came.
    pub fn observe(
        &mut self,
        progress: &Progress,
        activity: &ReaderActivity,
        until: &Until,
        target: Option<&str>,
    ) -> Option<EndedEarly> {
        let now = activity.now_ms;
        let first_seen = *self.first_seen_ms.get_or_insert(now);
        let same = self.last.as_ref() == Some(progress);
        self.last = Some(progress.clone());

        // A reader that asked again from before what it was sent (back to a reset's offset,
        // or retrying from an older committed offset) is reading it again, not stalled.
        let rereading = activity.sent.as_ref().is_some_and(|s| rereads(activity, s));
        let sent = activity
            .sent
            .as_ref()
            .filter(|s| !rereading && carries(s, until, target));
        // The grace counts from the first time the point was sent: a reader that keeps
        // asking is sent it again and again (a closed stream answers at once).
        let since = match sent {
            Some(s) => *self.sent_since.get_or_insert(s.at_ms),
            None => {
                self.sent_since = None;
                now
            }
        };
        match sent {
            Some(_) if now.saturating_sub(since) >= STALL_GRACE_MS && same => self.unchanged += 1,
            Some(_) if now.saturating_sub(since) >= STALL_GRACE_MS => self.unchanged = 1,
            _ => self.unchanged = 0,
        }
        if let Some(s) = sent.filter(|_| self.unchanged >= STALL_ANSWERS) {
            return Some(EndedEarly {
                reader: Idle::Stalled,
                detail: format!(
                    "it was sent offset {}{} (first {} ms ago, last on exchange #{}), and \
                     over its last {} answers it still reports {}",
                    s.offset,
                    sent_flags(s),
                    now.saturating_sub(since),
                    s.seq,
                    self.unchanged,
                    reported(progress)
                ),
            });
        }

        let limit = self.long_poll_ms + STOP_MARGIN_MS;
        let quiet_since = activity
            .last_request
            .as_ref()
            .map(|r| r.received_ms.max(activity.last_end_ms.unwrap_or(0)))
            .unwrap_or(first_seen);
        let quiet = now.saturating_sub(quiet_since);
        // After a fault the simulator served, a reader may be backing off: for the
        // `Retry-After` it was given, or (without one) for as long as the await lasts.
        let backing_off = activity
            .refused
            .as_ref()
            .is_some_and(|r| match r.retry_after_s {
                Some(s) => now < r.at_ms + s.saturating_mul(1000) + limit,
                None => true,
            });
        match activity.open == 0 && !backing_off && quiet >= limit {
            true => self.silent += 1,
            false => self.silent = 0,
        }
        (self.silent >= STOP_ANSWERS).then(|| EndedEarly {
            reader: Idle::Stopped,
            detail: format!(
                "it has no read open and has asked for nothing for {quiet} ms (a following \
                 reader always has one within the {} ms long-poll timeout plus {STOP_MARGIN_MS} \
                 ms); {}; it reports {}",
                self.long_poll_ms,
                match &activity.last_request {
                    Some(r) => format!(
                        "its last request was {}GET {}",
                        r.seq.map(|s| format!("#{s} ")).unwrap_or_default(),
                        r.uri
                    ),
                    None => "it never made a request".to_owned(),
                },
                reported(progress)
            ),
        })
    }
}

/// Whether the reader's latest request, made after `sent` told it where it stands, asks
/// from an offset before that (`-1` included): it is reading that stretch again.
fn rereads(activity: &ReaderActivity, sent: &Sent) -> bool {
    let Some(last) = &activity.last_request else {
        return false;
    };
    let newer = last.seq.is_none_or(|seq| seq > sent.seq);
    let from = last
        .uri
        .split_once('?')
        .map_or("", |(_, q)| q)
        .split('&')
        .find_map(|kv| kv.strip_prefix("offset="));
    newer && from.is_some_and(|o| o == "-1" || o < sent.offset.as_str())
}

/// Whether what the reader was sent carries the point it is awaited at.
fn carries(sent: &Sent, until: &Until, target: Option<&str>) -> bool {
    let at_least = |o: Option<&str>| o.is_none_or(|o| sent.offset.as_str() >= o);
    match until {
        Until::UpToDate { offset } => {
            (sent.up_to_date || sent.closed) && at_least(offset.as_deref())
        }
        Until::Closed => sent.closed,
        // The txid was appended before the await: it is in what was sent once the reader
        // was sent the tail of then.
        Until::Txid { .. } => target.is_some() && at_least(target) && sent.up_to_date,
        Until::Stopped => false,
    }
}

fn sent_flags(s: &Sent) -> &'static str {
    match (s.up_to_date, s.closed) {
        (_, true) => " (up to date, closed)",
        (true, false) => " (up to date)",
        (false, false) => "",
    }
}

fn reported(p: &Progress) -> String {
    format!(
        "offset {}{}",
        crate::judge::diff::offset_text(p.observation.offset.as_deref()),
        match (p.up_to_date, p.closed) {
            (_, true) => ", closed",
            (true, false) => ", up to date",
            (false, false) => ", not up to date",
        }
    )
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
