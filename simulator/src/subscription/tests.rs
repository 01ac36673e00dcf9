//! The subscription state machine without HTTP: links, wakes, fencing, leases, retries.

use super::*;
use crate::store::{AppendRequest, CreateRequest, Lifetime};
use serde_json::json;

const ROOT: &str = "/v1/stream/";

fn key(id: &str) -> Key {
    Key {
        root: ROOT.into(),
        id: id.into(),
    }
}

fn create(store: &Store, path: &str, body: &str) -> Offset {
    let request = CreateRequest {
        content_type: Some("application/json".into()),
        lifetime: Lifetime::Forever,
        closed: false,
        body: bytes::Bytes::from(body.to_owned()),
        fork: None,
    };
    store
        .create(&format!("{ROOT}{path}"), request)
        .unwrap()
        .1
        .tail
}

fn append(store: &Store, path: &str, body: &str) -> Offset {
    let request = AppendRequest {
        content_type: Some("application/json".into()),
        close: false,
        stream_seq: None,
        producer: None,
        body: bytes::Bytes::from(body.to_owned()),
    };
    match store.append(&format!("{ROOT}{path}"), request).unwrap() {
        crate::store::AppendOutcome::Appended { next, .. } => next,
        other => panic!("not appended: {other:?}"),
    }
}

fn config(delivery: Delivery, pattern: Option<&str>, streams: &[&str]) -> Config {
    Config {
        delivery,
        pattern: pattern.map(str::to_owned),
        streams: streams.iter().map(|s| (*s).to_owned()).collect(),
        lease_ttl_ms: 1000,
        description: None,
    }
}

/// Subscription `s`: a webhook on `events/*`.
fn webhook_subscription(subs: &Subscriptions, store: &Store) {
    subs.put(
        key("s"),
        config(webhook(), Some("events/*"), &[]),
        "http://h".into(),
        store,
    )
    .unwrap();
}

fn webhook() -> Delivery {
    Delivery::Webhook("http://127.0.0.1:9/hook".into())
}

/// A write to `path` as the HTTP layer reports it: the tail before, then the write.
fn write(subs: &Subscriptions, store: &Store, path: &str, body: &str) -> Vec<Effect> {
    let before = tail(store, ROOT, path);
    let exists = store.metadata(&format!("{ROOT}{path}")).is_ok();
    match exists {
        true => append(store, path, body),
        false => create(store, path, body),
    };
    subs.written(&format!("{ROOT}{path}"), before, store)
}

fn delivered_wakes(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver { wake, .. } => Some(wake.clone()),
            _ => None,
        })
        .collect()
}

fn token_of(subs: &Subscriptions, key: &Key, wake: &str) -> String {
    let note = subs.notification(key, wake).expect("a current wake");
    let body: Value = serde_json::from_slice(&note.body).unwrap();
    body["callback_token"].as_str().unwrap().to_owned()
}

