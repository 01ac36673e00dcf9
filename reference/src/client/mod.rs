//! The reference HTTP client: a State Protocol subscriber that reads a Durable Stream
//! (catch-up, then long-poll or SSE) into the reference materializer, and a producer that
//! appends messages built by the reference's helpers.
//!
//! The subscriber follows PROTOCOL.md §5 and STATE-PROTOCOL §4.2 and §8: it commits an offset
//! only with the data read up to it, so a connection lost anywhere (before headers, inside a
//! body, between an SSE data event and its control event) is retried from the last committed
//! offset; 5xx and 429 are retried (after `Retry-After` when given); 410 means the offset was
//! compacted away, so it starts over from the beginning with a fresh state; 404 ends the
//! subscription with an error; a reset naming an offset moves reading there.

use std::time::Duration;

use crate::materializer::{Batch, Materializer, Observation};
use crate::mutant::Mutant;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

mod reads;

/// How the subscriber follows the stream once it has caught up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Live {
    /// Long-poll reads (`live=long-poll`).
    LongPoll,
    /// Server-sent events (`live=sse`).
    Sse,
    /// The implementation's own choice.
    Auto,
    /// Catch up and stop.
    #[serde(rename = "false")]
    Off,
}

/// What a subscription has reached so far (the adapter protocol's `await` answer carries it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The last read reached the tail.
    #[serde(default)]
    pub up_to_date: bool,
    /// The stream is closed and everything in it was read.
    #[serde(default)]
    pub closed: bool,
    /// The state, txids, committed offset and halt flag.
    #[serde(flatten)]
    pub observation: Observation,
    /// Why the subscription stopped, in the implementation's words (absent while it runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

/// What `await` waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "until", rename_all = "kebab-case")]
pub enum Until {
    /// Up to date (or at the end of a closed stream) at `offset` or beyond, when given.
    UpToDate {
        /// The offset the subscription must have reached, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<String>,
    },
    /// The txid has been seen.
    Txid {
        /// The txid to wait for.
        txid: String,
    },
    /// Everything of a closed stream has been read.
    Closed,
    /// The subscription stopped on an error (the stream is gone, say).
    Stopped,
}

impl Until {
    /// Whether a subscription at `p` has reached this point.
    pub fn reached_by(&self, p: &Progress) -> bool {
        match self {
            Until::UpToDate { offset } => {
                (p.up_to_date || p.closed)
                    && offset
                        .as_deref()
                        .is_none_or(|o| p.observation.offset.as_deref() >= Some(o))
            }
            Until::Txid { txid } => p.observation.txids.iter().any(|t| t == txid),
            Until::Closed => p.closed,
            Until::Stopped => p.stop_reason.is_some(),
        }
    }
}

