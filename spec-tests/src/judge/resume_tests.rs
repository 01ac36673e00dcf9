use super::*;

fn x(seq: u64, uri: &str, status: u16, headers: &[(&str, &str)], body: &str) -> Exchange {
    Exchange {
        seq,
        method: "GET".into(),
        uri: uri.into(),
        kind: stream_simulator::fault::RequestKind::of(
            "GET",
            stream_simulator::transcript::query_param(uri, "live"),
        ),
        request_headers: Vec::new(),
        request_body: Default::default(),
        status,
        response_headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        response_body: stream_simulator::transcript::RecordedBody::of(body.as_bytes()),
        faults: Vec::new(),
        cut: None,
        finished: true,
        received_ms: seq * 10,
        answered_ms: seq * 10 + 1,
    }
}

fn read(seq: u64, uri: &str, next: &str, cursor: &str) -> Exchange {
    x(
        seq,
        uri,
        200,
        &[("stream-next-offset", next), ("stream-cursor", cursor)],
        "[]",
    )
}

fn sse(seq: u64, uri: &str, body: &str) -> Exchange {
    x(
        seq,
        uri,
        200,
        &[("content-type", "text/event-stream")],
        body,
    )
}

#[test]
fn a_read_from_the_offset_it_was_told_passes_and_one_from_an_older_offset_fails() {
    let good = [
        read(0, "/s?offset=-1", "o1", "c1"),
        read(1, "/s?offset=o1&live=long-poll&cursor=c1", "o2", "c2"),
        read(2, "/s?offset=o2&live=long-poll&cursor=c2", "o2", "c3"),
    ];
    assert!(resume_violations(&good, &[], "/s").is_empty());
    let stale = [
        read(0, "/s?offset=-1", "o1", "c1"),
        read(1, "/s?offset=o1&live=long-poll&cursor=c1", "o2", "c2"),
        read(2, "/s?offset=o1&live=long-poll&cursor=c2", "o2", "c3"),
    ];
    let found = resume_violations(&stale, &[], "/s");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].requirement, NEXT_OFFSET);
    assert_eq!(found[0].class, RequestClass::Every);
    assert!(
        found[0]
            .detail
            .contains("reads from offset o1, but the response to #1 told it o2"),
        "{found:?}"
    );
}

#[test]
fn a_cut_or_refused_read_tells_nothing_so_the_retry_repeats_the_offset() {
    let mut cut = read(1, "/s?offset=o1", "o2", "c2");
    cut.cut = Some(stream_simulator::transcript::Cut {
        how: "cut-body",
        after_bytes: 1,
    });
    let exchanges = [
        read(0, "/s?offset=-1", "o1", "c1"),
        cut,
        x(2, "/s?offset=o1", 503, &[], ""),
        read(3, "/s?offset=o1", "o2", "c2"),
    ];
    assert!(resume_violations(&exchanges, &[], "/s").is_empty());
}

#[test]
fn a_restart_after_410_and_a_served_reset_offset_are_allowed() {
    let exchanges = [
        read(0, "/s?offset=-1", "o1", "c1"),
        x(1, "/s?offset=o1&live=long-poll&cursor=c1", 410, &[], ""),
        x(
            2,
            "/s?offset=-1",
            200,
            &[("stream-next-offset", "o3")],
            r#"[{"headers":{"control":"reset","offset":"o2"}}]"#,
        ),
        read(3, "/s?offset=o2", "o3", "c4"),
    ];
    assert!(resume_violations(&exchanges, &[], "/s").is_empty());
    // Starting over without a 410 is not resuming.
    let again = [
        read(0, "/s?offset=-1", "o1", "c1"),
        read(1, "/s?offset=-1", "o1", "c1"),
    ];
    assert_eq!(resume_violations(&again, &[], "/s").len(), 1);
}

#[test]
fn an_sse_reconnect_resumes_from_the_last_whole_control_event_with_its_cursor() {
    let body = "event: data\ndata:[{\"a\":1}]\n\nevent: control\ndata:{\"streamNextOffset\":\"o2\",\"streamCursor\":\"c2\"}\n\nevent: data\ndata:[{\"a\":2}]\n\nevent: control\ndata:{\"streamNextOffset\":\"o3\"";
    let first = sse(1, "/s?offset=o1&live=sse&cursor=c1", body);
    let base = read(0, "/s?offset=-1", "o1", "c1");
    let good = [
        base.clone(),
        first.clone(),
        sse(2, "/s?offset=o2&live=sse&cursor=c2", ""),
    ];
    assert!(resume_violations(&good, &[], "/s").is_empty());
    // From the data after the last whole control event: data not yet committed.
    let early = [
        base.clone(),
        first.clone(),
        sse(2, "/s?offset=o3&live=sse&cursor=c2", ""),
    ];
    let found = resume_violations(&early, &[], "/s");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].requirement, SSE_RECONNECT);
    // The cursor of the SSE connection, not of the read before it.
    let stale_cursor = [base, first, sse(2, "/s?offset=o2&live=sse&cursor=c1", "")];
    let found = resume_violations(&stale_cursor, &[], "/s");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].requirement, CURSOR_ECHO);
    assert!(found[0].detail.contains("\"c2\""), "{found:?}");
}

#[test]
fn a_waiting_request_counts_and_a_catch_up_read_need_not_carry_a_cursor() {
    let told = [read(0, "/s?offset=-1", "o1", "c1")];
    let waiting = |uri: &str| vec![("GET".to_owned(), uri.to_owned())];
    assert!(resume_violations(&told, &waiting("/s?offset=o1"), "/s").is_empty());
    let dropped = resume_violations(&told, &waiting("/s?offset=o1&live=long-poll"), "/s");
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].detail.contains("waiting request"), "{dropped:?}");
    // Another stream's reads are not this reader's.
    let other = resume_violations(&told, &waiting("/t?offset=zz"), "/s");
    assert!(other.is_empty());
}

#[test]
fn a_live_read_without_an_offset_fails_even_as_the_first_read() {
    // A catch-up read may leave the offset out (it starts at the beginning); a live one may not.
    let catch_up = [read(0, "/s", "o1", "c1")];
    assert!(resume_violations(&catch_up, &[], "/s").is_empty());
    for uri in ["/s?live=sse", "/s?live=long-poll"] {
        let v = resume_violations(&[x(0, uri, 400, &[], "")], &[], "/s");
        assert_eq!(v.len(), 1, "{uri}: {v:?}");
        assert_eq!(v[0].requirement, LIVE_OFFSET);
        assert!(v[0].detail.contains(uri), "{}", v[0].detail);
    }
    // Still waiting for an answer counts too.
    let waiting = [("GET".to_owned(), "/s?live=sse".to_owned())];
    let v = resume_violations(&[], &waiting, "/s");
    assert_eq!(
        v.iter().map(|v| v.requirement.as_str()).collect::<Vec<_>>(),
        [LIVE_OFFSET]
    );
}
