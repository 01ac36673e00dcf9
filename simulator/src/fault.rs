//! Fault plans: what goes wrong, on which request, as data (serializable, seeded, replayable).
//!
//! A plan is a list of rules. A rule matches requests (by stream path and kind) and fires on
//! the nth match, for `times` matches in a row; its fault then shapes that one exchange.
//! Positions are protocol positions: the nth request, the kth message of a body, the kth SSE
//! event, a byte count. The only randomness (delay jitter) comes from the plan's seed, so the
//! same plan against the same requests gives the same exchanges.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What kind of request a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    Any,
    /// Any GET.
    Read,
    CatchUp,
    LongPoll,
    Sse,
    /// POST.
    Append,
    /// PUT.
    Create,
    Head,
    Delete,
}

impl RequestKind {
    /// The kind of a request by its method and its `live` query parameter.
    pub fn of(method: &str, live: Option<&str>) -> RequestKind {
        match (method, live) {
            ("PUT", _) => RequestKind::Create,
            ("POST", _) => RequestKind::Append,
            ("HEAD", _) => RequestKind::Head,
            ("DELETE", _) => RequestKind::Delete,
            ("GET", None) => RequestKind::CatchUp,
            ("GET", Some("long-poll")) => RequestKind::LongPoll,
            ("GET", Some("sse")) => RequestKind::Sse,
            _ => RequestKind::Any,
        }
    }
}

/// One fault, from the catalogue of `docs/simulator.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "fault",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Fault {
    /// Transport: close the connection before any response header is sent.
    ResetBeforeHeaders,
    /// Transport: send the headers and the first `bytes` body bytes, then break the connection.
    CutBody { bytes: usize },
    /// Transport: break the connection halfway through the `message`th (0-based) message of a
    /// JSON body.
    CutInsideMessage { message: usize },
    /// Transport: end an SSE response cleanly after `events` events.
    SseCloseAfter { events: usize },
    /// Transport: break an SSE response after `events` events.
    SseAbortAfter { events: usize },
    /// Transport: wait `ms` (plus up to `jitter_ms`, seeded) before answering.
    Delay { ms: u64, jitter_ms: u64 },
    /// Status: answer with `status` (e.g. 500, 502, 503, 429, 404, 410) instead.
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// Pagination: a read returns at most `messages` messages (Stream-Up-To-Date only on the
    /// last page).
    Page { messages: usize },
    /// Pagination: a long-poll answers 204 at once, without waiting.
    EmptyLongPoll,
    /// Served form: add `headers.offset` (the message's own offset) to every served change or
    /// control message, as the upstream reference server does.
    ServedOffsets,
    /// Served form: write each SSE data event of a JSON stream over several `data:` lines,
    /// one message per line between `[` and `]` (PROTOCOL §5.8's example form), which an SSE
    /// reader must join with newlines before parsing.
    SseMultiLineData,
    /// State-level or lifecycle: apply an action to the stream just before the request is
    /// served (so a plan can place a reset, a snapshot or a compaction at a request number).
    Act { act: crate::store::Action },
}

/// The longest delay a rule may ask for, in ms (base and jitter each): anything longer is a
/// mistake in the plan, not a fault worth waiting for.
pub const MAX_DELAY_MS: u64 = 600_000;

/// When a rule fires. Reading a rule checks it (see [`Rule::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "UncheckedRule")]
pub struct Rule {
    /// The stream path it applies to; every stream when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default = "any_kind")]
    pub kind: RequestKind,
    /// The first matching request (1-based) it fires on.
    #[serde(default = "first")]
    pub nth: u64,
    /// How many matching requests in a row it fires on; every later one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(flatten)]
    pub fault: Fault,
}

/// A rule as written, before [`Rule::check`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UncheckedRule {
    #[serde(default)]
    stream: Option<String>,
    #[serde(default = "any_kind")]
    kind: RequestKind,
    #[serde(default = "first")]
    nth: u64,
    #[serde(default)]
    times: Option<u64>,
    #[serde(flatten)]
    fault: Fault,
}

impl TryFrom<UncheckedRule> for Rule {
    type Error = String;

    fn try_from(r: UncheckedRule) -> Result<Rule, String> {
        let rule = Rule {
            stream: r.stream,
            kind: r.kind,
            nth: r.nth,
            times: r.times,
            fault: r.fault,
        };
        rule.check()?;
        Ok(rule)
    }
}

fn any_kind() -> RequestKind {
    RequestKind::Any
}

fn first() -> u64 {
    1
}

