use super::*;
use serde_json::json;

fn lenient() -> ParseRules {
    ParseRules::from_profile(&Profile::default_profile())
}

fn strict() -> ParseRules {
    ParseRules::from_profile(&Profile::preset("spec-1.0-strict").unwrap())
}

#[test]
fn parses_the_spec_insert_example() {
    let m = Message::parse(
        json!({"type": "user", "key": "user:123", "value": {"name": "Alice"},
               "headers": {"operation": "insert", "timestamp": "2025-01-15T10:30:00Z"}}),
        &strict(),
    )
    .unwrap();
    let Message::Change(c) = m else {
        panic!("expected a change")
    };
    assert_eq!(
        (c.entity_type.as_str(), c.key.as_str()),
        ("user", "user:123")
    );
    assert_eq!(c.operation, Operation::Insert);
}

#[test]
fn rejection_names_the_requirement_and_path() {
    let r = Message::parse(
        json!({"type": "user", "key": "", "value": 1, "headers": {"operation": "insert"}}),
        &lenient(),
    )
    .unwrap_err();
    assert_eq!(
        (r.requirement, r.path.as_str()),
        (req::KEY_NONEMPTY, "/key")
    );
}

#[test]
fn served_offset_is_tolerated_by_default_and_rejected_when_strict() {
    let m = json!({"type": "t", "key": "k", "value": 1, "headers": {"operation": "insert", "offset": "0_1"}});
    assert!(Message::parse(m.clone(), &lenient()).is_ok());
    assert_eq!(
        Message::parse(m, &strict()).unwrap_err().requirement,
        req::CHANGE_HEADERS_NO_EXTRA
    );
}

#[test]
fn invalid_json_bytes_are_rejected_not_panicked_on() {
    let r = Message::parse_bytes(b"{\"headers\":", &lenient()).unwrap_err();
    assert_eq!(r.requirement, req::MESSAGE_OBJECT);
}
