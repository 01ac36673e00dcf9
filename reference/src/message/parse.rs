//! Reading a change or a control message field by field (STATE-PROTOCOL §4, §5; the
//! schema's `oneOf`), each rejection naming the requirement it breaks and the JSON path.

use super::*;

impl Message {
    /// Parses raw bytes: invalid JSON is rejected like any malformed message.
    pub fn parse_bytes(bytes: &[u8], rules: &ParseRules) -> Result<Message, Rejection> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => Message::parse(value, rules),
            Err(e) => reject(req::MESSAGE_OBJECT, "", format!("not valid JSON: {e}")),
        }
    }

    /// Parses one JSON value, taking ownership so values move into the message uncopied.
    pub fn parse(value: Value, rules: &ParseRules) -> Result<Message, Rejection> {
        let mut obj = match value {
            Value::Object(obj) => obj,
            other => {
                return reject(
                    req::MESSAGE_OBJECT,
                    "",
                    format!("a message must be a JSON object, found {}", kind_of(&other)),
                );
            }
        };
        let looks_like_change = obj.contains_key("type") || obj.contains_key("key");
        let headers_req = if looks_like_change {
            req::CHANGE_HEADERS
        } else {
            req::CONTROL_HEADERS
        };
        let mut headers = match obj.remove("headers") {
            Some(Value::Object(h)) => h,
            Some(other) => {
                return reject(
                    headers_req,
                    "/headers",
                    format!("headers must be an object, found {}", kind_of(&other)),
                );
            }
            None => return reject(headers_req, "/headers", "the message has no headers"),
        };
        match (headers.remove("operation"), headers.remove("control")) {
            (Some(operation), Some(_)) if rules.defects.both_kinds_as_change => {
                parse_change(obj, headers, operation, rules).map(Message::Change)
            }
            (Some(_), Some(_)) => reject(
                req::ONE_KIND,
                "/headers",
                "headers carry both `operation` and `control`: neither a change nor a control message",
            ),
            (Some(operation), None) => {
                parse_change(obj, headers, operation, rules).map(Message::Change)
            }
            (None, Some(control)) => {
                parse_control(obj, headers, control, rules).map(Message::Control)
            }
            (None, None) if looks_like_change => reject(
                req::OPERATION_REQUIRED,
                "/headers/operation",
                "a change message needs headers.operation",
            ),
            (None, None) => reject(
                req::CONTROL_REQUIRED,
                "/headers",
                "headers carry neither `operation` nor `control`",
            ),
        }
    }
}

pub(super) fn non_empty_string(
    obj: &mut Map<String, Value>,
    field: &str,
    missing: &'static str,
    invalid: &'static str,
    allow_empty: bool,
) -> Result<String, Rejection> {
    let path = format!("/{field}");
    match obj.remove(field) {
        None => reject(missing, &path, format!("`{field}` is missing")),
        Some(Value::String(s)) if !s.is_empty() || allow_empty => Ok(s),
        Some(Value::String(_)) => reject(invalid, &path, format!("`{field}` must not be empty")),
        Some(other) => reject(
            invalid,
            &path,
            format!("`{field}` must be a string, found {}", kind_of(&other)),
        ),
    }
}

