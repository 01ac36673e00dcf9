use super::*;
use stream_simulator::activity::{Refused, Request};

const LONG_POLL: Duration = Duration::from_millis(500);

fn progress(offset: &str, up_to_date: bool) -> Progress {
    let mut p = Progress {
        up_to_date,
        ..Progress::default()
    };
    p.observation.offset = Some(offset.to_owned());
    p
}

fn up_to_date_at(offset: &str) -> Until {
    Until::UpToDate {
        offset: Some(offset.to_owned()),
    }
}

/// A reader whose last read (a catch-up, arrived at `asked_ms`, ended 2 ms later) was sent
/// `offset`, up to date, and that has nothing open.
fn idle_after(asked_ms: u64, offset: &str, now_ms: u64) -> ReaderActivity {
    ReaderActivity {
        now_ms,
        open: 0,
        last_request: Some(Request {
            seq: Some(4),
            uri: "/s?offset=-1".into(),
            received_ms: asked_ms,
        }),
        last_end_ms: Some(asked_ms + 2),
        sent: Some(Sent {
            seq: 4,
            offset: offset.into(),
            up_to_date: true,
            closed: false,
            at_ms: asked_ms + 2,
        }),
        refused: None,
    }
}

#[test]
fn a_reader_sent_the_point_that_does_not_move_stalls_after_the_grace() {
    let mut judge = IdleJudge::new(LONG_POLL);
    let until = up_to_date_at("0009");
    let stuck = progress("0004", false);
    // A long-poll is open (so it is not stopped), and it was sent the tail at 100 ms.
    let at = |now| ReaderActivity {
        open: 1,
        ..idle_after(98, "0009", now)
    };
    for now in [200, 600, 1000] {
        assert_eq!(judge.observe(&stuck, &at(now), &until, None), None, "{now}");
    }
    // Past the grace: three answers in a row with the same progress.
    assert_eq!(judge.observe(&stuck, &at(1_150), &until, None), None);
    assert_eq!(judge.observe(&stuck, &at(1_250), &until, None), None);
    let stalled = judge
        .observe(&stuck, &at(1_350), &until, None)
        .expect("stalled");
    assert_eq!(stalled.reader, Idle::Stalled);
    assert!(
        stalled
            .detail
            .contains("sent offset 0009 (up to date) (first 1250 ms ago, last on exchange #4)")
            && stalled
                .detail
                .contains("still reports offset 0004, not up to date"),
        "{}",
        stalled.detail
    );
}

#[test]
fn a_reader_sent_the_point_again_and_again_stalls_from_the_first_time() {
    // A closed stream answers at once: a reader that never takes it as the end asks again
    // and again, and each answer is a fresh send of the same point.
    let mut judge = IdleJudge::new(LONG_POLL);
    let stuck = progress("0009", true);
    let at = |now: u64| {
        let mut a = idle_after(now - 20, "0009", now);
        if let Some(s) = a.sent.as_mut() {
            s.closed = true;
        }
        a
    };
    let mut verdict = None;
    for now in (100..3_000).step_by(100) {
        verdict = judge.observe(&stuck, &at(now), &Until::Closed, None);
        if verdict.is_some() {
            assert!(now >= 1_100, "stalled at {now}, within the grace");
            break;
        }
    }
    assert_eq!(verdict.map(|e| e.reader), Some(Idle::Stalled));
}

#[test]
fn a_reader_reading_again_from_before_what_it_was_sent_is_not_stalled() {
    // Sent the tail on #4, then a reset sent it back: its next request (#5, delayed by a
    // fault) asks from an older offset. However long that takes, it is reading, not stalled.
    let mut judge = IdleJudge::new(LONG_POLL);
    let until = up_to_date_at("0009");
    let at = |now| ReaderActivity {
        open: 1,
        last_request: Some(Request {
            seq: None,
            uri: "/s?offset=0003".into(),
            received_ms: 50,
        }),
        ..idle_after(0, "0009", now)
    };
    for now in (100..5_000).step_by(100) {
        assert_eq!(
            judge.observe(&progress("0003", false), &at(now), &until, None),
            None
        );
    }
    // Asking from the point itself (a long-poll parked at the tail) is no re-read.
    let parked = |now| ReaderActivity {
        last_request: Some(Request {
            seq: None,
            uri: "/s?offset=0009&live=long-poll".into(),
            received_ms: 50,
        }),
        ..at(now)
    };
    let mut judge = IdleJudge::new(LONG_POLL);
    let verdicts: Vec<_> = (100..3_000)
        .step_by(100)
        .filter_map(|now| judge.observe(&progress("0003", false), &parked(now), &until, None))
        .collect();
    assert_eq!(verdicts.first().map(|e| e.reader), Some(Idle::Stalled));
}

