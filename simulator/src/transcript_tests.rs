use super::*;

fn exchange() -> Begun {
    Begun {
        exchange: bare(),
        request_headers: HeaderList::default(),
        response_headers: HeaderList::default(),
    }
}

fn bare() -> Exchange {
    Exchange {
        seq: 0,
        method: "GET".into(),
        uri: "/s".into(),
        kind: crate::fault::RequestKind::CatchUp,
        request_headers: Vec::new(),
        request_body: RecordedBody::default(),
        status: 200,
        response_headers: Vec::new(),
        response_body: RecordedBody::default(),
        faults: Vec::new(),
        cut: None,
        finished: false,
        received_ms: 0,
        answered_ms: 0,
    }
}

/// The request body is kept as received (a handle, not a copy), listed as text, and
/// counts toward the byte bound until its exchange is evicted.
#[test]
fn request_bodies_are_listed_as_received_and_counted() {
    let t = Transcript::new(1);
    t.begin(Bytes::from_static(b"[{\"a\":1}]"), None, exchange);
    t.begin(Bytes::from_static(&[0xff, 0x00]), None, exchange);
    let kept = t.exchanges();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (
            kept[0].request_body.text.as_str(),
            kept[0].request_body.base64
        ),
        ("/wA=", true)
    );
    let inner = t.lock();
    assert_eq!(inner.bytes, inner.exchanges[0].size());
    assert_eq!(inner.exchanges[0].size(), "GET".len() + "/s".len() + 2);
}

/// Exchanges begun at once are made outside the lock and may finish being made in any
/// order; the transcript still lists them in sequence order.
#[test]
fn exchanges_made_out_of_order_are_listed_in_sequence_order() {
    let t = Transcript::new(100);
    let outer = t.begin(Bytes::new(), None, || {
        // A second exchange begins and is recorded while the first is still being made.
        let inner = t.begin(Bytes::new(), None, exchange);
        assert_eq!(inner, 1);
        exchange()
    });
    assert_eq!(outer, 0);
    t.begin(Bytes::new(), None, exchange);
    assert_eq!(
        t.exchanges().iter().map(|e| e.seq).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

#[test]
fn keeps_at_most_capacity_exchanges_and_max_bytes_of_bodies() {
    let t = Transcript::new(3);
    for _ in 0..5 {
        t.begin(Bytes::new(), None, exchange);
    }
    assert_eq!(
        t.exchanges().iter().map(|e| e.seq).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    let big = vec![b'x'; MAX_BYTES / 2 + 1];
    for _ in 0..3 {
        let seq = t.begin(Bytes::new(), None, exchange);
        t.body_bytes(seq, Bytes::from(big.clone()));
    }
    let kept = t.exchanges();
    assert_eq!(kept.len(), 1, "two bodies of half the budget do not fit");
    assert_eq!(kept[0].seq, 7);
}

/// Packed and listed again, a header list is the pairs it was made of, in order:
/// repeated names, empty values and values that are not UTF-8 (made lossy) included.
#[test]
fn a_header_list_lists_its_pairs_in_order() {
    let pairs: [(&str, &[u8]); 5] = [
        ("content-type", b"application/json"),
        ("x-empty", b""),
        ("x-twice", b"1"),
        ("x-twice", b"2"),
        ("x-bytes", b"caf\xe9"),
    ];
    let list = HeaderList::of(pairs);
    let listed = list.pairs();
    let expected: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(HeaderList::of([]).pairs(), Vec::<(String, String)>::new());
}

#[test]
fn headers_count_against_the_byte_budget() {
    let t = Transcript::new(usize::MAX);
    let big = "h".repeat(MAX_BYTES / 4 + 1);
    for _ in 0..5 {
        t.begin(Bytes::new(), None, || Begun {
            request_headers: HeaderList::of([("x-big", big.as_bytes())]),
            ..exchange()
        });
    }
    assert_eq!(
        t.exchanges().len(),
        3,
        "four such exchanges exceed the budget"
    );
    t.clear();
    assert!(t.exchanges().is_empty());
    assert_eq!(t.lock().bytes, 0);
}

#[test]
fn a_request_stops_being_in_flight_as_its_exchange_is_recorded() {
    let t = Arc::new(Transcript::new(10));
    let waiting = t.arrive("GET", "/s?offset=-1");
    assert_eq!(t.in_flight().len(), 1);
    t.begin(Bytes::new(), waiting.id(), exchange);
    let (recorded, in_flight) = t.snapshot();
    assert_eq!((recorded.len(), in_flight.len()), (1, 0));
    drop(waiting); // the guard's own removal finds nothing left to remove
    assert!(t.in_flight().is_empty());
}
