//! The verdicts of `check`: each message judged as written and as served, counted, and
//! handed on; and why a target could not be read.

use serde_json::Value;
use state_reference::{Message, ParseRules};

/// Why a target could not be linted.
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("cannot read {target}: {reason}")]
    Read { target: String, reason: String },
    #[error("{target}: {reason}")]
    NotMessages { target: String, reason: String },
    #[error(
        "{target}: `check` reads http:// and https:// URLs and files, not {scheme}:// (a file whose name has `://` in it: prefix it with ./)"
    )]
    Scheme { target: String, scheme: String },
}

pub(super) fn not_messages(target: &str, reason: impl std::fmt::Display) -> LintError {
    LintError::NotMessages {
        target: target.to_owned(),
        reason: reason.to_string(),
    }
}

/// Where a message was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The `index`th message of a dump.
    Dump,
    /// The `item`th message (0-based) of the read from `offset`.
    Read { offset: String, item: usize },
}

/// One message's verdicts as written and as served (`None`: valid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linted {
    /// Its number in the stream or dump, from 0.
    pub index: usize,
    pub place: Place,
    pub as_written: Option<String>,
    pub as_served: Option<String>,
}

/// The counts of a whole check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub messages: usize,
    pub invalid_as_written: usize,
    pub invalid_as_served: usize,
}

/// Judges messages as they come, counting and handing each verdict on.
pub(super) struct Judge<'f> {
    pub(super) rules: ParseRules,
    pub(super) tally: Tally,
    pub(super) each: &'f mut dyn FnMut(Linted),
}

impl Judge<'_> {
    /// `message` as the target holds it: as served for a URL, as written for a dump.
    pub(super) fn judge(&mut self, message: Value, place: Place, served: bool) {
        let index = self.tally.messages;
        let (written, served) = match served {
            true => (as_written(&message), message),
            false => {
                let served = as_served(&message, index);
                (message, served)
            }
        };
        // A rejection names its requirement itself (`SP-5.1-KEY-NONEMPTY at /key: …`).
        let verdict = |m: Value| Message::parse(m, &self.rules).err().map(|r| r.to_string());
        let linted = Linted {
            index,
            place,
            as_written: verdict(written),
            as_served: verdict(served),
        };
        self.tally.messages += 1;
        self.tally.invalid_as_written += usize::from(linted.as_written.is_some());
        self.tally.invalid_as_served += usize::from(linted.as_served.is_some());
        (self.each)(linted);
    }
}

/// Change messages without the `headers.offset` a server added.
fn as_written(message: &Value) -> Value {
    let mut m = message.clone();
    if m.pointer("/headers/operation").is_some()
        && let Some(h) = m.get_mut("headers").and_then(Value::as_object_mut)
    {
        h.remove("offset");
    }
    m
}

/// A change message as a server that adds `headers.offset` would serve it.
fn as_served(message: &Value, index: usize) -> Value {
    let mut m = message.clone();
    if m.pointer("/headers/operation").is_some()
        && let Some(h) = m.get_mut("headers").and_then(Value::as_object_mut)
    {
        h.insert("offset".into(), format!("{index:016}").into());
    }
    m
}
