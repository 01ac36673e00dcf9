//! Subscribe and produce cases: each runs on a fresh simulator, its steps in order, with the
//! reference as the oracle at every checkpoint (the state the reference materializer reaches
//! on the stream as it stands, at the offset the implementation reports).

use std::time::Duration;

use serde_json::Value;
use state_reference::Profile;
use state_reference::client::{Live, Until};
use stream_simulator::Simulator;
use stream_simulator::fault::{FaultPlan, Rule};
use stream_simulator::transcript::Exchange;

use super::oracle::{lint, state_at};
use super::watch::Watch;
use crate::adapter::Implementation;
use crate::adapter::process::AdapterFault;
use crate::adapter::protocol::Awaited;
use crate::corpus::case::{Case, Mode, Step};
use crate::judge::outcome::{CheckpointRun, Idle, Outcome};
use crate::judge::requests::{
    gave_up_at_server_error, reconnect_storm, retry_after_not_honoured, unfired_rules,
};
use crate::judge::resume::resume_violations;
use crate::runtime::runtime;

/// How long an `await` waits by default before the implementation is said not to get there.
pub const DEFAULT_AWAIT: Duration = Duration::from_secs(5);
/// The simulator's long-poll timeout in cases: short, so idle clients cycle often.
const LONG_POLL: Duration = Duration::from_millis(500);
/// SSE connections end after this, so every SSE case also sees a clean reconnect or two.
const SSE_LIFETIME: Duration = Duration::from_secs(2);
/// How long an `await` waits once an earlier checkpoint of the case was missed (a stalled
/// reader would otherwise cost the full timeout at every later checkpoint).
const AFTER_A_MISS: Duration = Duration::from_millis(250);
/// Transcript lines kept in an outcome.
const TRANSCRIPT_LINES: usize = 40;

/// Runs a subscribe or produce case's steps against `client` on a fresh simulator.
pub fn run(
    case: &Case,
    profile: &Profile,
    client: &mut dyn Implementation,
) -> Result<Outcome, AdapterFault> {
    run_inner(case, profile, client, &mut Vec::new())
}

/// `run`, also returning every exchange the simulator recorded (for exported fixtures).
pub fn run_recorded(
    case: &Case,
    profile: &Profile,
    client: &mut dyn Implementation,
) -> Result<(Outcome, Vec<Exchange>), AdapterFault> {
    let mut exchanges = Vec::new();
    let outcome = run_inner(case, profile, client, &mut exchanges)?;
    Ok((outcome, exchanges))
}

