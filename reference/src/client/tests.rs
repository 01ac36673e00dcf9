use super::*;

fn at(offset: &str, up_to_date: bool) -> Progress {
    Progress {
        up_to_date,
        observation: Observation {
            offset: Some(offset.into()),
            txids: vec!["t1".into()],
            ..Observation::default()
        },
        ..Progress::default()
    }
}

#[test]
fn await_points_are_reached_only_when_they_hold() {
    let tail = |o: &str| Until::UpToDate {
        offset: Some(o.into()),
    };
    assert!(tail("0005").reached_by(&at("0005", true)));
    assert!(tail("0005").reached_by(&at("0007", true)), "beyond counts");
    assert!(!tail("0005").reached_by(&at("0003", true)), "short of it");
    assert!(
        !tail("0005").reached_by(&at("0005", false)),
        "not up to date"
    );
    assert!(Until::Txid { txid: "t1".into() }.reached_by(&at("0001", false)));
    assert!(!Until::Txid { txid: "t2".into() }.reached_by(&at("0001", true)));
    assert!(!Until::Closed.reached_by(&at("0001", true)));
    let stopped = Progress {
        stop_reason: Some("404".into()),
        ..Progress::default()
    };
    assert!(Until::Stopped.reached_by(&stopped));
}

#[test]
fn retries_back_off_to_a_bound() {
    let waits: Vec<Duration> = (1..=10).map(backoff).collect();
    assert!(waits.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(waits[0], Duration::from_millis(10));
    assert_eq!(*waits.last().unwrap(), MAX_BACKOFF);
}
