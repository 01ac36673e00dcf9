//! Properties of the reference: batching, resets, re-delivery, parsing robustness,
//! round-tripping, and agreement between the schema and the strict parser.

mod support;

use proptest::prelude::*;
use serde_json::{Value, json};
use state_reference::{
    Batch, Collection, Materializer, Message, Mutant, Observation, ParseRules, Profile, schema,
};
use support::*;

fn profiles() -> impl Strategy<Value = Profile> {
    prop::sample::select(Profile::preset_names()).prop_map(|n| Profile::preset(n).unwrap())
}

/// Any combination of positions, not only the presets: every knob of the materializer.
fn any_profile() -> impl Strategy<Value = Profile> {
    use state_reference::profile::*;
    let a = || prop::sample::select(vec![Acceptance::Accept, Acceptance::Reject]);
    (
        (
            prop::sample::select(vec![
                UpdateSemantics::Replace,
                UpdateSemantics::ShallowMerge,
            ]),
            prop::sample::select(vec![InsertExisting::Overwrite, InsertExisting::Reject]),
            prop::sample::select(vec![UpdateMissing::Store, UpdateMissing::Reject]),
            prop::sample::select(vec![DeleteMissing::Ignore, DeleteMissing::Reject]),
            (a(), a(), a(), a(), a(), a()),
        ),
        (
            prop::sample::select(vec![Enforcement::Lenient, Enforcement::Enforce]),
            prop::sample::select(vec![TxidSeen::OnVisible, TxidSeen::OnApply]),
            prop::sample::select(vec![
                Visibility::PerMessage,
                Visibility::PerBatch,
                Visibility::AfterFirstUpToDate,
            ]),
            prop::sample::select(vec![ResetScope::StateAndTxids, ResetScope::StateOnly]),
            prop::sample::select(vec![ResetOffset::Restart, ResetOffset::Continue]),
            prop::sample::select(vec![
                SnapshotSemantics::Hint,
                SnapshotSemantics::Atomic,
                SnapshotSemantics::Replace,
            ]),
            prop::sample::select(vec![InvalidMessage::Skip, InvalidMessage::Halt]),
        ),
    )
        .prop_map(
            |((update, insert_existing, update_missing, delete_missing, acc), rest)| {
                let (
                    upsert,
                    non_object_values,
                    extra_fields,
                    served_offset_header,
                    empty_txid,
                    unknown_type,
                ) = acc;
                let (
                    timestamp_format,
                    txid_seen,
                    visibility,
                    reset,
                    reset_offset,
                    snapshot,
                    invalid_message,
                ) = rest;
                Profile {
                    name: "generated".into(),
                    description: "a generated combination".into(),
                    update,
                    insert_existing,
                    update_missing,
                    delete_missing,
                    upsert,
                    non_object_values,
                    extra_fields,
                    served_offset_header,
                    timestamp_format,
                    empty_txid,
                    txid_seen,
                    visibility,
                    reset,
                    reset_offset,
                    snapshot,
                    unknown_type,
                    invalid_message,
                }
            },
        )
}

/// Stream items that exercise every profile knob: changes, near-misses, controls with and
/// without offsets, upserts, served offsets.
fn knob_items() -> impl Strategy<Value = Vec<Value>> {
    let control = (
        prop::sample::select(&["snapshot-start", "snapshot-end", "reset"][..]),
        prop::option::of("r[0-9]"),
    )
        .prop_map(|(c, o)| match o {
            Some(o) => json!({"headers": {"control": c, "offset": o}}),
            None => json!({"headers": {"control": c}}),
        });
    let upsert = (prop::sample::select(TYPES), "[a-c]").prop_map(|(t, k)| json!({"type": t, "key": k, "value": {"u": 1}, "headers": {"operation": "upsert"}}));
    let item = prop_oneof![
        6 => valid_change(),
        2 => control,
        1 => upsert,
        2 => (valid_change(), any::<prop::sample::Index>()).prop_map(|(m, i)| { let misses = near_misses(&m); i.get(&misses).1.clone() }),
    ];
    prop::collection::vec(item, 0..16)
}

/// Items of a stream: valid messages with an occasional malformed one; resets carry no
/// offset (a reset naming an offset redirects the reader, which a fixed split cannot model).
fn stream_items() -> impl Strategy<Value = Vec<Value>> {
    let item = prop_oneof![
        8 => valid_change(),
        1 => prop::sample::select(&["snapshot-start", "snapshot-end", "reset"][..]).prop_map(|c| json!({"headers": {"control": c}})),
        1 => any_json(),
    ];
    prop::collection::vec(item, 0..40)
}

