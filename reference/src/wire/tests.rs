use super::halves::read_in_halves;
use super::*;
use crate::profile::Profile;

fn rules() -> ParseRules {
    ParseRules::from_profile(&Profile::default_profile())
}

/// A body of `n` inserts whose string values contain `filler`.
fn body(n: usize, filler: &str) -> String {
    let items: Vec<Value> = (0..n)
        .map(|i| serde_json::json!({"type": "t", "key": format!("k{i}"), "value": {"s": filler}, "headers": {"operation": "insert"}}))
        .collect();
    Value::Array(items).to_string()
}

/// Headers are read once: a change's come out typed, and anything else exactly as
/// `Value` reads it (repeats, other names, other kinds, escapes), for the parser to judge.
#[test]
fn headers_read_once_match_what_value_reads() {
    let element = |headers: &str| {
        format!(r#"{{"type":"t","key":"k","value":{{"n":1}},"headers":{headers}}}"#)
    };
    let changes = [
        (r#"{"operation":"insert"}"#, Operation::Insert, None),
        (
            r#"{"txid":"x","operation":"update"}"#,
            Operation::Update,
            Some("x"),
        ),
        (
            r#"{"operation":"del\u0065te","timestamp":"2025-01-01T00:00:00Z"}"#,
            Operation::Delete,
            None,
        ),
        (
            r#"{"operation":"insert","txid":"a\"b"}"#,
            Operation::Insert,
            Some("a\"b"),
        ),
    ];
    for (headers, operation, txid) in changes {
        let text = element(headers);
        let read: Element = serde_json::from_str(&text).unwrap();
        let change = decode(read, &rules()).unwrap_or_else(|v| panic!("{headers}: {v}"));
        assert_eq!(
            (change.operation, change.txid.as_deref()),
            (operation, txid),
            "{headers}"
        );
    }
    let others = [
        r#"{"operation":"insert","operation":"update"}"#,
        r#"{"operation":"insert","txid":"a","txid":"b"}"#,
        r#"{"txid":"a","operation":"insert","extra":[1,{"b":null}],"txid":"c"}"#,
        r#"{"operation":"insert","txid":null}"#,
        r#"{"operation":7}"#,
        r#"{"operation":{"x":[true,-1,2.5,18446744073709551615]}}"#,
        r#"{"txid":"x"}"#,
        r#"{}"#,
        r#"{"control":"reset","offset":"1"}"#,
        r#"["operation","insert"]"#,
        r#""insert""#,
        r#"null"#,
        r#"-0.5"#,
    ];
    for headers in others {
        let text = element(headers);
        let read: Element = serde_json::from_str(&text).unwrap();
        let expected: Value = serde_json::from_str(&text).unwrap();
        match decode(read, &rules()) {
            Err(value) => assert_eq!(value, expected, "{headers}"),
            Ok(_) => panic!("{headers} decoded as a change"),
        }
    }
}

#[test]
fn a_clean_cut_reads_both_halves_as_the_whole_body_reads() {
    let body = body(20_000, "plain");
    let [first, second] = read_in_halves(&body, &rules())
        .expect("a compact body has a boundary after its middle, and both parts read");
    let whole = read(&body, &rules()).unwrap();
    assert!(!first.is_empty() && !second.is_empty());
    assert_eq!(first.len() + second.len(), whole.len());
    let keys = |d: &Decoded<'_>| d.as_ref().map(|c| c.key.to_string()).unwrap_or_default();
    let split_keys: Vec<String> = first.iter().chain(&second).map(keys).collect();
    assert_eq!(split_keys, whole.iter().map(keys).collect::<Vec<_>>());
}

#[test]
fn a_cut_inside_a_string_is_detected_and_refused() {
    // Every value holds `},{`, so the first candidate after the middle is inside a string.
    let body = body(20_000, "x},{y");
    assert!(
        read_in_halves(&body, &rules()).is_none(),
        "a cut inside a string must not be accepted"
    );
}

/// Whatever the whole read refuses, the halves refuse too (and the whole read then
/// reports it); spacing the whole read allows, the halves allow.
#[test]
fn the_halves_accept_exactly_the_arrays_the_whole_read_accepts() {
    let good = body(2_000, "plain");
    let inner = &good[1..good.len() - 1];
    let cases = [
        (format!(" \n[ {inner} ]\r\n "), true),
        (format!("[{}]", inner.replace("},{", "} , {")), true),
        (format!("{{{inner}]"), false),
        (format!("[{inner},]"), false),
        (format!("[{inner}] x"), false),
        (format!("[{inner}]]"), false),
        (format!("[{inner}"), false),
        (format!("[{}]", inner.replacen("},{", "}{", 1500)), false),
        (format!("[[{inner}]"), false),
    ];
    for (text, whole_reads) in cases {
        let label = &text[..12.min(text.len())];
        assert_eq!(read(&text, &rules()).is_ok(), whole_reads, "{label}");
        let halves = read_in_halves(&text, &rules());
        assert_eq!(halves.is_some(), whole_reads, "{label}");
    }
}
