use super::model::{FIRST_BLOCK, LARGEST_BLOCK};
use super::*;

fn opts(max_bytes: usize) -> ReadOptions {
    ReadOptions {
        max_bytes,
        max_messages: None,
        served_offsets: false,
    }
}

fn create(store: &Store, ct: &str, body: &str) {
    let req = CreateRequest {
        content_type: Some(ct.into()),
        lifetime: Lifetime::Forever,
        closed: false,
        body: Bytes::from(body.to_owned()),
        fork: None,
    };
    store.create("/s", req).unwrap();
}

fn append(store: &Store, body: &str) -> Result<AppendOutcome, Refusal> {
    let req = AppendRequest {
        content_type: Some("application/json".into()),
        close: false,
        stream_seq: None,
        producer: None,
        body: Bytes::from(body.to_owned()),
    };
    store.append("/s", req)
}

/// Messages of every size, some filling a block exactly, some larger than any block,
/// are stored and read back byte for byte, in order, while earlier blocks are held.
#[test]
fn messages_of_any_size_read_back_as_appended() {
    let store = Store::default();
    create(&store, "application/octet-stream", "");
    let sizes = [1, FIRST_BLOCK - 1, 1, FIRST_BLOCK, 300, LARGEST_BLOCK / 8];
    let sizes = sizes
        .into_iter()
        .chain([LARGEST_BLOCK / 8 + 1, LARGEST_BLOCK + 7, 5]);
    let mut expected = Vec::new();
    for (i, n) in sizes.cycle().take(60).enumerate() {
        let body = vec![b'a' + (i % 26) as u8; n];
        expected.extend_from_slice(&body);
        let req = AppendRequest {
            content_type: Some("application/octet-stream".into()),
            close: false,
            stream_seq: None,
            producer: None,
            body: Bytes::from(body),
        };
        store.append("/s", req).unwrap();
    }
    let mut read = Vec::new();
    let mut from = Offset(0);
    loop {
        let (page, _) = store.read("/s", Some(from), opts(1 << 16)).unwrap();
        read.extend_from_slice(&page.body);
        from = page.next;
        if page.up_to_date {
            break;
        }
    }
    assert_eq!(read.len(), expected.len());
    assert!(
        read == expected,
        "the bytes read back differ from those appended"
    );
}

#[test]
fn json_mode_flattens_one_level_and_rejects_empty_arrays() {
    let store = Store::default();
    create(&store, "application/json", "[]");
    append(&store, r#"[{"a":1},[2,3]]"#).unwrap();
    append(&store, r#"{"b":4}"#).unwrap();
    assert_eq!(append(&store, "[]").unwrap_err().status, 400);
    assert_eq!(append(&store, "{nope").unwrap_err().status, 400);
    let (page, _) = store.read("/s", Some(Offset(0)), opts(1 << 20)).unwrap();
    assert_eq!(&page.body[..], br#"[{"a":1},[2,3],{"b":4}]"#);
    assert!(page.up_to_date);
}

#[test]
fn reads_resume_at_any_returned_offset_and_page() {
    let store = Store::default();
    create(&store, "application/json", "");
    for i in 0..10 {
        append(&store, &format!("{{\"i\":{i}}}")).unwrap();
    }
    let (first, _) = store.read("/s", Some(Offset(0)), opts(20)).unwrap();
    assert_eq!((first.chunks, first.up_to_date), (2, false));
    let (rest, _) = store.read("/s", Some(first.next), opts(1 << 20)).unwrap();
    assert_eq!((rest.chunks, rest.up_to_date), (8, true));
    assert_eq!(
        store
            .read("/s", Some(Offset(3)), opts(10))
            .unwrap_err()
            .status,
        400,
        "not a message boundary"
    );
}
