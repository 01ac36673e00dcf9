use super::*;
use serde_json::json;

fn batch(items: Value, offset: &str) -> Batch {
    let Value::Array(items) = items else {
        panic!("items must be an array")
    };
    Batch {
        items,
        offset: Some(offset.into()),
        up_to_date: true,
    }
}

/// The partitioned apply gives what one pass in stream order (the parsed path) gives:
/// state, txids, offset and every diagnostic, batch after batch, under profile answers
/// that reject by state or by schema, with and without declared collections.
#[test]
fn a_batch_applied_partitioned_by_type_matches_one_pass_in_order() {
    use rand::{Rng, SeedableRng};
    let collections = [
        Collection::new("users", "user", "id"),
        Collection::new("messages", "message", "id")
            .with_schema(json!({"type": "object", "required": ["id"]})),
    ];
    let presets = Profile::presets();
    let mut partitioned = 0;
    for seed in 0..400u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut profile = presets[rng.random_range(0..presets.len())].clone();
        if rng.random_bool(0.5) {
            profile.insert_existing = InsertExisting::Reject;
            profile.update_missing = UpdateMissing::Reject;
            profile.delete_missing = DeleteMissing::Reject;
        }
        if rng.random_bool(0.3) {
            profile.update = UpdateSemantics::ShallowMerge;
        }
        profile.txid_seen = [TxidSeen::OnApply, TxidSeen::OnVisible][rng.random_range(0..2)];
        profile.visibility = [
            Visibility::PerMessage,
            Visibility::PerBatch,
            Visibility::AfterFirstUpToDate,
        ][rng.random_range(0..3)];
        let declared = rng.random_bool(0.5);
        let fresh = || {
            let m = Materializer::new(profile.clone());
            match declared {
                true => m.with_collections(&collections).unwrap(),
                false => m,
            }
        };
        let (mut by_value, mut by_parts) = (fresh(), fresh());
        for b in 0..3 {
            let items: Vec<Value> = (0..rng.random_range(0..60))
                .map(|i| {
                    if rng.random_ratio(1, 80) {
                        return json!({"headers": {"control": "snapshot-start"}});
                    }
                    let t = ["user", "message", "other"][rng.random_range(0..3)];
                    let op = ["insert", "update", "delete"][rng.random_range(0..3)];
                    let mut headers = json!({"operation": op});
                    if rng.random_bool(0.3) {
                        headers["txid"] = json!(format!("t{seed}-{b}-{i}"));
                    }
                    let value = match rng.random_range(0..4) {
                        0 => json!(7),
                        1 => json!({"x": i}),
                        _ => json!({"id": "k", "n": i}),
                    };
                    let key = format!("k{}", rng.random_range(0..6));
                    json!({"type": t, "key": key, "value": value, "headers": headers})
                })
                .collect();
            let (offset, up_to_date) = (Some(format!("o{b}")), rng.random_bool(0.7));
            let body = Value::Array(items.clone()).to_string();
            by_value.apply_batch(Batch {
                items,
                offset: offset.clone(),
                up_to_date,
            });
            let parts = vec![wire::read(&body, &by_parts.rules).unwrap()];
            if by_parts.partitionable(&parts) {
                partitioned += 1;
                by_parts.apply_partitioned(&parts, offset, up_to_date);
            } else {
                let len = parts[0].len();
                let items = parts.into_iter().flatten().map(Item::Read);
                by_parts.apply_items(items, len, offset, up_to_date);
            }
            assert_eq!(by_value.observe(), by_parts.observe(), "seed {seed}");
        }
        assert_eq!(
            by_value.diagnostics(),
            by_parts.diagnostics(),
            "seed {seed}"
        );
    }
    assert!(partitioned > 300, "only {partitioned} batches partitioned");
}

#[test]
fn spec_section_6_example_materializes_as_documented() {
    let mut m = Materializer::new(Profile::default_profile());
    m.apply_batch(batch(
        json!([
            {"type": "user", "key": "1", "value": {"name": "Alice"}, "headers": {"operation": "insert"}},
            {"type": "user", "key": "2", "value": {"name": "Bob"}, "headers": {"operation": "insert"}},
            {"type": "user", "key": "1", "value": {"name": "Alice Smith"}, "headers": {"operation": "update"}}
        ]),
        "1",
    ));
    let seen = serde_json::to_value(m.observe().state).unwrap();
    assert_eq!(
        seen,
        json!({"user": {"1": {"name": "Alice Smith"}, "2": {"name": "Bob"}}})
    );
}