/// A running subscription; dropping it stops reading.
pub struct Subscription {
    progress: watch::Receiver<Progress>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Subscription {
    /// Starts reading `url` from its beginning into `fresh()` (an empty materializer; made
    /// again whenever the subscriber has to start over).
    pub fn start(
        runtime: &tokio::runtime::Handle,
        http: reqwest::Client,
        url: String,
        live: Live,
        fresh: Box<dyn Fn() -> Materializer + Send>,
        mutant: Option<Mutant>,
    ) -> Subscription {
        let m = fresh();
        let (tx, rx) = watch::channel(Progress {
            observation: m.observe(),
            ..Progress::default()
        });
        let reader = Reader {
            http,
            url,
            live,
            fresh,
            m,
            offset: "-1".into(),
            earlier_offset: None,
            cursor: None,
            caught_up: false,
            progress: tx,
            mutant,
        };
        Subscription {
            progress: rx,
            task: runtime.spawn(reader.run()),
        }
    }

    /// Waits until `until` holds, the subscription stops on an error, or `timeout` passes;
    /// returns whether it was reached and the progress at that moment.
    pub async fn wait(&mut self, until: &Until, timeout: Duration) -> (bool, Progress) {
        let waited = tokio::time::timeout(
            timeout,
            self.progress
                .wait_for(|p| until.reached_by(p) || p.stop_reason.is_some()),
        )
        .await
        .is_ok();
        let progress = self.progress.borrow().clone();
        let reached = waited && until.reached_by(&progress);
        (reached, progress)
    }
}

/// Why one read did not complete.
enum ReadError {
    /// The connection broke (before the headers or inside the body): retry from the
    /// committed offset.
    Transport,
    /// Worth retrying from the committed offset (transport faults, 5xx, 429).
    Retry { after: Option<Duration> },
    /// The offset is gone (410): start over from the beginning.
    Gone,
    /// Nothing more to do (404, 400, a halted consumer).
    Stop(String),
}

/// Headers that move a reader along.
struct Position {
    next: Option<String>,
    cursor: Option<String>,
    up_to_date: bool,
    closed: bool,
}

struct Reader {
    http: reqwest::Client,
    url: String,
    live: Live,
    fresh: Box<dyn Fn() -> Materializer + Send>,
    m: Materializer,
    /// The committed offset: everything before it is applied.
    offset: String,
    /// The committed offset before the last (kept for the stale-offset mutant).
    earlier_offset: Option<String>,
    cursor: Option<String>,
    caught_up: bool,
    progress: watch::Sender<Progress>,
    /// A client mutant, for self-tests.
    mutant: Option<Mutant>,
}

/// Retries back off from 5 ms to 250 ms; a server's `Retry-After` is honoured up to 5 s.
const MAX_BACKOFF: Duration = Duration::from_millis(250);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Starting over after 410 more often than this in a row is an error, not a loop.
const MAX_RESTARTS: u32 = 8;

impl Reader {
    async fn run(mut self) {
        let (mut failures, mut restarts) = (0u32, 0u32);
        loop {
            let sse = self.caught_up && matches!(self.live, Live::Sse);
            let read = match sse {
                true => self.read_sse().await,
                false => self.read_once().await,
            };
            match read {
                Ok(Flow::Quiet) => {
                    self.resume_stale();
                    failures += 1;
                    tokio::time::sleep(backoff(failures)).await;
                }
                Ok(flow) => {
                    failures = 0;
                    restarts = 0;
                    if flow == Flow::Done {
                        return;
                    }
                    if self.mutant == Some(Mutant::StopsAtFirstUpToDate)
                        && self.progress.borrow().up_to_date
                    {
                        // Stuck, not ended: the subscription stays open and says nothing,
                        // as a client waiting on something that never comes does.
                        std::future::pending::<()>().await;
                    }
                    if self.mutant == Some(Mutant::ClosedNotEof)
                        && self.progress.borrow().up_to_date
                    {
                        // A closed stream answers at once: without a pause this mutant spins.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                Err(ReadError::Transport)
                    if self.mutant == Some(Mutant::GivesUpOnTransportErrors) =>
                {
                    return self.stop("the connection broke".into());
                }
                Err(ReadError::Transport) => {
                    self.resume_stale();
                    failures += 1;
                    tokio::time::sleep(backoff(failures)).await;
                }
                Err(ReadError::Retry { .. })
                    if self.mutant == Some(Mutant::GivesUpOnServerErrors) =>
                {
                    return self.stop("the server answered an error".into());
                }
                Err(ReadError::Retry { after }) => {
                    failures += 1;
                    let wait = after.map_or(backoff(failures), |a| a.min(MAX_RETRY_AFTER));
                    tokio::time::sleep(wait).await;
                }
                Err(ReadError::Gone) if restarts < MAX_RESTARTS => {
                    restarts += 1;
                    self.m = (self.fresh)();
                    self.offset = "-1".into();
                    self.cursor = None;
                    self.caught_up = false;
                    self.progress.send_replace(Progress {
                        observation: self.m.observe(),
                        ..Progress::default()
                    });
                }
                Err(ReadError::Gone) => {
                    return self.stop("the stream answers 410 Gone even from its beginning".into());
                }
                Err(ReadError::Stop(reason)) => return self.stop(reason),
            }
        }
    }

    /// The stale-offset mutant's hook: after a failed or fruitless read, go back to the
    /// offset committed before the last.
    fn resume_stale(&mut self) {
        if self.mutant == Some(Mutant::ResumesFromStaleOffset)
            && let Some(earlier) = self.earlier_offset.take()
        {
            self.offset = earlier;
        }
    }

    fn stop(&self, reason: String) {
        self.progress.send_modify(|p| p.stop_reason = Some(reason));
    }

    /// Applies one read's messages and says where reading goes from here.
    fn commit(&mut self, items: Vec<Value>, at: Position) -> Result<Flow, ReadError> {
        let next = at
            .next
            .ok_or_else(|| ReadError::Stop("a read answered without Stream-Next-Offset".into()))?;
        if let Some(cursor) = at.cursor {
            self.cursor = Some(cursor);
        }
        if self.mutant == Some(Mutant::StopsOnNonObjectValue)
            && let Some(item) = items.iter().find(|i| non_object_change(i))
        {
            return Err(ReadError::Stop(format!(
                "collections require object values: {item}"
            )));
        }
        let rejected = !self
            .m
            .apply_batch(Batch {
                items,
                offset: Some(next.clone()),
                up_to_date: at.up_to_date,
            })
            .is_empty();
        if rejected && self.mutant == Some(Mutant::StopsOnInvalidItem) {
            return Err(ReadError::Stop("a message was rejected".into()));
        }
        let observation = self.m.observe();
        let committed = observation.offset.clone().unwrap_or_else(|| next.clone());
        // A reset naming an offset restarts reading there (STATE-PROTOCOL §4.2.2).
        let moved = committed != next;
        if committed != self.offset {
            self.earlier_offset = Some(std::mem::replace(&mut self.offset, committed));
        }
        let up_to_date = at.up_to_date && !moved;
        self.caught_up |= up_to_date;
        let closed = at.closed && up_to_date && self.mutant != Some(Mutant::ClosedNotEof);
        let halted = observation.halted;
        self.progress.send_replace(Progress {
            observation,
            up_to_date,
            closed,
            stop_reason: None,
        });
        if halted {
            return Err(ReadError::Stop(
                "the consumer halted on a bad message".into(),
            ));
        }
        Ok(
            match (moved, closed || (up_to_date && self.live == Live::Off)) {
                (_, true) => Flow::Done,
                (true, false) => Flow::Moved,
                (false, false) => Flow::Continue,
            },
        )
    }
}

/// Where reading goes after a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// On from the committed offset.
    Continue,
    /// An SSE connection ended with the committed offset where it started: nothing new.
    /// Reconnecting at once would storm a server that keeps doing this, so the reader backs
    /// off first, as after a failure ([`backoff`]).
    Quiet,
    /// A reset moved the committed offset: read from there.
    Moved,
    /// Closed stream read to its end, or a catch-up-only subscription is up to date.
    Done,
}

/// An insert or update whose value is present and not a JSON object.
fn non_object_change(item: &Value) -> bool {
    let op = item.pointer("/headers/operation").and_then(Value::as_str);
    matches!(op, Some("insert" | "update")) && item.get("value").is_some_and(|v| !v.is_object())
}

/// 10 ms, doubling per failure in a row, at most [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(5 << failures.min(6)).min(MAX_BACKOFF)
}

/// Appends `messages` to the stream at `url` in one POST (a JSON array).
pub async fn produce(http: &reqwest::Client, url: &str, messages: &[Value]) -> Result<(), String> {
    let body = serde_json::to_string(messages).map_err(|e| e.to_string())?;
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("the append failed: {e}"))?;
    match response.status().is_success() {
        true => Ok(()),
        false => Err(format!("the append answered {}", response.status())),
    }
}

#[cfg(test)]
mod tests;