fn materialize(profile: &Profile, batches: Vec<Vec<Value>>) -> Observation {
    let mut m = Materializer::new(profile.clone());
    let last = batches.len();
    for (i, items) in batches.into_iter().enumerate() {
        m.apply_batch(Batch {
            items,
            offset: Some(format!("{:08}", i + 1)),
            up_to_date: i + 1 == last,
        });
    }
    m.observe()
}

/// Splits `items` at the given cut points (as fractions of its length).
fn split(items: &[Value], cuts: &[usize]) -> Vec<Vec<Value>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (items.len() + 1)).collect();
    cuts.sort();
    let mut out = Vec::new();
    let mut start = 0;
    for c in cuts.into_iter().chain([items.len()]) {
        out.push(items[start..c].to_vec());
        start = c;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn batch_boundaries_do_not_change_the_final_state(
        profile in profiles(), items in stream_items(), cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let whole = materialize(&profile, vec![items.clone()]);
        let pieces = materialize(&profile, split(&items, &cuts));
        prop_assert_eq!(whole.state, pieces.state);
        prop_assert_eq!(whole.txids, pieces.txids);
    }

    #[test]
    fn reset_then_replay_equals_a_fresh_start(profile in profiles(), before in stream_items(), items in stream_items()) {
        let fresh = materialize(&profile, vec![items.clone()]);
        let mut replay = vec![json!({"headers": {"control": "reset"}})];
        replay.extend(items);
        let after_reset = materialize(&profile, vec![before, replay]);
        prop_assert_eq!(fresh.state, after_reset.state);
        prop_assert_eq!(fresh.txids, after_reset.txids);
    }

    #[test]
    fn redelivering_a_suffix_of_full_value_batches_converges(
        profile in profiles(), items in stream_items(), cuts in prop::collection::vec(any::<usize>(), 1..6), from in any::<usize>(),
    ) {
        let batches = split(&items, &cuts);
        let once = materialize(&profile, batches.clone());
        let k = from % batches.len();
        let mut again = batches.clone();
        again.extend(batches[k..].iter().cloned());
        let twice = materialize(&profile, again);
        prop_assert_eq!(once.state, twice.state);
        prop_assert_eq!(once.txids, twice.txids);
    }

    /// The body fast path (`apply_json`) and the parsed path (`apply_batch`) agree on state,
    /// txids, offsets and every diagnostic, under every profile and every mutant.
    #[test]
    fn json_body_path_matches_the_parsed_path(
        profile in profiles(),
        mutant in prop::option::of(prop::sample::select(&Mutant::ALL[..])),
        base in prop::collection::vec(valid_message(), 1..12),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        noise in prop::collection::vec(any_json(), 0..3),
    ) {
        let mut items = base.clone();
        for pick in picks {
            let misses = near_misses(pick.get(&base));
            items.push(pick.get(&misses).1.clone());
        }
        items.extend(noise);
        let collections = [Collection::new("users", "user", "id"), Collection::new("messages", "message", "id")
            .with_schema(json!({"type": "object", "required": ["id"]}))];
        let fresh = || Materializer::new(profile.clone()).with_mutant(mutant).with_collections(&collections).unwrap();
        let (mut by_value, mut by_body) = (fresh(), fresh());
        by_value.apply_batch(Batch { items: items.clone(), offset: Some("1".into()), up_to_date: true });
        let body = Value::Array(items).to_string();
        by_body.apply_json(&body, Some("1".into()), true).unwrap();
        prop_assert_eq!(by_value.observe(), by_body.observe());
        prop_assert_eq!(by_value.diagnostics(), by_body.diagnostics());
    }

    /// The body path equals the parsed path for every combination of positions, batch after
    /// batch (visibility, rollback, snapshots and restarts included).
    #[test]
    fn json_body_path_matches_the_parsed_path_under_any_profile(
        profile in any_profile(), batches in prop::collection::vec((knob_items(), any::<bool>()), 1..4),
    ) {
        let collections = [Collection::new("users", "user", "id"), Collection::new("messages", "message", "id"),
            Collection::new("ab", "a:b", "id"), Collection::new("a", "a", "id")];
        let fresh = || Materializer::new(profile.clone()).with_collections(&collections).unwrap();
        let (mut by_value, mut by_body) = (fresh(), fresh());
        for (i, (items, up_to_date)) in batches.into_iter().enumerate() {
            let offset = Some(format!("o{i}"));
            by_value.apply_batch(Batch { items: items.clone(), offset: offset.clone(), up_to_date });
            by_body.apply_json(&Value::Array(items).to_string(), offset, up_to_date).unwrap();
            prop_assert_eq!(by_value.observe(), by_body.observe());
        }
        prop_assert_eq!(by_value.diagnostics(), by_body.diagnostics());
    }

    /// Where a batch is visible as a whole, a batch the consumer halts in leaves no trace
    /// (txids excepted under `txidSeen: on-apply`, which records them eagerly by definition).
    #[test]
    fn a_halted_batch_leaves_no_trace(
        profile in any_profile(),
        batch_visible in any::<bool>(),
        before in prop::collection::vec(valid_change(), 0..10),
        halting in knob_items(),
    ) {
        use state_reference::profile::*;
        let mut profile = profile;
        profile.invalid_message = InvalidMessage::Halt;
        profile.visibility = if batch_visible { Visibility::PerBatch } else { Visibility::AfterFirstUpToDate };
        // Valid changes must not halt the setup batch.
        (profile.insert_existing, profile.update_missing, profile.delete_missing, profile.non_object_values) =
            (InsertExisting::Overwrite, UpdateMissing::Store, DeleteMissing::Ignore, Acceptance::Accept);
        let txids_on_visible = profile.txid_seen == TxidSeen::OnVisible;
        let mut m = Materializer::new(profile);
        m.apply_batch(Batch { items: before, offset: Some("1".into()), up_to_date: true });
        let seen = m.observe();
        prop_assert!(!seen.halted);
        let mut halting = halting;
        halting.push(json!({"type": "user", "headers": {"operation": "insert"}})); // always invalid
        m.apply_batch(Batch { items: halting, offset: Some("2".into()), up_to_date: true });
        let after = m.observe();
        prop_assume!(after.halted); // a reset naming an offset may restart the read first
        prop_assert_eq!((seen.state, seen.offset), (after.state, after.offset));
        if txids_on_visible {
            prop_assert_eq!(seen.txids, after.txids);
        }
    }

    #[test]
    fn materializing_anything_under_any_profile_never_panics(
        profile in any_profile(), batches in prop::collection::vec(prop::collection::vec(any_json(), 0..8), 0..4),
    ) {
        let mut m = Materializer::new(profile);
        for items in batches {
            m.apply_batch(Batch { items, offset: None, up_to_date: false });
            let _ = m.observe();
        }
    }

    #[test]
    fn parsing_any_json_never_panics(profile in profiles(), value in any_json()) {
        let _ = Message::parse(value, &ParseRules::from_profile(&profile));
    }

    #[test]
    fn parsing_any_bytes_never_panics(profile in profiles(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Message::parse_bytes(&bytes, &ParseRules::from_profile(&profile));
    }

    #[test]
    fn materializing_any_items_never_panics(profile in profiles(), items in prop::collection::vec(any_json(), 0..20)) {
        let mut m = Materializer::new(profile).with_collections(&[Collection::new("users", "user", "id")]).unwrap();
        m.apply_batch(Batch { items, offset: None, up_to_date: true });
        let _ = m.observe();
    }

    #[test]
    fn parse_serialize_parse_is_the_identity_on_valid_messages(message in valid_message()) {
        let rules = ParseRules::from_profile(&Profile::preset("spec-1.0-strict").unwrap());
        let parsed = Message::parse(message.clone(), &rules).expect("generated messages are valid");
        prop_assert_eq!(&parsed.to_value(), &message);
        prop_assert_eq!(Message::parse(parsed.to_value(), &rules).unwrap(), parsed);
    }

    #[test]
    fn schema_and_strict_parser_agree_on_valid_and_near_miss_messages(message in valid_message()) {
        let rules = ParseRules::from_profile(&Profile::preset("spec-1.0-strict").unwrap());
        prop_assert!(schema::is_valid(&message));
        for (name, variant) in near_misses(&message) {
            let parser = Message::parse(variant.clone(), &rules);
            prop_assert_eq!(schema::is_valid(&variant), parser.is_ok(),
                "{}: {} (parser: {:?}; schema: {:?})", name, variant, parser.err(), schema::errors(&variant));
        }
    }

    #[test]
    fn producer_helpers_only_build_schema_valid_messages(
        value in object_value(), key in "[a-z0-9]{1,4}", txid in prop::option::of("[a-z]{1,4}"), op in 0..3u8,
    ) {
        let users = Collection::new("users", "user", "id");
        let mut with_key = value.as_object().cloned().unwrap_or_default();
        with_key.insert("id".into(), Value::from(key));
        let v = Value::Object(with_key);
        let builder = match op { 0 => users.insert(v), 1 => users.update(v), _ => users.delete().old_value(v) };
        let builder = match txid { Some(t) => builder.txid(t), None => builder };
        let message = builder.build().expect("a value with its primary key builds").to_value();
        prop_assert!(schema::is_valid(&message), "{}: {:?}", message, schema::errors(&message));
    }
}

/// Bodies above the parallel threshold (1 MiB) are read on two threads; the result must be
/// what the parsed path gives, including when the cut candidate falls inside a string.
#[test]
fn large_json_bodies_match_the_parsed_path() {
    for filler in ["plain", "x},{y", "a} , {b"] {
        let mut items: Vec<Value> = (0..25_000)
            .map(|i| {
                let (entity_type, operation) = (
                    ["user", "message"][i % 2],
                    ["insert", "update", "delete"][i % 3],
                );
                json!({"type": entity_type, "key": format!("k{}", i % 5000),
                       "value": {"s": filler, "i": i}, "headers": {"operation": operation}})
            })
            .collect();
        items.insert(12_500, json!({"headers": {"control": "reset"}}));
        items.insert(
            12_501,
            json!({"type": "user", "headers": {"operation": "insert"}}),
        );
        let body = Value::Array(items.clone()).to_string();
        assert!(body.len() > 1 << 20);
        let profile = Profile::default_profile();
        let (mut by_value, mut by_body) = (
            Materializer::new(profile.clone()),
            Materializer::new(profile),
        );
        by_value.apply_batch(Batch {
            items,
            offset: Some("1".into()),
            up_to_date: true,
        });
        by_body.apply_json(&body, Some("1".into()), true).unwrap();
        assert_eq!(by_value.observe(), by_body.observe(), "filler {filler:?}");
        assert_eq!(
            by_value.diagnostics(),
            by_body.diagnostics(),
            "filler {filler:?}"
        );
    }
}

#[test]
fn a_body_that_is_not_an_array_changes_nothing() {
    let mut m = Materializer::new(Profile::default_profile());
    m.apply_batch(Batch {
        items: vec![
            json!({"type": "t", "key": "a", "value": 1, "headers": {"operation": "insert"}}),
        ],
        offset: Some("1".into()),
        up_to_date: true,
    });
    let before = m.observe();
    let cut_short =
        r#"[{"type":"t","key":"b","value":2,"headers":{"operation":"insert"}},{"type":"t""#;
    for body in [cut_short, "{}", "", "[1,]"] {
        assert!(
            m.apply_json(body, Some("2".into()), true).is_err(),
            "{body:?}"
        );
        assert_eq!(m.observe(), before);
    }
}

/// A large body of changes only is read in two parts and applied partitioned by entity type
/// on two threads; under every preset, and with every state-dependent rejection turned on,
/// state, txids, offset and diagnostics must be what the parsed path gives in one pass.
#[test]
fn large_change_only_bodies_applied_by_type_match_the_parsed_path() {
    let items: Vec<Value> = (0..24_000)
        .map(|i| {
            let entity_type = ["user", "message", "reaction"][i % 3];
            let operation = ["insert", "update", "delete", "insert"][(i / 3) % 4];
            let mut headers = json!({"operation": operation});
            if i % 7 == 0 {
                headers["txid"] = json!(format!("t{i}"));
            }
            let value = match i % 11 {
                0 => json!(i),
                _ => json!({"n": i, "s": "v"}),
            };
            json!({"type": entity_type, "key": format!("k{}", (i * 7919) % 3000),
                   "value": value, "headers": headers})
        })
        .collect();
    let body = Value::Array(items.clone()).to_string();
    assert!(body.len() > 1 << 20);
    let mut profiles = Profile::presets();
    let mut strict_state = Profile::default_profile();
    strict_state.insert_existing = state_reference::profile::InsertExisting::Reject;
    strict_state.update_missing = state_reference::profile::UpdateMissing::Reject;
    strict_state.delete_missing = state_reference::profile::DeleteMissing::Reject;
    strict_state.update = state_reference::profile::UpdateSemantics::ShallowMerge;
    profiles.push(strict_state);
    for profile in profiles {
        let (mut by_value, mut by_body) = (
            Materializer::new(profile.clone()),
            Materializer::new(profile.clone()),
        );
        for round in ["1", "2"] {
            by_value.apply_batch(Batch {
                items: items.clone(),
                offset: Some(round.into()),
                up_to_date: true,
            });
            by_body.apply_json(&body, Some(round.into()), true).unwrap();
            assert_eq!(by_value.observe(), by_body.observe(), "{}", profile.name);
        }
        assert_eq!(
            by_value.diagnostics(),
            by_body.diagnostics(),
            "{}",
            profile.name
        );
    }
}