#[test]
fn halt_under_batch_visibility_rolls_back_the_batch() {
    let mut p = Profile::default_profile();
    p.invalid_message = InvalidMessage::Halt;
    let mut m = Materializer::new(p);
    m.apply_batch(batch(json!([{"type": "t", "key": "a", "value": 1, "headers": {"operation": "insert", "txid": "x"}}]), "1"));
    m.apply_batch(batch(
        json!([
            {"type": "t", "key": "b", "value": 2, "headers": {"operation": "insert", "txid": "y"}},
            {"headers": {"control": "reset"}},
            {"type": "t", "headers": {"operation": "insert"}}
        ]),
        "2",
    ));
    let o = m.observe();
    assert!(o.halted);
    assert_eq!(
        serde_json::to_value(&o.state).unwrap(),
        json!({"t": {"a": 1}})
    );
    assert_eq!(
        (o.txids, o.offset.as_deref()),
        (vec!["x".to_string()], Some("1"))
    );
}

/// Applies `batches` (items, up-to-date) under the default profile changed by `tweak`,
/// returning the observation after each batch as `(state JSON, txids)`.
fn run(
    tweak: impl Fn(&mut Profile),
    batches: Vec<(Value, bool)>,
) -> Vec<(Value, Vec<String>, Option<String>)> {
    let mut p = Profile::default_profile();
    tweak(&mut p);
    let mut m = Materializer::new(p);
    batches
        .into_iter()
        .enumerate()
        .map(|(i, (items, up_to_date))| {
            let Value::Array(items) = items else {
                panic!("items must be an array")
            };
            m.apply_batch(Batch {
                items,
                offset: Some(format!("o{i}")),
                up_to_date,
            });
            let o = m.observe();
            (serde_json::to_value(o.state).unwrap(), o.txids, o.offset)
        })
        .collect()
}

fn ins(key: &str, value: Value) -> Value {
    json!({"type": "t", "key": key, "value": value, "headers": {"operation": "insert"}})
}

fn ctl(control: &str) -> Value {
    json!({"headers": {"control": control}})
}

#[test]
fn atomic_snapshot_becomes_visible_at_its_end() {
    use crate::profile::SnapshotSemantics;
    let seen = run(
        |p| p.snapshot = SnapshotSemantics::Atomic,
        vec![
            (json!([ins("old", json!(0))]), true),
            (json!([ctl("snapshot-start"), ins("a", json!(1))]), false),
            (json!([ins("b", json!(2)), ctl("snapshot-end")]), true),
        ],
    );
    assert_eq!(
        seen[1].0,
        json!({"t": {"old": 0}}),
        "hidden while the snapshot is open"
    );
    assert_eq!(seen[2].0, json!({"t": {"old": 0, "a": 1, "b": 2}}));
}

#[test]
fn replace_snapshot_replaces_the_whole_state_at_its_end() {
    use crate::profile::SnapshotSemantics;
    let seen = run(
        |p| p.snapshot = SnapshotSemantics::Replace,
        vec![
            (json!([ins("old", json!(0)), ins("a", json!(0))]), true),
            (json!([ctl("snapshot-start"), ins("a", json!(1))]), false),
            (json!([ctl("snapshot-end")]), true),
        ],
    );
    assert_eq!(seen[1].0, json!({"t": {"old": 0, "a": 0}}));
    assert_eq!(seen[2].0, json!({"t": {"a": 1}}));
}

#[test]
fn nothing_is_visible_before_the_first_up_to_date_batch() {
    let seen = run(
        |p| p.visibility = Visibility::AfterFirstUpToDate,
        vec![
            (json!([ins("a", json!(1))]), false),
            (json!([ins("b", json!(2))]), true),
        ],
    );
    assert_eq!(seen[0].0, json!({}));
    assert_eq!(seen[1].0, json!({"t": {"a": 1, "b": 2}}));
}

#[test]
fn halt_under_message_visibility_keeps_the_applied_prefix() {
    let seen = run(
        |p| (p.visibility, p.invalid_message) = (Visibility::PerMessage, InvalidMessage::Halt),
        vec![
            (json!([ins("a", json!(1))]), true),
            (
                json!([ins("b", json!(2)), {"type": "t"}, ins("c", json!(3))]),
                true,
            ),
            (json!([ins("d", json!(4))]), true),
        ],
    );
    assert_eq!(seen[2].0, json!({"t": {"a": 1, "b": 2}}));
    assert_eq!(
        seen[2].2.as_deref(),
        Some("o0"),
        "a halted batch does not advance the offset"
    );
}

