use super::*;

fn spec() -> Profile {
    Profile::preset("spec-1.0").expect("a preset")
}
use crate::corpus::case::Weight;
use serde_json::json;

fn case(weight: Weight) -> Case {
    serde_json::from_value(json!({
        "id": "mat-x", "title": "t", "requirements": ["SP-6-ORDER"], "level": "MUST",
        "tags": [], "mode": "materialize", "profiles": {"spec-1.0": weight},
        "batches": [{"items": [], "offset": "1", "upToDate": true}],
        "expect": {"state": {"user": {"u1": {"id": "u1"}}}}
    }))
    .unwrap()
}

fn observed(state: serde_json::Value) -> Outcome {
    Outcome::Materialize {
        after_batch: vec![state_reference::Observation {
            state: serde_json::from_value(state).unwrap(),
            txids: vec![],
            offset: Some("1".into()),
            halted: false,
        }],
        rejected: vec![],
    }
}

#[test]
fn verdicts_follow_weight_and_who_broke() {
    let right = observed(json!({"user": {"u1": {"id": "u1"}}}));
    let wrong = observed(json!({"user": {"u1": {"id": "u1", "n": 1}}}));
    let crash = Outcome::AdapterFault {
        reason: "the adapter exited".into(),
        stderr_tail: String::new(),
    };
    let judge_of =
        |w, o: &Outcome| judge(&case(w), &spec(), o, Strictness::ItemsOnly, Standard::Spec);
    assert_eq!(judge_of(Weight::Required, &right), Verdict::Pass);
    let fail = judge_of(Weight::Required, &wrong);
    assert!(matches!(fail, Verdict::Fail { .. }) && fail.fails_run());
    assert!(
        fail.mismatches()[0].contains("first difference at user/u1"),
        "{fail:?}"
    );
    let errored = judge_of(Weight::Required, &crash);
    assert!(matches!(errored, Verdict::Errored { .. }) && errored.is_failure());
    let info = judge_of(Weight::Informational, &wrong);
    assert!(matches!(info, Verdict::Informational { .. }) && !info.fails_run());
}

#[test]
fn a_difference_resting_on_an_insert_at_an_existing_key_is_informational() {
    // An insert over an existing value (OQ-INSERT-EXISTING): a client that merges there
    // is not failed; the same merge after an update is.
    let with = |second: &str| -> Case {
        serde_json::from_value(json!({
            "id": "mat-y", "title": "t", "requirements": ["SP-6-INSERT"], "level": "MUST",
            "tags": [], "mode": "materialize", "profiles": {"spec-1.0": "required"},
            "batches": [{"items": [
                {"type": "user", "key": "u1", "value": {"id": "u1", "n": 1}, "headers": {"operation": "insert"}},
                {"type": "user", "key": "u1", "value": {"id": "u1", "m": 2}, "headers": {"operation": second}}
            ], "offset": "1", "upToDate": true}],
            "expect": {"state": {"user": {"u1": {"id": "u1", "m": 2}}}}
        }))
        .unwrap()
    };
    let merged = observed(json!({"user": {"u1": {"id": "u1", "n": 1, "m": 2}}}));
    let insert = judge(
        &with("insert"),
        &spec(),
        &merged,
        Strictness::ItemsOnly,
        Standard::Spec,
    );
    assert!(
        matches!(insert, Verdict::Informational { .. }),
        "{insert:?}"
    );
    assert!(
        insert
            .mismatches()
            .iter()
            .any(|m| m.contains("OQ-INSERT-EXISTING"))
    );
    let update = judge(
        &with("update"),
        &spec(),
        &merged,
        Strictness::ItemsOnly,
        Standard::Spec,
    );
    assert!(matches!(update, Verdict::Fail { .. }), "{update:?}");
}