#[test]
fn existing_streams_link_at_their_tail_and_a_new_matching_stream_before_its_first_write() {
    let (store, subs) = (Store::default(), Subscriptions::new());
    let old_tail = create(&store, "events/old", r#"{"a":1}"#);
    create(&store, "other/x", r#"{"a":1}"#);
    webhook_subscription(&subs, &store);
    let view = subs.view(&key("s"), &store).unwrap();
    assert_eq!(
        view["streams"],
        json!([{"path": "events/old", "link_type": "glob", "acked_offset": old_tail.to_string()}])
    );

    let effects = write(&subs, &store, "events/new", r#"{"a":2}"#);
    let wakes = delivered_wakes(&effects);
    assert_eq!(
        wakes.len(),
        1,
        "the new stream's first write is pending work"
    );
    let note: Value =
        serde_json::from_slice(&subs.notification(&key("s"), &wakes[0]).unwrap().body).unwrap();
    let new = note["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == "events/new")
        .unwrap();
    assert_eq!(new["acked_offset"], Offset(0).to_string());
    assert_eq!(new["has_pending"], true);
    assert_eq!(
        note["callback_url"],
        "http://h/v1/stream/__ds/subscriptions/s/callback"
    );
    // No second wake while one is in flight.
    assert!(delivered_wakes(&write(&subs, &store, "events/old", r#"{"a":3}"#)).is_empty());
}

#[test]
fn reconfirming_needs_the_same_configuration() {
    let (store, subs) = (Store::default(), Subscriptions::new());
    let first = config(webhook(), Some("events/*"), &["manual/a"]);
    assert!(
        subs.put(key("s"), first.clone(), "http://h".into(), &store)
            .unwrap()
            .0
    );
    assert!(
        !subs
            .put(key("s"), first.clone(), "http://h".into(), &store)
            .unwrap()
            .0
    );
    let other = Config {
        lease_ttl_ms: 2000,
        ..first
    };
    let refused = subs
        .put(key("s"), other, "http://h".into(), &store)
        .unwrap_err();
    assert_eq!(
        (refused.status, refused.code),
        (409, "SUBSCRIPTION_ALREADY_EXISTS")
    );
}

#[test]
fn a_callback_acks_and_a_replay_of_it_is_fenced() {
    let (store, subs) = (Store::default(), Subscriptions::new());
    webhook_subscription(&subs, &store);
    let wake = delivered_wakes(&write(&subs, &store, "events/a", r#"{"a":1}"#)).remove(0);
    let token = token_of(&subs, &key("s"), &wake);
    let tail = tail(&store, ROOT, "events/a").to_string();
    let report = Report {
        wake_id: wake.clone(),
        generation: 1,
        acks: vec![("events/a".into(), tail.clone())],
        done: true,
    };
    let (next, _) = subs
        .finish(&key("s"), Finish::Callback, Some(&token), &report, &store)
        .unwrap();
    assert_eq!(next, Some(false));
    assert_eq!(
        subs.view(&key("s"), &store).unwrap()["streams"][0]["acked_offset"],
        tail
    );
    let replay = subs
        .finish(&key("s"), Finish::Callback, Some(&token), &report, &store)
        .unwrap_err();
    assert_eq!((replay.status, replay.code), (409, "FENCED"));
}

#[test]
fn tokens_and_acks_are_checked_before_anything_moves() {
    let (store, subs) = (Store::default(), Subscriptions::new());
    webhook_subscription(&subs, &store);
    let wake = delivered_wakes(&write(&subs, &store, "events/a", r#"{"a":1}"#)).remove(0);
    let token = token_of(&subs, &key("s"), &wake);
    let report = |acks: Vec<(&str, String)>| Report {
        wake_id: wake.clone(),
        generation: 1,
        acks: acks.into_iter().map(|(s, o)| (s.to_owned(), o)).collect(),
        done: true,
    };
    let refused = |token: Option<&str>, r: Report| {
        let e = subs
            .finish(&key("s"), Finish::Callback, token, &r, &store)
            .unwrap_err();
        (e.status, e.code)
    };
    assert_eq!(refused(None, report(vec![])), (401, "TOKEN_INVALID"));
    assert_eq!(refused(Some("x.y"), report(vec![])), (401, "TOKEN_INVALID"));
    let other = Subscriptions::new();
    other
        .put(
            key("s"),
            config(webhook(), Some("events/*"), &[]),
            "http://h".into(),
            &store,
        )
        .unwrap();
    let foreign = delivered_wakes(&write(&other, &store, "events/a", "{}")).remove(0);
    assert_eq!(
        refused(Some(&token_of(&other, &key("s"), &foreign)), report(vec![])),
        (401, "TOKEN_INVALID")
    );
    let tail = tail(&store, ROOT, "events/a");
    let past = Offset(tail.0 + 1).to_string();
    assert_eq!(
        refused(Some(&token), report(vec![("events/a", past)])),
        (409, "INVALID_OFFSET")
    );
    assert_eq!(
        refused(Some(&token), report(vec![("events/zzz", tail.to_string())])),
        (409, "INVALID_OFFSET")
    );
    assert_eq!(
        refused(Some(&token), report(vec![("events/a", "bogus".into())])),
        (409, "INVALID_OFFSET")
    );
    // A heartbeat (no done) acks and keeps the wake.
    let mut beat = report(vec![("events/a", Offset(0).to_string())]);
    beat.done = false;
    let (next, effects) = subs
        .finish(&key("s"), Finish::Callback, Some(&token), &beat, &store)
        .unwrap();
    assert_eq!(next, Some(false));
    assert!(matches!(effects[..], [Effect::LeaseTimer { .. }]));
    assert!(
        subs.notification(&key("s"), &wake).is_some(),
        "the wake is still current"
    );
    // Regressing below the acked offset is refused once it moved.
    let mut forward = report(vec![("events/a", tail.to_string())]);
    forward.done = false;
    subs.finish(&key("s"), Finish::Callback, Some(&token), &forward, &store)
        .unwrap();
    assert_eq!(
        refused(
            Some(&token),
            report(vec![("events/a", Offset(0).to_string())])
        ),
        (409, "INVALID_OFFSET")
    );
}

#[test]
fn a_lease_that_runs_out_ends_the_wake_and_pending_work_wakes_again() {
    let (store, subs) = (Store::default(), Subscriptions::new());
    webhook_subscription(&subs, &store);
    let effects = write(&subs, &store, "events/a", r#"{"a":1}"#);
    let lease = effects
        .iter()
        .find_map(|e| match e {
            Effect::LeaseTimer { lease, .. } => Some(*lease),
            _ => None,
        })
        .unwrap();
    let first = delivered_wakes(&effects).remove(0);
    assert!(
        subs.lease_ended(&key("s"), lease + 7, &store).is_empty(),
        "an overtaken timer does nothing"
    );
    let again = delivered_wakes(&subs.lease_ended(&key("s"), lease, &store));
    assert_eq!(again.len(), 1);
    assert_ne!(again[0], first);
    assert!(
        subs.notification(&key("s"), &first).is_none(),
        "the old wake is over"
    );
    let note: Value =
        serde_json::from_slice(&subs.notification(&key("s"), &again[0]).unwrap().body).unwrap();
    assert_eq!(note["generation"], 2);
}

#[test]
fn synchronous_done_acks_the_snapshot_and_later_data_wakes_again() {
    let (store, subs) = (Store::default(), Subscriptions::new());
    webhook_subscription(&subs, &store);
    let wake = delivered_wakes(&write(&subs, &store, "events/a", r#"{"a":1}"#)).remove(0);
    let shown = tail(&store, ROOT, "events/a");
    append(&store, "events/a", r#"{"a":2}"#); // after the snapshot
    let next = subs.delivered(&key("s"), &wake, true, &store);
    assert_eq!(
        subs.view(&key("s"), &store).unwrap()["streams"][0]["acked_offset"],
        shown.to_string()
    );
    assert_eq!(
        delivered_wakes(&next).len(),
        1,
        "data past the snapshot is pending"
    );
}

#[test]
fn failed_deliveries_back_off_from_one_second_to_a_minute_and_mark_the_subscription() {
    let (store, subs) = (Store::default(), Subscriptions::new());
    webhook_subscription(&subs, &store);
    let wake = delivered_wakes(&write(&subs, &store, "events/a", "{}")).remove(0);
    let delays: Vec<u128> = (0..9)
        .map(|_| subs.delivery_failed(&key("s"), &wake).unwrap().as_millis())
        .collect();
    assert!((800..=1200).contains(&delays[0]), "{delays:?}");
    assert!((1600..=2400).contains(&delays[1]), "{delays:?}");
    assert!((48_000..=72_000).contains(&delays[8]), "{delays:?}");
    assert_eq!(subs.view(&key("s"), &store).unwrap()["status"], "failed");
    subs.delivered(&key("s"), &wake, false, &store);
    assert_eq!(subs.view(&key("s"), &store).unwrap()["status"], "active");
    assert!(subs.delivery_failed(&key("s"), "w_other").is_none());
}

#[test]
fn pull_wake_claims_are_exclusive_and_release_wakes_again_while_work_remains() {
    let (store, subs) = (Store::default(), Subscriptions::new());
    create(&store, "wake/pool", "[]");
    let delivery = Delivery::PullWake("wake/pool".into());
    subs.put(
        key("p"),
        config(delivery, Some("events/*"), &[]),
        "http://h".into(),
        &store,
    )
    .unwrap();
    let none = subs.claim(&key("p"), "w1", &store).unwrap_err();
    assert_eq!((none.status, none.code), (409, "NO_PENDING_WORK"));

    let effects = write(&subs, &store, "events/a", "{}");
    let Some(Effect::WakeEvent { stream, event }) = effects.first() else {
        panic!("a wake event")
    };
    assert_eq!(stream, "/v1/stream/wake/pool");
    assert_eq!(
        (
            event["subscription_id"].as_str(),
            event["stream"].as_str(),
            event["generation"].as_u64()
        ),
        (Some("p"), Some("events/a"), Some(1))
    );

    let (claimed, _) = subs.claim(&key("p"), "w1", &store).unwrap();
    let busy = subs.claim(&key("p"), "w2", &store).unwrap_err();
    assert_eq!(
        (busy.status, busy.code, &busy.extra["current_holder"]),
        (409, "ALREADY_CLAIMED", &json!("w1"))
    );
    let token = claimed["token"].as_str().unwrap();
    let wrong_kind = Report {
        wake_id: claimed["wake_id"].as_str().unwrap().into(),
        generation: 1,
        acks: vec![],
        done: true,
    };
    assert_eq!(
        subs.finish(
            &key("p"),
            Finish::Callback,
            Some(token),
            &wrong_kind,
            &store
        )
        .unwrap_err()
        .status,
        400
    );
    let (next, effects) = subs
        .finish(&key("p"), Finish::Release, Some(token), &wrong_kind, &store)
        .unwrap();
    assert_eq!(next, None);
    assert!(
        matches!(effects[..], [Effect::WakeEvent { .. }]),
        "unacked work wakes again"
    );
    let (claimed, _) = subs.claim(&key("p"), "w2", &store).unwrap();
    assert_eq!(claimed["generation"], 2);
}

#[test]
fn explicit_links_survive_only_as_long_as_something_links_them() {
    let (store, subs) = (Store::default(), Subscriptions::new());
    create(&store, "events/a", "{}");
    subs.put(
        key("s"),
        config(webhook(), Some("events/*"), &["manual/a"]),
        "http://h".into(),
        &store,
    )
    .unwrap();
    subs.add_streams(&key("s"), &["manual/b".into(), "events/a".into()], &store)
        .unwrap();
    let paths = |subs: &Subscriptions| {
        let view = subs.view(&key("s"), &store).unwrap();
        view["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}:{}",
                    s["path"].as_str().unwrap(),
                    s["link_type"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        paths(&subs),
        [
            "events/a:explicit",
            "manual/a:explicit",
            "manual/b:explicit"
        ]
    );
    subs.remove_stream(&key("s"), "manual/b").unwrap();
    subs.remove_stream(&key("s"), "events/a").unwrap();
    subs.remove_stream(&key("s"), "never/linked").unwrap();
    assert_eq!(paths(&subs), ["events/a:glob", "manual/a:explicit"]);
    subs.stream_deleted("/v1/stream/events/a");
    assert_eq!(paths(&subs), ["manual/a:explicit"]);
    subs.delete(&key("s")).unwrap();
    assert_eq!(
        subs.view(&key("s"), &store).unwrap_err().code,
        "SUBSCRIPTION_NOT_FOUND"
    );
}
