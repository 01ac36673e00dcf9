//! Typed change and control messages (STATE-PROTOCOL §4, §5) and their parser.
//!
//! Parsing takes any JSON value (or any bytes) and returns either a typed [`Message`] or a
//! [`Rejection`] naming the violated requirement. It never panics, whatever the input.
//! Which borderline inputs are rejected is decided by [`ParseRules`], derived from a
//! [`Profile`]; under `spec-1.0-strict` the parser accepts exactly what the JSON Schema does.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::profile::{Acceptance, Enforcement, Profile};
use crate::requirement as req;

mod parse;

/// A parsed message: a change to an entity, or a control message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// An insert, update or delete (§4.1).
    Change(ChangeMessage),
    /// snapshot-start, snapshot-end or reset (§4.2).
    Control(ControlMessage),
}

/// A change's `headers.operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// `insert`: a new entity.
    Insert,
    /// `update`: a new value for an entity.
    Update,
    /// `delete`: the entity goes away.
    Delete,
    /// Not in the spec or the schema; accepted only where a profile says so (OQ-UPSERT).
    Upsert,
}

impl Operation {
    /// The operation as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Upsert => "upsert",
        }
    }

    /// The operation a spec name denotes: insert, update or delete (never upsert).
    pub fn from_spec_name(name: &str) -> Option<Operation> {
        match name {
            "insert" => Some(Operation::Insert),
            "update" => Some(Operation::Update),
            "delete" => Some(Operation::Delete),
            _ => None,
        }
    }

    /// Insert, update and upsert carry the entity's new value (§4.1).
    pub fn requires_value(self) -> bool {
        !matches!(self, Operation::Delete)
    }
}

/// A change message (§4.1): an operation on the entity at `entity_type` + `key`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeMessage {
    /// `type`: the entity type.
    pub entity_type: String,
    /// `key`: the entity's key within its type.
    pub key: String,
    /// `value`: the new value (absent on a delete).
    pub value: Option<Value>,
    /// `old_value`: the value before, when the producer sent it.
    pub old_value: Option<Value>,
    /// `headers.operation`.
    pub operation: Operation,
    /// `headers.txid`: the transaction the change belongs to.
    pub txid: Option<String>,
    /// `headers.timestamp` (RFC 3339 where the profile enforces it).
    pub timestamp: Option<String>,
    /// Header fields the spec does not define (kept where the profile tolerates them).
    pub extra_headers: Map<String, Value>,
    /// Top-level fields the spec does not define (kept where the profile tolerates them).
    pub extra_fields: Map<String, Value>,
}

/// A control message's `headers.control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Control {
    /// `snapshot-start`: a snapshot of the state begins.
    SnapshotStart,
    /// `snapshot-end`: the snapshot is complete.
    SnapshotEnd,
    /// `reset`: the state is cleared (§4.2.2).
    Reset,
}

impl Control {
    /// The control as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Control::SnapshotStart => "snapshot-start",
            Control::SnapshotEnd => "snapshot-end",
            Control::Reset => "reset",
        }
    }
}

/// A control message (§4.2).
#[derive(Debug, Clone, PartialEq)]
pub struct ControlMessage {
    /// `headers.control`.
    pub control: Control,
    /// `headers.offset`: for a reset, where reading goes on.
    pub offset: Option<String>,
    /// Header fields the spec does not define (kept where the profile tolerates them).
    pub extra_headers: Map<String, Value>,
    /// Top-level fields the spec does not define (kept where the profile tolerates them).
    pub extra_fields: Map<String, Value>,
}

/// Why a message was refused: the requirement it violates, where, and in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The requirement violated (a catalogue ID).
    pub requirement: &'static str,
    /// JSON Pointer to the offending part of the message ("" for the whole message).
    pub path: String,
    /// What is wrong, in words.
    pub reason: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{} at {}: {}", self.requirement, at, self.reason)
    }
}

fn reject<T>(
    requirement: &'static str,
    path: &str,
    reason: impl Into<String>,
) -> Result<T, Rejection> {
    Err(Rejection {
        requirement,
        path: path.to_owned(),
        reason: reason.into(),
    })
}

