//! Every way an adapter can fail the runner, as one error type: it would not start, exited,
//! hung, printed what the protocol does not allow, or answered the wrong thing.

use super::protocol::PROTOCOL_VERSION;

/// Lines longer than this are refused (and skipped to their end).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// For a `hello` that never came: the likeliest cause.
fn buffering_hint(command: &str) -> &'static str {
    match command {
        "hello" => {
            " (if it did answer, its stdout may be buffered: flush each answer line as it is \
             written; see docs/adapter-protocol.md)"
        }
        _ => "",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterFault {
    #[error("the adapter could not be started: {0}")]
    Spawn(String),
    #[error("the adapter exited ({0})")]
    Exited(String),
    #[error(
        "the adapter did not answer `{command}` within {timeout_ms} ms{}",
        buffering_hint(command)
    )]
    Timeout { command: String, timeout_ms: u128 },
    #[error("the adapter answered `{command}` with a line that is not JSON: {line:?}")]
    Garbage { command: String, line: String },
    #[error("the adapter printed a line over {MAX_LINE_BYTES} bytes")]
    TooLong,
    #[error("the adapter printed output nobody asked for (answered twice?): {line:?}")]
    Unsolicited { line: String },
    #[error("the adapter answered `{command}` with {answer}")]
    WrongAnswer { command: String, answer: String },
    #[error("the adapter refused `{command}`: {error}")]
    Refused { command: String, error: String },
    #[error(
        "the adapter's answer to `{command}` (stdout line {line}) breaks the protocol: {detail}"
    )]
    ProtocolViolation {
        command: String,
        line: usize,
        detail: String,
    },
    #[error("the adapter speaks protocol {0}, the runner {PROTOCOL_VERSION}")]
    Protocol(u32),
    #[error("writing to the adapter failed: {0}")]
    Io(String),
}