fn run_inner(
    case: &Case,
    profile: &Profile,
    client: &mut dyn Implementation,
    recorded: &mut Vec<Exchange>,
) -> Result<Outcome, AdapterFault> {
    let sim = match runtime().block_on(
        Simulator::builder()
            .long_poll_timeout(LONG_POLL)
            .sse_lifetime(SSE_LIFETIME)
            .spawn(),
    ) {
        Ok(sim) => sim,
        Err(e) => return Ok(setup_error(format!("cannot start a simulator: {e}"))),
    };
    let mut path = format!("/cases/{}", case.id);
    let mut url = format!("{}{path}", sim.url());
    if let Err(e) = sim.create_json_stream(&path) {
        return Ok(setup_error(format!(
            "cannot create the stream: {}",
            e.reason
        )));
    }
    // The oracle reads the stream as the plan serves it.
    let served = crate::corpus::case::serves_offsets(&case.steps);
    let mut checkpoints = Vec::new();
    // Whether a checkpoint that had to be reached was not, and where a stopped subscription
    // stopped: the case has failed, and later checkpoints only add detail.
    let (mut missed, mut stopped) = (false, None);
    // Whether the simulator saw the reader stop asking: it has no next request to wait for.
    let mut idle = false;
    let mut watch = Watch::new(&sim, &path, LONG_POLL);
    for (i, step) in case.steps.iter().enumerate() {
        match step {
            Step::Append { items } => {
                let body = Value::Array(items.clone()).to_string();
                if let Err(e) = sim.append_json(&path, &body) {
                    return Ok(setup_error(format!(
                        "step {i}: the append failed: {}",
                        e.reason
                    )));
                }
            }
            Step::Faults { rules } => {
                let rules = rules
                    .iter()
                    .map(|r| Rule {
                        stream: r.stream.clone().or_else(|| Some(path.clone())),
                        ..r.clone()
                    })
                    .collect();
                sim.set_fault_plan(FaultPlan { seed: 0, rules });
            }
            Step::Act { act } => {
                if let Err(e) = sim.act(&path, act) {
                    return Ok(setup_error(format!(
                        "step {i}: the action failed: {}",
                        e.reason
                    )));
                }
            }
            Step::Fork { then_source } => {
                let fork = format!("{path}.fork");
                let forked = sim
                    .fork_stream(&path, &fork)
                    .and_then(|_| match then_source {
                        items if items.is_empty() => Ok(()),
                        items => sim
                            .append_json(&path, &Value::Array(items.clone()).to_string())
                            .map(|_| ()),
                    });
                if let Err(e) = forked {
                    return Ok(setup_error(format!(
                        "step {i}: the fork failed: {}",
                        e.reason
                    )));
                }
                url = format!("{}{fork}", sim.url());
                path = fork;
                watch = Watch::new(&sim, &path, LONG_POLL);
            }
            Step::Subscribe => {
                stopped = None;
                client.subscribe(&url, case.live.unwrap_or(Live::Auto))?;
            }
            Step::Requests {
                kind,
                count,
                status,
                timeout_ms,
            } => {
                let timeout = timeout_ms.map_or(DEFAULT_AWAIT, Duration::from_millis);
                idle |= watch.await_requests(client, *kind, *status, *count, timeout)?;
            }
            Step::Await(wait) => {
                let tail_now = || sim.log(&path, false).ok().map(|l| l.meta.tail.to_string());
                let until = match &wait.until {
                    Until::UpToDate { .. } => Until::UpToDate { offset: tail_now() },
                    other => other.clone(),
                };
                let mut timeout = wait.timeout_ms.map_or(DEFAULT_AWAIT, Duration::from_millis);
                if missed {
                    timeout = timeout.min(AFTER_A_MISS);
                }
                let (answer, ended_early) = match &stopped {
                    // A subscription that stopped stays where it stopped: no need to ask.
                    Some(progress) => (
                        Awaited {
                            reached: until.reached_by(progress),
                            progress: progress.clone(),
                        },
                        None,
                    ),
                    None => {
                        let target = tail_now();
                        let watched =
                            watch.wait(client, &until, target.as_deref(), timeout, wait.reached)?;
                        (watched.answer, watched.ended_early)
                    }
                };
                missed |= wait.reached && !answer.reached;
                idle |= ended_early
                    .as_ref()
                    .is_some_and(|e| e.reader == Idle::Stopped);
                if answer.progress.stop_reason.is_some() {
                    stopped = Some(answer.progress.clone());
                }
                // Faults may append (a compaction's snapshot) while the reader reads: the tail
                // that counts is the one after the answer.
                let tail = tail_now();
                let reference = match sim.log(&path, served) {
                    Ok(log) => state_at(
                        &log,
                        answer.progress.observation.offset.as_deref(),
                        profile,
                        case.collections.as_deref(),
                    ),
                    Err(e) => Err(format!("the stream is gone ({})", e.reason)),
                };
                checkpoints.push(CheckpointRun {
                    step: i,
                    answer,
                    tail,
                    ended_early,
                    reference,
                });
            }
            Step::Produce { ops } => client.produce(&url, ops)?,
        }
    }
    // A reader still following the stream is judged on its next request too (the cursor
    // echo): wait for it, so whether it is seen does not depend on how fast the case ended.
    let following = checkpoints
        .last()
        .is_some_and(|c| !c.answer.progress.closed && c.answer.progress.stop_reason.is_none());
    if case.mode == Mode::Subscribe && following && !idle {
        await_request_after_cursor(&sim, &path, NEXT_REQUEST_WAIT);
    }
    // One instant: a request whose response starts in between must not be judged twice.
    let (exchanges, in_flight) = sim.transcript_and_in_flight();
    // A reader that ended its subscription (or went silent) is the one that may have given
    // up; one merely waiting out a Retry-After when the case ends has not.
    let ended = checkpoints.last().is_some_and(|c| {
        c.answer.progress.stop_reason.is_some()
            || c.ended_early
                .as_ref()
                .is_some_and(|e| e.reader == Idle::Stopped)
    });
    *recorded = exchanges;
    let transcript = summarize(recorded);
    let unfired = unfired_rules(case, recorded);
    Ok(match case.mode {
        Mode::Produce => Outcome::Produce {
            landed: match sim.log(&path, false) {
                Ok(log) => lint(&log, profile),
                Err(e) => return Ok(setup_error(format!("the stream is gone: {}", e.reason))),
            },
            transcript,
        },
        _ => Outcome::Subscribe {
            checkpoints,
            unfired,
            requests: [
                resume_violations(recorded, &in_flight, &path),
                retry_after_not_honoured(recorded, &path),
                match ended {
                    true => gave_up_at_server_error(recorded, &in_flight, &path),
                    false => Vec::new(),
                },
                reconnect_storm(recorded, &path),
            ]
            .concat(),
            transcript,
        },
    })
}

