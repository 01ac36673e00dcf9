//! Subscribe and produce cases: each runs on a fresh simulator, its steps in order, with the
//! reference as the oracle at every checkpoint (the state the reference materializer reaches
//! on the stream as it stands, at the offset the implementation reports).

use std::sync::OnceLock;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use state_reference::{Batch, Collection, Materializer, Message, Mutant, Observation, ParseRules};
use state_reference::{Profile, Rejection};
use stream_simulator::fault::{FaultPlan, Rule};
use stream_simulator::store::Log;
use stream_simulator::transcript::Exchange;
use stream_simulator::{Simulator, SimulatorHandle};

use crate::adapter::process::{AdapterFault, AdapterProcess};
use crate::adapter::protocol::{Awaited, Command, ProduceOp};
use crate::case::{AwaitPoint, Case, Mode, Step};
use crate::client::{self, Live, Subscription, Until};
use crate::execute::Outcome;

/// How long an `await` waits by default before the implementation is said not to get there.
pub const DEFAULT_AWAIT: Duration = Duration::from_secs(5);
/// The simulator's long-poll timeout in cases: short, so idle clients cycle often.
const LONG_POLL: Duration = Duration::from_millis(500);
/// SSE connections end after this, so every SSE case also sees a clean reconnect or two.
const SSE_LIFETIME: Duration = Duration::from_secs(2);
/// Transcript lines kept in an outcome.
const TRANSCRIPT_LINES: usize = 40;

/// The tokio runtime simulators (and the in-process reference client) run on.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("simulator")
            .enable_all()
            .build()
            .expect("a tokio runtime starts")
    })
}

/// A checkpoint as run: what the implementation said and what the reference holds there.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointRun {
    /// The step's index in the case.
    pub step: usize,
    pub answer: Awaited,
    /// The stream's tail when the answer came (absent once the stream is gone).
    pub tail: Option<String>,
    /// The reference's observation at the reported offset, or why there is none.
    pub reference: Result<Observation, String>,
}

/// One message that landed in a produce case, with the reference's verdict on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Landed {
    pub message: Value,
    /// `REQUIREMENT: reason` when the message is invalid under the profile, as written.
    pub invalid: Option<String>,
}

/// The implementation side of a live case.
pub trait LiveClient {
    fn subscribe(&mut self, url: &str, live: Live) -> Result<(), AdapterFault>;
    fn wait(&mut self, until: &Until, timeout: Duration) -> Result<Awaited, AdapterFault>;
    fn produce(&mut self, url: &str, ops: &[ProduceOp]) -> Result<(), AdapterFault>;
}

fn decode<T: serde::de::DeserializeOwned>(command: &str, answer: Value) -> Result<T, AdapterFault> {
    serde_json::from_value(answer.clone()).map_err(|e| AdapterFault::WrongAnswer {
        command: command.into(),
        answer: format!("{answer} ({e})"),
    })
}

/// An adapter process, with the longest any one non-waiting command may take.
pub struct ThroughAdapter<'a> {
    pub adapter: &'a mut AdapterProcess,
    pub timeout: Duration,
}

impl LiveClient for ThroughAdapter<'_> {
    fn subscribe(&mut self, url: &str, live: Live) -> Result<(), AdapterFault> {
        let command = Command::Subscribe {
            url: url.into(),
            live,
        };
        self.adapter.call(&command, self.timeout).map(drop)
    }

    fn wait(&mut self, until: &Until, timeout: Duration) -> Result<Awaited, AdapterFault> {
        let command = Command::Await {
            until: until.clone(),
            timeout_ms: timeout.as_millis() as u64,
        };
        decode(
            "await",
            self.adapter.call(&command, timeout + self.timeout)?,
        )
    }

    fn produce(&mut self, url: &str, ops: &[ProduceOp]) -> Result<(), AdapterFault> {
        let command = Command::Produce {
            url: url.into(),
            ops: ops.to_vec(),
        };
        self.adapter.call(&command, self.timeout).map(drop)
    }
}

/// The reference client in this process (the oracle's own run of a case, and self-tests).
pub struct InProcess {
    profile: Profile,
    collections: Option<Vec<Collection>>,
    mutant: Option<Mutant>,
    http: reqwest::Client,
    subscription: Option<Subscription>,
}

impl InProcess {
    pub fn new(
        profile: &Profile,
        collections: Option<Vec<Collection>>,
        mutant: Option<Mutant>,
    ) -> Self {
        InProcess {
            profile: profile.clone(),
            collections,
            mutant,
            http: reqwest::Client::new(),
            subscription: None,
        }
    }
}

fn refused(command: &str, error: impl std::fmt::Display) -> AdapterFault {
    AdapterFault::Refused {
        command: command.into(),
        error: error.to_string(),
    }
}