#[test]
fn progress_that_moves_is_no_stall_and_a_point_not_yet_sent_is_none() {
    let until = up_to_date_at("0009");
    let mut judge = IdleJudge::new(LONG_POLL);
    let at = |now| ReaderActivity {
        open: 1,
        ..idle_after(0, "0009", now)
    };
    for (i, now) in (2_000..2_600).step_by(100).enumerate() {
        let moving = progress(&format!("000{}", i % 4), false);
        assert_eq!(judge.observe(&moving, &at(now), &until, None), None);
    }
    // Sent only an older offset: still reading, whatever it reports.
    let mut judge = IdleJudge::new(LONG_POLL);
    let behind = |now| ReaderActivity {
        open: 1,
        ..idle_after(0, "0005", now)
    };
    for now in (2_000..4_000).step_by(100) {
        assert_eq!(
            judge.observe(&progress("0005", true), &behind(now), &until, None),
            None
        );
    }
}

#[test]
fn a_reader_with_nothing_open_stops_once_silent_past_the_long_poll_timeout_and_margin() {
    let until = up_to_date_at("0009");
    let p = progress("0004", true);
    let mut judge = IdleJudge::new(LONG_POLL);
    // Silent for 700 ms: within the 750 ms limit.
    assert_eq!(
        judge.observe(&p, &idle_after(0, "0004", 702), &until, None),
        None
    );
    // Past it: a first answer, then a second makes it.
    assert_eq!(
        judge.observe(&p, &idle_after(0, "0004", 760), &until, None),
        None
    );
    let stopped = judge
        .observe(&p, &idle_after(0, "0004", 860), &until, None)
        .expect("stopped");
    assert_eq!(stopped.reader, Idle::Stopped);
    assert!(
        stopped.detail.contains("asked for nothing for 858 ms")
            && stopped
                .detail
                .contains("its last request was #4 GET /s?offset=-1")
            && stopped.detail.contains("reports offset 0004, up to date"),
        "{}",
        stopped.detail
    );
}

#[test]
fn one_late_answer_after_a_silence_is_not_enough_to_call_a_reader_stopped() {
    // A descheduled adapter answers once, late: the silence may be the machine's, not the
    // reader's. Only a second answer in the silence decides; a request in between resets it.
    let until = up_to_date_at("0009");
    let p = progress("0004", true);
    let mut judge = IdleJudge::new(LONG_POLL);
    assert_eq!(
        judge.observe(&p, &idle_after(0, "0004", 5_000), &until, None),
        None
    );
    assert_eq!(
        judge.observe(&p, &idle_after(4_990, "0004", 5_100), &until, None),
        None
    );
    assert_eq!(
        judge.observe(&p, &idle_after(4_990, "0004", 5_200), &until, None),
        None
    );
}

#[test]
fn a_reader_waiting_out_a_fault_is_still_reading() {
    let until = up_to_date_at("0009");
    let p = progress("0004", true);
    let refused = |retry_after_s, now| ReaderActivity {
        refused: Some(Refused {
            seq: 5,
            status: 503,
            cut: None,
            retry_after_s,
            at_ms: 10,
        }),
        ..idle_after(8, "0004", now)
    };
    // Without Retry-After: a back-off of any length, for as long as the await lasts.
    let mut judge = IdleJudge::new(LONG_POLL);
    for now in (1_000..10_000).step_by(100) {
        assert_eq!(judge.observe(&p, &refused(None, now), &until, None), None);
    }
    // With Retry-After: 2, stopped only past 2 s plus the limit.
    let mut judge = IdleJudge::new(LONG_POLL);
    for now in (1_000..2_760).step_by(100) {
        assert_eq!(
            judge.observe(&p, &refused(Some(2), now), &until, None),
            None,
            "{now}"
        );
    }
    assert_eq!(
        judge.observe(&p, &refused(Some(2), 2_800), &until, None),
        None
    );
    assert!(
        judge
            .observe(&p, &refused(Some(2), 2_900), &until, None)
            .is_some()
    );
}

#[test]
fn an_open_read_is_never_a_stop_and_a_stop_await_never_stalls() {
    let p = progress("0004", true);
    let mut judge = IdleJudge::new(LONG_POLL);
    let open = |now| ReaderActivity {
        open: 1,
        ..idle_after(0, "0009", now)
    };
    for now in (1_000..10_000).step_by(100) {
        assert_eq!(judge.observe(&p, &open(now), &Until::Stopped, None), None);
    }
}

#[test]
fn a_txid_await_needs_the_tail_of_its_start_sent() {
    let txid = Until::Txid { txid: "t".into() };
    let sent = idle_after(0, "0009", 0).sent.expect("sent");
    assert!(carries(&sent, &txid, Some("0009")));
    assert!(!carries(&sent, &txid, Some("0010")));
    assert!(!carries(&sent, &txid, None));
    assert!(!carries(
        &Sent {
            up_to_date: false,
            ..sent.clone()
        },
        &txid,
        Some("0009")
    ));
    assert!(carries(
        &Sent {
            closed: true,
            ..sent.clone()
        },
        &Until::Closed,
        None
    ));
    assert!(!carries(&sent, &Until::Closed, None));
}
