//! The bundled reference adapter: the reference implementation behind the adapter protocol.
//! `state-conformance reference-adapter [--mutant NAME]` serves it on stdin/stdout, and the
//! runner drives it as a child process exactly like a foreign implementation.

use std::io::{BufRead, Write};

use serde_json::{Value, json};
use state_reference::{Batch, Collection, Materializer, Message, Mutant, ParseRules, Profile};

use super::protocol::{Capability, Command, PROTOCOL_VERSION};
use crate::client::{self, Subscription};
use crate::live::{awaited, build_messages, consumer};

/// Answers commands from stdin until `bye` or end of input.
pub fn serve(mutant: Option<Mutant>) {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    let mut adapter = Adapter::new(mutant);
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let (answer, bye) = match serde_json::from_str::<Command>(&line) {
            Ok(command) => {
                let bye = command == Command::Bye;
                (adapter.respond(command), bye)
            }
            Err(e) => (
                json!({"cmd": "unknown", "ok": false, "error": format!("not a command: {e}")}),
                false,
            ),
        };
        if writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .is_err()
            || bye
        {
            break;
        }
    }
}

fn ok(cmd: &str, mut fields: Value) -> Value {
    fields["cmd"] = json!(cmd);
    fields["ok"] = json!(true);
    fields
}

fn refuse(cmd: &str, error: impl std::fmt::Display) -> Value {
    json!({"cmd": cmd, "ok": false, "error": error.to_string()})
}

/// The open case: its profile, its collections and its consumer.
struct Session {
    profile: Profile,
    collections: Option<Vec<Collection>>,
    materializer: Materializer,
    subscription: Option<Subscription>,
}

struct Adapter {
    mutant: Option<Mutant>,
    session: Option<Session>,
    /// Made on the first live command; materialize and validate never need it.
    live: Option<(tokio::runtime::Runtime, reqwest::Client)>,
}

impl Adapter {
    fn new(mutant: Option<Mutant>) -> Adapter {
        Adapter {
            mutant,
            session: None,
            live: None,
        }
    }

    fn live(&mut self) -> Result<&(tokio::runtime::Runtime, reqwest::Client), String> {
        if self.live.is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?;
            let http = reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(5))
                .build()
                .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
            self.live = Some((runtime, http));
        }
        self.live.as_ref().ok_or_else(|| "no runtime".to_owned())
    }

    fn respond(&mut self, command: Command) -> Value {
        let name = command.name();
        match self.answer(command) {
            Ok(fields) => ok(name, fields),
            Err(e) => refuse(name, e),
        }
    }

    fn session(&mut self) -> Result<&mut Session, String> {
        self.session
            .as_mut()
            .ok_or_else(|| "no case is open".into())
    }

    fn answer(&mut self, command: Command) -> Result<Value, String> {
        match command {
            Command::Hello { .. } => Ok(json!({
                "protocol": PROTOCOL_VERSION,
                "implementation": {"name": "state-reference", "version": env!("CARGO_PKG_VERSION")},
                "capabilities": [Capability::Materialize, Capability::Validate, Capability::Subscribe, Capability::Produce],
                "profiles": Profile::preset_names(),
            })),
            Command::Open {
                profile,
                collections,
                ..
            } => {
                self.session = None; // stops a subscription still running
                let profile = Profile::preset(&profile).map_err(|e| e.to_string())?;
                let materializer = consumer(&profile, collections.as_deref(), self.mutant)?;
                self.session = Some(Session {
                    profile,
                    collections,
                    materializer,
                    subscription: None,
                });
                Ok(json!({}))
            }
            Command::Apply {
                items,
                offset,
                up_to_date,
            } => {
                let m = &mut self.session()?.materializer;
                let rejected: Vec<Value> = m
                    .apply_batch(Batch { items, offset: Some(offset), up_to_date })
                    .iter()
                    .map(|d| json!({"index": d.index, "reason": format!("{}: {}", d.requirement, d.reason)}))
                    .collect();
                Ok(json!({"rejected": rejected}))
            }
            Command::State => serde_json::to_value(self.session()?.materializer.observe())
                .map_err(|e| e.to_string()),
            Command::Validate { message, raw } => {
                let profile = match &self.session {
                    Some(s) => s.profile.clone(),
                    None => Profile::default_profile(),
                };
                let rules = ParseRules::from_profile(&profile).with_mutant(self.mutant);
                let parsed = match (raw, message) {
                    (Some(raw), _) => Message::parse_bytes(raw.as_bytes(), &rules),
                    (None, Some(message)) => Message::parse(message, &rules),
                    (None, None) => return Err("validate needs `message` or `raw`".into()),
                };
                Ok(match parsed {
                    Ok(_) => json!({"valid": true}),
                    Err(r) => json!({"valid": false, "reason": r.to_string()}),
                })
            }
            Command::Subscribe { url, live } => {
                let mutant = self.mutant;
                let (runtime, http) = self.live()?;
                let (handle, http) = (runtime.handle().clone(), http.clone());
                let session = self.session()?;
                let (profile, collections) = (session.profile.clone(), session.collections.clone());
                // Fail now, not inside the reader, if the collections cannot be declared.
                consumer(&profile, collections.as_deref(), mutant)?;
                let fresh = Box::new(move || {
                    consumer(&profile, collections.as_deref(), mutant)
                        .unwrap_or_else(|_| Materializer::new(profile.clone()))
                });
                session.subscription =
                    Some(Subscription::start(&handle, http, url, live, fresh, mutant));
                Ok(json!({}))
            }
            Command::Await { until, timeout_ms } => {
                let runtime = self.live()?.0.handle().clone();
                let subscription = self
                    .session()?
                    .subscription
                    .as_mut()
                    .ok_or("await needs a subscription")?;
                let (reached, p) = runtime.block_on(
                    subscription.wait(&until, std::time::Duration::from_millis(timeout_ms)),
                );
                serde_json::to_value(awaited(reached, p)).map_err(|e| e.to_string())
            }
            Command::Produce { url, ops } => {
                let session = self.session()?;
                let messages =
                    build_messages(session.collections.as_deref().unwrap_or_default(), &ops)?;
                let (runtime, http) = self.live()?;
                runtime.block_on(client::produce(http, &url, &messages))?;
                Ok(json!({"written": messages.len()}))
            }
            Command::Bye => Ok(json!({})),
        }
    }
}