/// A fresh consumer under `profile` declaring `collections`.
pub fn consumer(
    profile: &Profile,
    collections: Option<&[Collection]>,
    mutant: Option<Mutant>,
) -> Result<Materializer, String> {
    let m = Materializer::new(profile.clone()).with_mutant(mutant);
    match collections {
        Some(c) => m.with_collections(c).map_err(|e| e.to_string()),
        None => Ok(m),
    }
}

impl LiveClient for InProcess {
    fn subscribe(&mut self, url: &str, live: Live) -> Result<(), AdapterFault> {
        let (profile, collections, mutant) =
            (self.profile.clone(), self.collections.clone(), self.mutant);
        consumer(&profile, collections.as_deref(), mutant).map_err(|e| refused("subscribe", e))?;
        let fresh = Box::new(move || {
            consumer(&profile, collections.as_deref(), mutant)
                .unwrap_or_else(|_| Materializer::new(profile.clone()))
        });
        let handle = runtime().handle();
        self.subscription = Some(Subscription::start(
            handle,
            self.http.clone(),
            url.into(),
            live,
            fresh,
            mutant,
        ));
        Ok(())
    }

    fn wait(&mut self, until: &Until, timeout: Duration) -> Result<Awaited, AdapterFault> {
        let subscription = self
            .subscription
            .as_mut()
            .ok_or_else(|| refused("await", "await needs a subscription"))?;
        let (reached, p) = runtime().block_on(subscription.wait(until, timeout));
        Ok(awaited(reached, p))
    }

    fn produce(&mut self, url: &str, ops: &[ProduceOp]) -> Result<(), AdapterFault> {
        let collections = self.collections.as_deref().unwrap_or_default();
        let messages = build_messages(collections, ops).map_err(|e| refused("produce", e))?;
        runtime()
            .block_on(client::produce(&self.http, url, &messages))
            .map_err(|e| refused("produce", e))
    }
}

/// The `await` answer for a subscription's progress.
pub fn awaited(reached: bool, p: client::Progress) -> Awaited {
    Awaited {
        reached,
        up_to_date: p.up_to_date,
        closed: p.closed,
        report: p.observation.into(),
        stop_reason: p.error,
    }
}

/// The messages `ops` describe, built with the reference's producer helpers.
pub fn build_messages(collections: &[Collection], ops: &[ProduceOp]) -> Result<Vec<Value>, String> {
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let collection = collections
                .iter()
                .find(|c| c.name == op.collection)
                .ok_or_else(|| format!("op {i}: no collection named {:?}", op.collection))?;
            let mut builder = match (op.op.as_str(), &op.value) {
                ("insert", Some(v)) => collection.insert(v.clone()),
                ("update", Some(v)) => collection.update(v.clone()),
                ("delete", _) => collection.delete(),
                (other, _) => {
                    return Err(format!("op {i}: cannot produce {other:?} without a value"));
                }
            };
            if let Some(key) = &op.key {
                builder = builder.key(key.clone());
            }
            if let Some(old) = &op.old_value {
                builder = builder.old_value(old.clone());
            }
            if let Some(txid) = &op.txid {
                builder = builder.txid(txid.clone());
            }
            if let Some(ts) = &op.timestamp {
                builder = builder.timestamp(ts.clone());
            }
            let message = builder.build().map_err(|e| format!("op {i}: {e}"))?;
            Ok(message.to_value())
        })
        .collect()
}

/// Runs a subscribe or produce case's steps against `client` on a fresh simulator.
pub fn run(
    case: &Case,
    profile: &Profile,
    client: &mut dyn LiveClient,
) -> Result<Outcome, AdapterFault> {
    run_inner(case, profile, client, &mut Vec::new())
}

/// [`run`], also returning every exchange the simulator recorded (for exported fixtures).
pub fn run_recorded(
    case: &Case,
    profile: &Profile,
    client: &mut dyn LiveClient,
) -> Result<(Outcome, Vec<Exchange>), AdapterFault> {
    let mut exchanges = Vec::new();
    let outcome = run_inner(case, profile, client, &mut exchanges)?;
    Ok((outcome, exchanges))
}