/// What the parser accepts on the borderline questions. Build it from a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseRules {
    /// `"operation": "upsert"` is accepted (OQ-UPSERT).
    pub accept_upsert: bool,
    /// Properties the schema does not define are refused (OQ-EXTRA-FIELDS).
    pub reject_extra_fields: bool,
    /// `headers.offset` on a change is refused (OQ-SERVED-OFFSET).
    pub reject_served_offset: bool,
    /// `headers.timestamp` must be RFC 3339 (OQ-TIMESTAMP).
    pub enforce_rfc3339: bool,
    /// An empty `headers.txid` is refused (OQ-TXID).
    pub reject_empty_txid: bool,
    /// Deliberate defects, switched on only by reference mutants.
    pub(crate) defects: ParseDefects,
}

/// Parser defects a mutant can inject (see `mutant.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ParseDefects {
    pub missing_value_as_null: bool,
    pub accept_empty_key: bool,
    pub unknown_operation_as_insert: bool,
    pub both_kinds_as_change: bool,
}

impl ParseRules {
    /// The rules `profile` sets.
    pub fn from_profile(profile: &Profile) -> ParseRules {
        ParseRules {
            accept_upsert: profile.upsert == Acceptance::Accept,
            reject_extra_fields: profile.extra_fields == Acceptance::Reject,
            reject_served_offset: profile.served_offset_header == Acceptance::Reject,
            enforce_rfc3339: profile.timestamp_format == Enforcement::Enforce,
            reject_empty_txid: profile.empty_txid == Acceptance::Reject,
            defects: ParseDefects::default(),
        }
    }

    /// These rules with the parser defect of `mutant`, if it has one.
    pub fn with_mutant(mut self, mutant: Option<crate::mutant::Mutant>) -> ParseRules {
        use crate::mutant::Mutant;
        self.defects = ParseDefects {
            missing_value_as_null: mutant == Some(Mutant::MissingValueAccepted),
            accept_empty_key: mutant == Some(Mutant::EmptyKeyAccepted),
            unknown_operation_as_insert: mutant == Some(Mutant::UnknownOperationAsInsert),
            both_kinds_as_change: mutant == Some(Mutant::BothKindsAsChange),
        };
        self
    }
}

/// A short name for a JSON value's kind, for reasons.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Message {
    /// Serializes back to the wire form (fields in spec order, extras after).
    pub fn to_value(&self) -> Value {
        match self {
            Message::Change(c) => c.to_value(),
            Message::Control(c) => c.to_value(),
        }
    }
}

impl ChangeMessage {
    /// The message as JSON, as a producer would write it.
    pub fn to_value(&self) -> Value {
        let mut headers = Map::new();
        headers.insert("operation".into(), Value::from(self.operation.as_str()));
        if let Some(t) = &self.txid {
            headers.insert("txid".into(), Value::from(t.as_str()));
        }
        if let Some(t) = &self.timestamp {
            headers.insert("timestamp".into(), Value::from(t.as_str()));
        }
        headers.extend(self.extra_headers.clone());
        let mut obj = Map::new();
        obj.insert("type".into(), Value::from(self.entity_type.as_str()));
        obj.insert("key".into(), Value::from(self.key.as_str()));
        if let Some(v) = &self.value {
            obj.insert("value".into(), v.clone());
        }
        if let Some(v) = &self.old_value {
            obj.insert("old_value".into(), v.clone());
        }
        obj.insert("headers".into(), Value::Object(headers));
        obj.extend(self.extra_fields.clone());
        Value::Object(obj)
    }
}

impl ControlMessage {
    /// The message as JSON, as a producer would write it.
    pub fn to_value(&self) -> Value {
        let mut headers = Map::new();
        headers.insert("control".into(), Value::from(self.control.as_str()));
        if let Some(o) = &self.offset {
            headers.insert("offset".into(), Value::from(o.as_str()));
        }
        headers.extend(self.extra_headers.clone());
        let mut obj = Map::new();
        obj.insert("headers".into(), Value::Object(headers));
        obj.extend(self.extra_fields.clone());
        Value::Object(obj)
    }
}

#[cfg(test)]
mod tests;