/// A seeded list of rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPlan {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl Rule {
    pub fn new(fault: Fault) -> Rule {
        Rule {
            stream: None,
            kind: RequestKind::Any,
            nth: 1,
            times: None,
            fault,
        }
    }

    pub fn on(mut self, stream: impl Into<String>) -> Rule {
        self.stream = Some(stream.into());
        self
    }

    pub fn kind(mut self, kind: RequestKind) -> Rule {
        self.kind = kind;
        self
    }

    /// Fires on matching requests `nth ..= nth + times - 1` (1-based).
    pub fn at(mut self, nth: u64, times: u64) -> Rule {
        self.nth = nth;
        self.times = Some(times);
        self
    }

    /// A rule that can fire and whose fault can happen: `nth` and `times` count from 1,
    /// delays are bounded by [`MAX_DELAY_MS`], an injected status is a final status
    /// (200 to 599), a page holds at least one message. The message names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.nth == 0 {
            return Err("`nth` must be at least 1 (the first matching request is 1)".into());
        }
        if self.times == Some(0) {
            return Err("`times` must be at least 1 (leave it out for every later request)".into());
        }
        match self.fault {
            Fault::Delay { ms, jitter_ms } => {
                for (field, v) in [("ms", ms), ("jitterMs", jitter_ms)] {
                    if v > MAX_DELAY_MS {
                        return Err(format!(
                            "delay `{field}` is {v}; at most {MAX_DELAY_MS} (10 minutes)"
                        ));
                    }
                }
            }
            Fault::Status { status, .. } if !(200..=599).contains(&status) => {
                return Err(format!(
                    "`status` is {status}; an injected status must be a final one, 200 to 599"
                ));
            }
            Fault::Page { messages: 0 } => {
                return Err("page `messages` must be at least 1".into());
            }
            _ => {}
        }
        Ok(())
    }

    fn matches(&self, path: &str, kind: RequestKind) -> bool {
        let kind_matches = match self.kind {
            RequestKind::Any => true,
            RequestKind::Read => matches!(
                kind,
                RequestKind::CatchUp | RequestKind::LongPoll | RequestKind::Sse
            ),
            k => k == kind,
        };
        kind_matches && self.stream.as_deref().is_none_or(|s| s == path)
    }
}

/// What the plan decides for one request, decoded once from the rules that fired (where two
/// fired rules decide the same thing, the first in plan order wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// Every fault that fired, in plan order: what the transcript lists.
    pub faults: Vec<Fault>,
    /// Delay to wait before answering (jitter already drawn).
    pub delay_ms: u64,
    /// State-level or lifecycle actions, applied just before the request is served.
    pub acts: Vec<crate::store::Action>,
    /// A status to answer instead, with its `Retry-After` (seconds).
    pub status: Option<(u16, Option<u64>)>,
    /// Reads return at most this many messages.
    pub page_messages: Option<usize>,
    /// Served messages carry `headers.offset`.
    pub served_offsets: bool,
    /// SSE data events are written one message per line.
    pub sse_multi_line: bool,
    /// A long-poll is answered 204 at once.
    pub empty_long_poll: bool,
    /// The transport faults that may cut the response, in plan order (see
    /// [`Fault::cut_name`]): the first that finds something to cut does.
    pub cuts: Vec<Fault>,
}

impl Applied {
    fn decide(&mut self, fault: &Fault) {
        match fault {
            Fault::Act { act } => self.acts.push(act.clone()),
            Fault::Status {
                status,
                retry_after,
            } => {
                self.status.get_or_insert((*status, *retry_after));
            }
            Fault::Page { messages } => {
                self.page_messages.get_or_insert((*messages).max(1));
            }
            Fault::ServedOffsets => self.served_offsets = true,
            Fault::SseMultiLineData => self.sse_multi_line = true,
            Fault::EmptyLongPoll => self.empty_long_poll = true,
            Fault::Delay { .. } => {} // drawn by the engine, with its jitter
            cut => {
                if cut.cut_name().is_some() {
                    self.cuts.push(cut.clone());
                }
            }
        }
    }
}

impl Fault {
    /// The name a response cut by this fault carries in the transcript (`Cut::how`), for
    /// the transport faults that cut one; `None` for every other fault.
    pub fn cut_name(&self) -> Option<&'static str> {
        match self {
            Fault::ResetBeforeHeaders => Some("reset-before-headers"),
            Fault::CutBody { .. } => Some("cut-body"),
            Fault::CutInsideMessage { .. } => Some("cut-inside-message"),
            Fault::SseCloseAfter { .. } => Some("sse-close"),
            Fault::SseAbortAfter { .. } => Some("sse-abort"),
            _ => None,
        }
    }
}

/// A plan in force: per-rule match counters and the seeded jitter source.
#[derive(Debug)]
pub struct FaultEngine {
    plan: FaultPlan,
    seen: Vec<u64>,
    rng: ChaCha8Rng,
}

