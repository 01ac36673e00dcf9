//! The reference adapter's loop: one command per line, answered by the [`Reference`]
//! implementation, until `bye` or the end of input; on stdin/stdout, or on a TCP socket
//! (one connection at a time) for `run -- tcp://HOST:PORT`.

use std::io::{BufRead, Write};
use std::time::Duration;

use state_reference::{Mutant, Profile};

use super::Reference;
use crate::adapter::implementation::{Implementation, ValidateInput};
use crate::adapter::protocol::{
    Answer, Applied, Command, Hello, PROTOCOL_VERSION, Produced, Refused, Validity, answer_line,
};
use crate::corpus::case::{BatchInput, Mode};

/// Answers commands from stdin until `bye` or end of input.
pub fn serve(mutant: Option<Mutant>) {
    let stdin = std::io::stdin();
    session(mutant, stdin.lock(), std::io::stdout().lock());
}

/// Listens on `address` (`HOST:PORT`; port 0 picks one) and answers one connection at a
/// time, each a session of its own, until stopped: the reference as an adapter the user
/// started, reached by `run -- tcp://HOST:PORT` (as an implementation under a debugger
/// would be). Says where it listens on stderr.
pub fn listen(mutant: Option<Mutant>, address: &str) -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind(address)?;
    eprintln!("listening on tcp://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        let _ = stream.set_nodelay(true);
        let input = std::io::BufReader::new(stream.try_clone()?);
        session(mutant, input, stream);
    }
    Ok(())
}

/// One session: commands from `input` answered on `out` until `bye` or end of input.
fn session(mutant: Option<Mutant>, input: impl BufRead, mut out: impl Write) {
    let mut reference = Reference::standalone(mutant);
    for line in input.lines() {
        let Ok(line) = line else { break };
        let (answer, bye) = match serde_json::from_str::<Command>(&line) {
            Ok(command) => {
                let bye = command == Command::Bye;
                let name = command.name();
                (answer_line(name, respond(&mut reference, command)), bye)
            }
            Err(e) => (
                answer_line("unknown", Err(format!("not a command: {e}"))),
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

fn respond(reference: &mut Reference, command: Command) -> Result<Answer, String> {
    let fault = |e: crate::adapter::process::AdapterFault| match e {
        crate::adapter::process::AdapterFault::Refused { error, .. } => error,
        other => other.to_string(),
    };
    match command {
        Command::Hello { .. } => Ok(Answer::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            implementation: crate::adapter::protocol::ImplementationId {
                name: "state-reference".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            capabilities: vec![
                Mode::Materialize,
                Mode::Validate,
                Mode::Subscribe,
                Mode::Produce,
            ],
            profiles: Profile::preset_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        })),
        Command::Open {
            case,
            profile,
            collections,
        } => {
            let profile = Profile::preset(&profile).map_err(|e| e.to_string())?;
            reference
                .open(&case, &profile, collections.as_deref())
                .map_err(fault)?;
            Ok(Answer::Done {})
        }
        Command::Apply {
            items,
            offset,
            up_to_date,
        } => {
            let batch = BatchInput {
                items,
                offset,
                up_to_date,
            };
            let rejected = reference.apply(0, &batch).map_err(fault)?;
            Ok(Answer::Applied(Applied {
                rejected: rejected
                    .into_iter()
                    .map(|r| Refused {
                        index: r.index,
                        reason: format!("{}: {}", r.requirement, r.reason.unwrap_or_default()),
                    })
                    .collect(),
            }))
        }
        Command::State => reference.state().map(Answer::State).map_err(fault),
        Command::Validate { message, raw } => {
            let input = match (&raw, &message) {
                (Some(raw), _) => ValidateInput::Raw(raw),
                (None, Some(message)) => ValidateInput::Message(message),
                (None, None) => return Err("validate needs `message` or `raw`".into()),
            };
            let v = reference.validate(input).map_err(fault)?;
            Ok(Answer::Validity(Validity {
                valid: v.valid,
                reason: v.reason,
            }))
        }
        Command::Subscribe { url, live } => {
            reference.subscribe(&url, live).map_err(fault)?;
            Ok(Answer::Done {})
        }
        Command::Await { until, timeout_ms } => reference
            .wait(&until, Duration::from_millis(timeout_ms))
            .map(Answer::Awaited)
            .map_err(fault),
        Command::Produce { url, ops } => {
            reference.produce(&url, &ops).map_err(fault)?;
            Ok(Answer::Produced(Produced { written: ops.len() }))
        }
        Command::Bye => Ok(Answer::Done {}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The stdio answers read back as the runner's typed answers.
    #[test]
    fn answers_are_the_typed_model() {
        let mut r = Reference::standalone(None);
        let line = answer_line(
            "open",
            respond(
                &mut r,
                Command::Open {
                    case: "c".into(),
                    profile: "spec-1.0".into(),
                    collections: None,
                },
            ),
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], true);
        let line = answer_line(
            "apply",
            respond(
                &mut r,
                Command::Apply {
                    items: vec![serde_json::json!({"type": "t"})],
                    offset: "1".into(),
                    up_to_date: true,
                },
            ),
        );
        let applied: Applied =
            crate::adapter::process::decode("apply", serde_json::from_str(&line).unwrap()).unwrap();
        assert_eq!(applied.rejected.len(), 1);
        assert!(applied.rejected[0].reason.starts_with("SP-"), "{line}");
        let line = answer_line("nope", Err("boom".into()));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (v["ok"].clone(), v["error"].clone()),
            (false.into(), "boom".into())
        );
    }
}