fn run_inner(
    case: &Case,
    profile: &Profile,
    client: &mut dyn LiveClient,
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
    let path = format!("/cases/{}", case.id);
    let url = format!("{}{path}", sim.url());
    if let Err(e) = sim.create_json_stream(&path) {
        return Ok(setup_error(format!(
            "cannot create the stream: {}",
            e.reason
        )));
    }
    let served = served_offsets(case);
    let mut checkpoints = Vec::new();
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
            Step::Subscribe => client.subscribe(&url, case.live.unwrap_or(Live::Auto))?,
            Step::Await(wait) => {
                let tail_now = || sim.log(&path, false).ok().map(|l| l.meta.tail.to_string());
                let until = match wait.until {
                    AwaitPoint::UpToDate => Until::UpToDate { offset: tail_now() },
                    AwaitPoint::Txid => Until::Txid {
                        txid: wait.txid.clone().unwrap_or_default(),
                    },
                    AwaitPoint::Closed => Until::Closed,
                    AwaitPoint::Stopped => Until::Stopped,
                };
                let timeout = wait.timeout_ms.map_or(DEFAULT_AWAIT, Duration::from_millis);
                let answer = client.wait(&until, timeout)?;
                // Faults may append (a compaction's snapshot) while the reader reads: the tail
                // that counts is the one after the answer.
                let tail = tail_now();
                let reference = match sim.log(&path, served) {
                    Ok(log) => state_at(
                        &log,
                        answer.report.offset.as_deref(),
                        profile,
                        case.collections.as_deref(),
                    ),
                    Err(e) => Err(format!("the stream is gone ({})", e.reason)),
                };
                checkpoints.push(CheckpointRun {
                    step: i,
                    answer,
                    tail,
                    reference,
                });
            }
            Step::Produce { ops } => client.produce(&url, ops)?,
        }
    }
    *recorded = sim.transcript();
    let transcript = summarize(recorded);
    let unfired = unfired_rules(case, &sim);
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
            transcript,
        },
    })
}

fn setup_error(reason: String) -> Outcome {
    Outcome::SetupError { reason }
}

/// Whether the case's faults serve messages with `headers.offset` (the oracle then reads
/// them that way too).
fn served_offsets(case: &Case) -> bool {
    case.steps.iter().any(|s| match s {
        Step::Faults { rules } => rules
            .iter()
            .any(|r| r.fault == stream_simulator::fault::Fault::ServedOffsets),
        _ => false,
    })
}

/// The reference's observation after reading `log` from its beginning up to `offset`, as a
/// fault-free reader would: everything up to there in one up-to-date batch, and again from
/// wherever a reset moves reading.
pub fn state_at(
    log: &Log,
    offset: Option<&str>,
    profile: &Profile,
    collections: Option<&[Collection]>,
) -> Result<Observation, String> {
    let mut m = consumer(profile, collections, None)?;
    let Some(target) = offset else {
        return Ok(m.observe());
    };
    let offsets: Vec<String> = log.messages.iter().map(|l| l.offset.to_string()).collect();
    let mut from = 0usize;
    // Each pass starts further on or stops: a reset that points backwards is reported.
    for _ in 0..=log.messages.len() + 1 {
        let mut items = Vec::new();
        let mut next = offsets
            .get(from)
            .cloned()
            .unwrap_or_else(|| log.meta.tail.to_string());
        for logged in &log.messages[from.min(log.messages.len())..] {
            let end = logged.next.to_string();
            if end.as_str() > target {
                break;
            }
            items.push(serde_json::from_slice(&logged.data).unwrap_or(Value::Null));
            next = end;
        }
        if next.as_str() != target {
            return Err(format!("{target} is not a message boundary of the stream"));
        }
        m.apply_batch(Batch {
            items,
            offset: Some(next.clone()),
            up_to_date: true,
        });
        let observation = m.observe();
        match observation.offset.as_deref() {
            Some(o) if o == next => return Ok(observation),
            Some(restart) => match offsets.iter().position(|o| o == restart) {
                Some(at) if at > from => from = at,
                _ if restart == target => return Ok(observation),
                _ => {
                    return Err(format!(
                        "a reset moves reading to {restart}, which the stream cannot continue from"
                    ));
                }
            },
            None => return Ok(observation),
        }
    }
    Err("resets keep moving reading back".into())
}

/// Every message of `log`, judged as written under `profile`.
pub fn lint(log: &Log, profile: &Profile) -> Vec<Landed> {
    let rules = ParseRules::from_profile(profile);
    log.messages
        .iter()
        .map(|logged| {
            let parsed = Message::parse_bytes(&logged.data, &rules);
            Landed {
                message: serde_json::from_slice(&logged.data).unwrap_or(Value::Null),
                invalid: parsed
                    .err()
                    .map(|r: Rejection| format!("{}: {r}", r.requirement)),
            }
        })
        .collect()
}

/// The case's fault rules that never fired (as JSON): the implementation never made the
/// request they target, so the case did not test what it says.
fn unfired_rules(case: &Case, sim: &SimulatorHandle) -> Vec<String> {
    let fired: Vec<stream_simulator::fault::Fault> = sim
        .transcript()
        .into_iter()
        .flat_map(|x| x.faults)
        .collect();
    case.steps
        .iter()
        .filter_map(|s| match s {
            Step::Faults { rules } => Some(rules),
            _ => None,
        })
        .flatten()
        .filter(|r| !fired.contains(&r.fault))
        .map(|r| serde_json::to_string(r).unwrap_or_default())
        .collect()
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