pub(super) fn parse_change(
    mut obj: Map<String, Value>,
    mut headers: Map<String, Value>,
    operation: Value,
    rules: &ParseRules,
) -> Result<ChangeMessage, Rejection> {
    let operation = match operation {
        Value::String(op) => match Operation::from_spec_name(&op) {
            Some(known) => known,
            None if op == "upsert" && rules.accept_upsert => Operation::Upsert,
            _ if rules.defects.unknown_operation_as_insert => Operation::Insert,
            _ => {
                return reject(
                    if op == "upsert" {
                        req::OQ_UPSERT
                    } else {
                        req::OPERATION_ENUM
                    },
                    "/headers/operation",
                    format!("unknown operation {op:?} (expected insert, update or delete)"),
                );
            }
        },
        other => {
            return reject(
                req::OPERATION_ENUM,
                "/headers/operation",
                format!("operation must be a string, found {}", kind_of(&other)),
            );
        }
    };
    let entity_type = non_empty_string(
        &mut obj,
        "type",
        req::TYPE_REQUIRED,
        req::TYPE_NONEMPTY,
        false,
    )?;
    let key = non_empty_string(
        &mut obj,
        "key",
        req::KEY_REQUIRED,
        req::KEY_NONEMPTY,
        rules.defects.accept_empty_key,
    )?;
    let mut value = obj.remove("value");
    if operation.requires_value() && value.is_none() {
        if rules.defects.missing_value_as_null {
            value = Some(Value::Null);
        } else {
            return reject(
                req::VALUE_REQUIRED,
                "/value",
                format!("an {} needs a value", operation.as_str()),
            );
        }
    }
    let old_value = obj.remove("old_value");
    let txid = match headers.remove("txid") {
        None => None,
        Some(Value::String(t)) if t.is_empty() && rules.reject_empty_txid => {
            return reject(
                req::TXID_NONEMPTY,
                "/headers/txid",
                "txid must not be empty",
            );
        }
        Some(Value::String(t)) => Some(t),
        Some(other) => {
            return reject(
                req::TXID_NONEMPTY,
                "/headers/txid",
                format!("txid must be a string, found {}", kind_of(&other)),
            );
        }
    };
    let timestamp = match headers.remove("timestamp") {
        None => None,
        Some(Value::String(t)) if rules.enforce_rfc3339 && !crate::schema::is_rfc3339(&t) => {
            return reject(
                req::TIMESTAMP_RFC3339,
                "/headers/timestamp",
                format!("{t:?} is not an RFC 3339 date-time"),
            );
        }
        Some(Value::String(t)) => Some(t),
        Some(other) => {
            return reject(
                req::TIMESTAMP_RFC3339,
                "/headers/timestamp",
                format!("timestamp must be a string, found {}", kind_of(&other)),
            );
        }
    };
    if let Some(field) = headers.keys().find(|k| {
        if k.as_str() == "offset" {
            rules.reject_served_offset
        } else {
            rules.reject_extra_fields
        }
    }) {
        return reject(
            req::CHANGE_HEADERS_NO_EXTRA,
            &format!("/headers/{}", pointer_escape(field)),
            format!("change headers define no field `{field}`"),
        );
    }
    if rules.reject_extra_fields
        && let Some(field) = obj.keys().next()
    {
        return reject(
            req::CHANGE_NO_EXTRA,
            &format!("/{}", pointer_escape(field)),
            format!("a change message defines no field `{field}`"),
        );
    }
    Ok(ChangeMessage {
        entity_type,
        key,
        value,
        old_value,
        operation,
        txid,
        timestamp,
        extra_headers: headers,
        extra_fields: obj,
    })
}

pub(super) fn parse_control(
    obj: Map<String, Value>,
    mut headers: Map<String, Value>,
    control: Value,
    rules: &ParseRules,
) -> Result<ControlMessage, Rejection> {
    let control = match control {
        Value::String(c) => match c.as_str() {
            "snapshot-start" => Control::SnapshotStart,
            "snapshot-end" => Control::SnapshotEnd,
            "reset" => Control::Reset,
            _ => {
                return reject(
                    req::CONTROL_ENUM,
                    "/headers/control",
                    format!(
                        "unknown control {c:?} (expected snapshot-start, snapshot-end or reset)"
                    ),
                );
            }
        },
        other => {
            return reject(
                req::CONTROL_ENUM,
                "/headers/control",
                format!("control must be a string, found {}", kind_of(&other)),
            );
        }
    };
    let offset = match headers.remove("offset") {
        None => None,
        Some(Value::String(o)) if !o.is_empty() => Some(o),
        Some(Value::String(_)) => {
            return reject(
                req::CONTROL_OFFSET,
                "/headers/offset",
                "offset must not be empty",
            );
        }
        Some(other) => {
            return reject(
                req::CONTROL_OFFSET,
                "/headers/offset",
                format!("offset must be a string, found {}", kind_of(&other)),
            );
        }
    };
    if rules.reject_extra_fields {
        if let Some(field) = headers.keys().next() {
            return reject(
                req::CONTROL_HEADERS_NO_EXTRA,
                &format!("/headers/{}", pointer_escape(field)),
                format!("control headers define no field `{field}`"),
            );
        }
        if let Some(field) = obj.keys().next() {
            return reject(
                req::CONTROL_NO_EXTRA,
                &format!("/{}", pointer_escape(field)),
                format!("a control message defines no field `{field}`"),
            );
        }
    }
    Ok(ControlMessage {
        control,
        offset,
        extra_headers: headers,
        extra_fields: obj,
    })
}

/// Escapes a key for use in a JSON Pointer (RFC 6901).
pub(super) fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