#[test]
fn txids_on_apply_are_seen_inside_an_open_snapshot() {
    use crate::profile::SnapshotSemantics;
    let with_txid = json!({"type": "t", "key": "a", "value": 1, "headers": {"operation": "insert", "txid": "x"}});
    let on_apply = run(
        |p| (p.snapshot, p.txid_seen) = (SnapshotSemantics::Atomic, TxidSeen::OnApply),
        vec![(json!([ctl("snapshot-start"), with_txid.clone()]), false)],
    );
    let on_visible = run(
        |p| p.snapshot = SnapshotSemantics::Atomic,
        vec![(json!([ctl("snapshot-start"), with_txid]), false)],
    );
    assert_eq!(
        (on_apply[0].1.clone(), on_visible[0].1.clone()),
        (vec!["x".to_string()], vec![])
    );
}

#[test]
fn reset_scope_and_offset_positions() {
    let with_txid = json!({"type": "t", "key": "a", "value": 1, "headers": {"operation": "insert", "txid": "x"}});
    let state_only = run(
        |p| p.reset = ResetScope::StateOnly,
        vec![(json!([with_txid, ctl("reset")]), true)],
    );
    assert_eq!(
        (state_only[0].0.clone(), state_only[0].1.clone()),
        (json!({}), vec!["x".to_string()])
    );
    let reset_at = json!({"headers": {"control": "reset", "offset": "r1"}});
    let go_on = run(
        |p| p.reset_offset = ResetOffset::Continue,
        vec![(json!([reset_at.clone(), ins("b", json!(2))]), true)],
    );
    assert_eq!(
        (go_on[0].0.clone(), go_on[0].2.as_deref()),
        (json!({"t": {"b": 2}}), Some("o0"))
    );
    let restart = run(|_| {}, vec![(json!([reset_at, ins("b", json!(2))]), true)]);
    assert_eq!(
        (restart[0].0.clone(), restart[0].2.as_deref()),
        (json!({}), Some("r1"))
    );
}

#[test]
fn position_rejections_name_their_open_question() {
    let mut p = Profile::default_profile();
    (p.insert_existing, p.update_missing, p.delete_missing) = (
        InsertExisting::Reject,
        UpdateMissing::Reject,
        DeleteMissing::Reject,
    );
    let mut m = Materializer::new(p);
    let upd = json!({"type": "t", "key": "z", "value": 1, "headers": {"operation": "update"}});
    let del = json!({"type": "t", "key": "z", "headers": {"operation": "delete"}});
    let d = m.apply_batch(Batch {
        items: vec![ins("a", json!(1)), ins("a", json!(2)), upd, del],
        offset: None,
        up_to_date: true,
    });
    let reqs: Vec<&str> = d.iter().map(|d| d.requirement).collect();
    assert_eq!(
        reqs,
        [
            req::OQ_INSERT_EXISTING,
            req::OQ_UPDATE_MISSING,
            req::OQ_DELETE_MISSING
        ]
    );
    assert_eq!(
        serde_json::to_value(m.observe().state).unwrap(),
        json!({"t": {"a": 1}})
    );
}

#[test]
fn shallow_merge_and_upsert_positions() {
    let upd =
        |v: Value| json!({"type": "t", "key": "a", "value": v, "headers": {"operation": "update"}});
    let upsert = |k: &str| json!({"type": "t", "key": k, "value": {"u": 1}, "headers": {"operation": "upsert"}});
    let merged = run(
        |p| (p.update, p.upsert) = (UpdateSemantics::ShallowMerge, Acceptance::Accept),
        vec![(
            json!([
                ins("a", json!({"x": 1, "y": {"k": 1}})),
                upd(json!({"y": {"j": 2}})),
                upsert("a"),
                upsert("n")
            ]),
            true,
        )],
    );
    assert_eq!(
        merged[0].0,
        json!({"t": {"a": {"x": 1, "y": {"j": 2}, "u": 1}, "n": {"u": 1}}})
    );
}

#[test]
fn canonical_numbers_compare_as_json_does() {
    assert_eq!(
        canonical_value(&json!({"a": [1.0, 2.5, -0.0]})),
        json!({"a": [1, 2.5, 0]})
    );
}
