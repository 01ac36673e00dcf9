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

#[test]
fn a_txid_kept_across_a_reset_is_informational_only_if_the_reference_would_have_seen_it() {
    // Before the reset: t1 on a valid insert, t2 on a change with an unknown operation (which
    // every profile refuses). A reader that keeps t1 after the reset takes a position; one
    // that shows t2 reports a write that never happened, reset or not.
    let case: Case = serde_json::from_value(json!({
        "id": "mat-z", "title": "t", "requirements": ["SP-4.2.2-RESET-CLEAR"], "level": "MUST",
        "tags": [], "mode": "materialize", "profiles": {"spec-1.0": "required"},
        "batches": [{"items": [
            {"type": "user", "key": "a", "value": {}, "headers": {"operation": "insert", "txid": "t1"}},
            {"type": "user", "key": "b", "value": {}, "headers": {"operation": "merge", "txid": "t2"}},
            {"headers": {"control": "reset"}}
        ], "offset": "1", "upToDate": true}],
        "expect": {"state": {}, "txids": [],
                   "rejected": [{"batch": 0, "index": 1, "requirement": "SP-5.1-OPERATION-ENUM"}]}
    }))
    .unwrap();
    let with_txids = |txids: &[&str]| Outcome::Materialize {
        after_batch: vec![state_reference::Observation {
            state: Default::default(),
            txids: txids.iter().map(|t| (*t).to_owned()).collect(),
            offset: Some("1".into()),
            halted: false,
        }],
        rejected: vec![crate::corpus::case::RejectedItem {
            batch: 0,
            index: 1,
            requirement: "SP-5.1-OPERATION-ENUM".into(),
            reason: None,
        }],
    };
    let judged = |txids: &[&str]| {
        judge(
            &case,
            &spec(),
            &with_txids(txids),
            Strictness::ItemsOnly,
            Standard::Spec,
        )
    };
    assert_eq!(judged(&[]), Verdict::Pass);
    let kept = judged(&["t1"]);
    assert!(matches!(kept, Verdict::Informational { .. }), "{kept:?}");
    assert!(kept.mismatches()[0].contains("OQ-RESET-SCOPE"), "{kept:?}");
    let refused = judged(&["t1", "t2"]);
    assert!(matches!(refused, Verdict::Fail { .. }), "{refused:?}");
}

#[test]
fn an_offset_left_before_batches_with_nothing_applied_rests_on_an_open_question() {
    // Batch 1 holds only a change the reference refuses (an unknown operation), batch 2
    // nothing; batch 0 and batch 3 apply a change each.
    let change = |key: &str, op: &str| json!({"type": "user", "key": key, "value": {}, "headers": {"operation": op}});
    let batch = |items: Vec<serde_json::Value>, offset: &str| json!({"items": items, "offset": offset, "upToDate": true});
    let case: Case = serde_json::from_value(json!({
        "id": "mat-z", "title": "t", "requirements": ["OQ-INVALID-HALTS"], "level": "silent",
        "tags": [], "mode": "materialize", "profiles": {"spec-1.0": "required"},
        "batches": [batch(vec![change("a", "insert")], "o0"), batch(vec![change("b", "merge")], "o1"),
                    batch(vec![], "o2"), batch(vec![change("c", "insert")], "o3")],
        "expect": {"state": {}, "rejected": [{"batch": 1, "index": 0, "requirement": "SP-5.1-OPERATION-ENUM"}]}
    }))
    .unwrap();
    let rejected = case.materialize_expectation("spec-1.0").rejected;
    let behind = |observed: Option<&str>, batches: usize| {
        let mut shorter = case.clone();
        shorter.batches.truncate(batches);
        position::offset_left_behind(&shorter, &rejected, observed)
    };
    // Left at o0 with only the refused batch after it: whether it commits past refusals.
    assert_eq!(behind(Some("o0"), 2), Some("OQ-INVALID-HALTS"));
    // Left at o1 with only an empty batch after it: whether an empty read moves the offset.
    assert_eq!(behind(Some("o1"), 3), Some("OQ-VISIBILITY"));
    // None at all, when batch 0 applied something: a wrong offset; when the only batch was
    // refused whole: the open question again.
    assert_eq!(behind(None, 2), None);
    let mut refused_only = case.clone();
    refused_only.batches = vec![case.batches[1].clone()];
    let rejected_first = [crate::corpus::case::RejectedItem {
        batch: 0,
        ..rejected[0].clone()
    }];
    assert_eq!(
        position::offset_left_behind(&refused_only, &rejected_first, None),
        Some("OQ-INVALID-HALTS")
    );
    // A batch after it applied something: not a position, a wrong offset.
    assert_eq!(behind(Some("o0"), 4), None);
    assert_eq!(behind(Some("o3"), 4), None);
    assert_eq!(behind(Some("elsewhere"), 4), None);
}

#[test]
fn an_unfired_catch_up_rule_is_the_readers_choice_only_when_it_made_no_catch_up_read() {
    let case = |live: &str| -> Case {
        serde_json::from_value(json!({
            "id": "sub-z", "title": "t", "requirements": ["DS-8-RESUME"], "level": "SHOULD",
            "tags": [], "mode": "subscribe", "profiles": {"spec-1.0": "required"}, "live": live,
            "steps": [], "expect": {}
        }))
        .unwrap()
    };
    let rule = |nth: u64| -> stream_simulator::fault::Rule {
        serde_json::from_value(
            json!({"kind": "catch-up", "nth": nth, "fault": "reset-before-headers"}),
        )
        .unwrap()
    };
    let (first, second) = (rule(1), rule(2));
    // A long-poll reader that made no catch-up read (the rule on the first did not fire): it
    // long-polled from the beginning, which the protocol allows; no catch-up rule can fire.
    assert!(skips_catch_up(
        &case("long-poll"),
        &second,
        &[first.clone(), second.clone()]
    ));
    assert!(skips_catch_up(
        &case("auto"),
        &first,
        std::slice::from_ref(&first)
    ));
    // One that did catch up but skipped the second read is held to the case.
    assert!(!skips_catch_up(
        &case("long-poll"),
        &second,
        std::slice::from_ref(&second)
    ));
    // SSE readers may skip catch-up reads anywhere; a catch-up-only case never skips them.
    assert!(skips_catch_up(
        &case("sse"),
        &second,
        std::slice::from_ref(&second)
    ));
    assert!(!skips_catch_up(
        &case("false"),
        &first,
        std::slice::from_ref(&first)
    ));
}