fn setup_error(reason: String) -> Outcome {
    Outcome::SetupError { reason }
}

/// The longest wait at a case's end for a following reader's next request. A reader that
/// keeps following sends it within milliseconds, so the whole wait is paid only by one that
/// stopped. It was 500 ms: once, under the whole test suite on 2 cores, the cursor-echo
/// mutant's bundle failed to replay three times running, and a next request slower than
/// that is the likeliest way for its missing echo to go unjudged.
const NEXT_REQUEST_WAIT: Duration = Duration::from_secs(2);

/// Waits (at most `timeout`) until the reader has made a request after the last read on
/// `path` that told it a cursor (a complete response's header, or an SSE control event): one
/// made since, one still in flight (a long-poll waiting for data), or that read still open
/// (an SSE connection). Returns at once when no read told a cursor.
fn await_request_after_cursor(
    sim: &stream_simulator::SimulatorHandle,
    path: &str,
    timeout: Duration,
) {
    let deadline = std::time::Instant::now() + timeout;
    let on_path = |method: &str, uri: &str| {
        method == "GET" && stream_simulator::transcript::addresses(uri, path)
    };
    loop {
        let reads: Vec<Exchange> = sim
            .transcript()
            .into_iter()
            .filter(|x| on_path(&x.method, &x.uri))
            .collect();
        // The last read that told a cursor (in its headers, or an SSE control event). An SSE
        // connection still open is the reader's current read: nothing more to wait for.
        let Some(last) = reads
            .iter()
            .rposition(|x| x.told().is_some_and(|t| t.cursor.is_some()))
        else {
            return;
        };
        let later = last + 1 < reads.len() || !reads[last].finished;
        let waiting = sim.in_flight().iter().any(|(m, u)| on_path(m, u));
        if later || waiting || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The last exchanges, a line each.
fn summarize(exchanges: &[Exchange]) -> Vec<String> {
    let skip = exchanges.len().saturating_sub(TRANSCRIPT_LINES);
    exchanges[skip..]
        .iter()
        .map(|x| {
            let mut line = format!("#{} {} {} -> {}", x.seq, x.method, x.uri, x.status);
            for f in &x.faults {
                let name = serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.get("fault").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default();
                line.push_str(&format!(" [{name}]"));
            }
            if let Some(cut) = &x.cut {
                line.push_str(&format!(
                    " (cut: {} after {} bytes)",
                    cut.how, cut.after_bytes
                ));
            }
            line
        })
        .collect()
}