impl FaultEngine {
    pub fn new(plan: FaultPlan) -> FaultEngine {
        FaultEngine {
            seen: vec![0; plan.rules.len()],
            rng: ChaCha8Rng::seed_from_u64(plan.seed),
            plan,
        }
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Counts this request against every matching rule and returns the faults that fire.
    pub fn on_request(&mut self, path: &str, kind: RequestKind) -> Applied {
        let mut applied = Applied::default();
        for (rule, seen) in self.plan.rules.iter().zip(self.seen.iter_mut()) {
            if !rule.matches(path, kind) {
                continue;
            }
            *seen += 1;
            let fires = *seen >= rule.nth && rule.times.is_none_or(|t| *seen < rule.nth + t);
            if !fires {
                continue;
            }
            if let Fault::Delay { ms, jitter_ms } = rule.fault {
                applied.delay_ms += ms
                    + if jitter_ms > 0 {
                        self.rng.random_range(0..=jitter_ms)
                    } else {
                        0
                    };
            }
            applied.decide(&rule.fault);
            applied.faults.push(rule.fault.clone());
        }
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_on_the_nth_matching_request_for_times_requests() {
        let plan = FaultPlan {
            seed: 1,
            rules: vec![
                Rule::new(Fault::Status {
                    status: 503,
                    retry_after: Some(1),
                })
                .on("/s")
                .kind(RequestKind::Read)
                .at(2, 2),
            ],
        };
        let mut engine = FaultEngine::new(plan);
        let fired: Vec<bool> = [
            ("/s", RequestKind::CatchUp),
            ("/s", RequestKind::Append),
            ("/other", RequestKind::CatchUp),
            ("/s", RequestKind::LongPoll),
            ("/s", RequestKind::Sse),
            ("/s", RequestKind::CatchUp),
        ]
        .into_iter()
        .map(|(p, k)| !engine.on_request(p, k).faults.is_empty())
        .collect();
        assert_eq!(fired, [false, false, false, true, true, false]);
    }

    #[test]
    fn rules_that_cannot_fire_or_happen_are_refused_naming_the_field() {
        let read = |json: &str| {
            serde_json::from_str::<FaultPlan>(json)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        for (rule, field) in [
            (
                r#"{"fault": "delay", "ms": 18446744073709551615, "jitterMs": 0}"#,
                "`ms`",
            ),
            (
                r#"{"fault": "delay", "ms": 1, "jitterMs": 600001}"#,
                "`jitterMs`",
            ),
            (r#"{"fault": "reset-before-headers", "nth": 0}"#, "`nth`"),
            (
                r#"{"fault": "reset-before-headers", "times": 0}"#,
                "`times`",
            ),
            (r#"{"fault": "status", "status": 0}"#, "`status`"),
            (r#"{"fault": "status", "status": 101}"#, "`status`"),
            (r#"{"fault": "status", "status": 1000}"#, "`status`"),
            (r#"{"fault": "page", "messages": 0}"#, "`messages`"),
        ] {
            let err = read(&format!(r#"{{"rules": [{rule}]}}"#)).unwrap_err();
            assert!(err.contains(field), "{rule}: {err}");
        }
        for ok in [
            r#"{"fault": "delay", "ms": 600000, "jitterMs": 600000}"#,
            r#"{"fault": "status", "status": 200}"#,
            r#"{"fault": "status", "status": 599, "retryAfter": 2}"#,
            r#"{"fault": "reset-before-headers", "nth": 1, "times": 1}"#,
        ] {
            assert_eq!(read(&format!(r#"{{"rules": [{ok}]}}"#)), Ok(()), "{ok}");
        }
    }

    #[test]
    fn plans_round_trip_through_json_and_jitter_is_seeded() {
        let json = r#"{"seed": 7, "rules": [{"fault": "delay", "ms": 5, "jitterMs": 100, "kind": "read"},
                       {"fault": "cut-inside-message", "message": 2, "stream": "/s", "nth": 3, "times": 1}]}"#;
        let plan: FaultPlan = serde_json::from_str(json).unwrap();
        assert_eq!(
            serde_json::from_str::<FaultPlan>(&serde_json::to_string(&plan).unwrap()).unwrap(),
            plan
        );
        let delays = |p: &FaultPlan| {
            let mut e = FaultEngine::new(p.clone());
            (0..5)
                .map(|_| e.on_request("/s", RequestKind::CatchUp).delay_ms)
                .collect::<Vec<_>>()
        };
        assert_eq!(delays(&plan), delays(&plan));
        assert!(delays(&plan).iter().all(|d| (5..=105).contains(d)));
    }
}
