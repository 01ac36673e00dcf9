//! The protocol's JSON Schema (`spec-tests/protocol/adapter-protocol.schema.json`), one
//! definition per message, used by `--check-protocol` to hold adapters to the letter.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Value, json};

const SCHEMA: &str = include_str!("../../protocol/adapter-protocol.schema.json");

fn validators() -> &'static HashMap<String, jsonschema::Validator> {
    static VALIDATORS: OnceLock<HashMap<String, jsonschema::Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let root: Value = serde_json::from_str(SCHEMA).expect("embedded protocol schema is JSON");
        let definitions = root["definitions"].as_object().expect("the protocol schema has definitions");
        definitions
            .keys()
            .map(|name| {
                let schema = json!({"$ref": format!("#/definitions/{name}"), "definitions": root["definitions"]});
                let validator = state_reference::schema::compile(&schema).expect("protocol schema definitions compile");
                (name.clone(), validator)
            })
            .collect()
    })
}

/// Checks `message` against the definition `name` (e.g. `answer-apply`); every violation
/// as "/json/path: what is wrong", joined by "; ".
pub fn check(name: &str, message: &Value) -> Result<(), String> {
    let Some(validator) = validators().get(name) else {
        return Err(format!("no protocol definition {name}"));
    };
    let found: Vec<String> = validator
        .iter_errors(message)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{}: {e}", if at.is_empty() { "/" } else { &at })
        })
        .collect();
    match found.is_empty() {
        true => Ok(()),
        false => Err(found.join("; ")),
    }
}

/// Checks an answer: a refusal against the envelope, anything else against its definition.
pub fn check_answer(cmd: &str, answer: &Value) -> Result<(), String> {
    match answer.get("ok") {
        Some(Value::Bool(false)) => check("envelope", answer),
        _ => check(&format!("answer-{cmd}"), answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_held_to_their_definitions() {
        assert!(
            check_answer(
                "apply",
                &json!({"cmd": "apply", "ok": true, "rejected": [{"index": 0, "reason": "x"}]})
            )
            .is_ok()
        );
        let bad = check_answer(
            "apply",
            &json!({"cmd": "apply", "ok": true, "rejected": [{"index": "0", "reason": "x"}]}),
        );
        assert!(bad.unwrap_err().starts_with("/rejected/0/index"));
        assert!(
            check_answer(
                "apply",
                &json!({"cmd": "apply", "ok": false, "error": "boom"})
            )
            .is_ok()
        );
        assert!(
            check_answer("apply", &json!({"cmd": "apply", "ok": false})).is_err(),
            "a refusal says why"
        );
        assert!(
            check(
                "command-validate",
                &json!({"cmd": "validate", "message": null})
            )
            .is_ok()
        );
    }

    #[test]
    fn every_wrong_field_is_named_and_a_null_stop_reason_is_accepted() {
        let two_wrong = check_answer(
            "apply",
            &json!({"cmd": "apply", "ok": true, "rejected": [{"index": "0", "reason": 7}]}),
        )
        .unwrap_err();
        assert!(
            two_wrong.contains("/rejected/0/index") && two_wrong.contains("/rejected/0/reason"),
            "{two_wrong}"
        );
        let running = json!({"cmd": "await", "ok": true, "reached": false, "state": {},
                             "txids": [], "offset": null, "stopReason": null});
        assert_eq!(check_answer("await", &running), Ok(()));
    }
}
