//! The bundled reference adapter: the reference implementation behind the adapter protocol.
//! `state-conformance reference-adapter [--mutant NAME]` serves it on stdin/stdout, and the
//! runner drives it as a child process exactly like a foreign implementation.

use std::io::{BufRead, Write};

use serde_json::{Value, json};
use state_reference::{Batch, Materializer, Message, Mutant, ParseRules, Profile};

use super::protocol::{Capability, Command, PROTOCOL_VERSION};

/// Answers commands from stdin until `bye` or end of input.
pub fn serve(mutant: Option<Mutant>) {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    let mut session: Option<Materializer> = None;
    let mut profile = Profile::default_profile();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let (answer, bye) = match serde_json::from_str::<Command>(&line) {
            Ok(command) => {
                let bye = command == Command::Bye;
                (respond(command, &mut session, &mut profile, mutant), bye)
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

fn declare(
    m: Materializer,
    collections: Option<Vec<state_reference::Collection>>,
) -> Result<Materializer, String> {
    match collections {
        Some(c) => m.with_collections(&c).map_err(|e| e.to_string()),
        None => Ok(m),
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

fn respond(
    command: Command,
    session: &mut Option<Materializer>,
    profile: &mut Profile,
    mutant: Option<Mutant>,
) -> Value {
    let name = command.name();
    match command {
        Command::Hello { .. } => ok(
            name,
            json!({
                "protocol": PROTOCOL_VERSION,
                "implementation": {"name": "state-reference", "version": env!("CARGO_PKG_VERSION")},
                "capabilities": [Capability::Materialize, Capability::Validate],
                "profiles": Profile::preset_names(),
            }),
        ),
        Command::Open {
            profile: wanted,
            collections,
            ..
        } => match Profile::preset(&wanted) {
            Ok(p) => match declare(
                Materializer::new(p.clone()).with_mutant(mutant),
                collections,
            ) {
                Ok(m) => {
                    *profile = p;
                    *session = Some(m);
                    ok(name, json!({}))
                }
                Err(e) => refuse(name, e),
            },
            Err(e) => refuse(name, e),
        },
        Command::Apply {
            items,
            offset,
            up_to_date,
        } => match session {
            Some(m) => {
                let rejected: Vec<Value> = m
                    .apply_batch(Batch { items, offset: Some(offset), up_to_date })
                    .iter()
                    .map(|d| json!({"index": d.index, "reason": format!("{}: {}", d.requirement, d.reason)}))
                    .collect();
                ok(name, json!({"rejected": rejected}))
            }
            None => refuse(name, "no case is open"),
        },
        Command::State => match session {
            Some(m) => ok(name, serde_json::to_value(m.observe()).unwrap_or_default()),
            None => refuse(name, "no case is open"),
        },
        Command::Validate { message, raw } => {
            let rules = ParseRules::from_profile(profile).with_mutant(mutant);
            let parsed = match (raw, message) {
                (Some(raw), _) => Message::parse_bytes(raw.as_bytes(), &rules),
                (None, Some(message)) => Message::parse(message, &rules),
                (None, None) => return refuse(name, "validate needs `message` or `raw`"),
            };
            match parsed {
                Ok(_) => ok(name, json!({"valid": true})),
                Err(r) => ok(name, json!({"valid": false, "reason": r.to_string()})),
            }
        }
        Command::Bye => ok(name, json!({})),
    }
}
