//! Properties of the reference: batching, resets, re-delivery, parsing robustness,
//! round-tripping, and agreement between the schema and the strict parser.

mod support;

use proptest::prelude::*;
use serde_json::{Value, json};
use state_reference::{
    Batch, Collection, Materializer, Message, Observation, ParseRules, Profile, schema,
};
use support::*;

fn profiles() -> impl Strategy<Value = Profile> {
    prop::sample::select(Profile::preset_names()).prop_map(|n| Profile::preset(n).unwrap())
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
