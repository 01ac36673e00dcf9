//! The protocol's JSON Schema (`state-protocol.schema.json` at the repository root, linked
//! into this crate so that it packages), embedded at build time and compiled once.
//!
//! Formats are asserted (`date-time` is checked), so the schema and the strict parser agree
//! on timestamps; `is_rfc3339` shares the very same format check.

use std::sync::OnceLock;

use serde_json::Value;

/// The schema's text, as shipped.
pub const SCHEMA_JSON: &str = include_str!("../state-protocol.schema.json");

/// Compiles a draft-07 schema with format assertions on (no remote references are resolved).
pub fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

fn root() -> &'static jsonschema::Validator {
    static ROOT: OnceLock<jsonschema::Validator> = OnceLock::new();
    ROOT.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA_JSON).expect("embedded schema is JSON");
        compile(&schema).expect("embedded schema compiles")
    })
}

/// True when `message` is a valid State Protocol message according to the schema.
pub fn is_valid(message: &Value) -> bool {
    root().is_valid(message)
}

/// Every schema violation of `message`, as "`/instance/path`: message" lines.
pub fn errors(message: &Value) -> Vec<String> {
    root()
        .iter_errors(message)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect()
}

/// The schema's own `date-time` format check (RFC 3339 section 5.6).
pub fn is_rfc3339(text: &str) -> bool {
    static DATE_TIME: OnceLock<jsonschema::Validator> = OnceLock::new();
    DATE_TIME
        .get_or_init(|| {
            compile(&serde_json::json!({"type": "string", "format": "date-time"}))
                .expect("date-time schema compiles")
        })
        .is_valid(&Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_spec_examples_and_rejects_near_misses() {
        assert!(is_valid(
            &json!({"headers": {"control": "reset", "offset": "123456_000"}})
        ));
        assert!(is_valid(
            &json!({"type": "user", "key": "1", "headers": {"operation": "delete"}})
        ));
        assert!(!is_valid(
            &json!({"type": "user", "key": "1", "headers": {"operation": "update"}})
        ));
        assert!(!is_valid(
            &json!({"headers": {"control": "reset"}, "type": "x"})
        ));
        assert!(!errors(&json!([])).is_empty());
    }

    #[test]
    fn date_time_check_follows_rfc_3339() {
        assert!(is_rfc3339("2025-01-15T10:30:00Z"));
        assert!(is_rfc3339("2025-01-15T10:30:00.123+02:00"));
        assert!(!is_rfc3339("2025-13-15T10:30:00Z"));
        assert!(!is_rfc3339("yesterday"));
    }
}
