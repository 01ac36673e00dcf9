//! Fast decoding of a batch body in one pass, without building `Value` trees.
//!
//! Each array element is read as an [`Element`]: an object's top-level fields as raw JSON
//! slices of the body (entity values are skipped over once and never parsed), its `headers`
//! read once into the three a change may carry, or the whole value when it is not an
//! object. Only messages valid under *every* profile (schema-valid changes) are decoded here;
//! anything else, including every control message, is turned back into the exact `Value` it
//! was and goes through [`Message::parse`](crate::Message::parse), so rejections have one
//! source of truth. A property test holds the two paths to the same results.
//!
//! A large body is read on two threads, in place: it is cut at a candidate element boundary
//! near its middle, and each part is read as its piece of the top-level array. The cut is
//! verified, not trusted: if the part before it reads as an array's opening that ends right
//! after an element, a sequential parser was between two elements of the top-level array at
//! that comma, so both parts together read exactly what the whole body does. Any failure
//! falls back to the sequential read, which also reports the error.

use std::borrow::Cow;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::message::{ChangeMessage, Operation, ParseRules};

/// A change ready to apply: what the materializer needs of a message, borrowed from the
/// body where possible, the value kept as JSON text.
#[derive(Debug)]
pub(crate) struct DecodedChange<'a> {
    pub entity_type: Cow<'a, str>,
    pub key: Cow<'a, str>,
    pub operation: Operation,
    pub value: Option<Cow<'a, RawValue>>,
    pub txid: Option<Cow<'a, str>>,
}

impl DecodedChange<'static> {
    /// The change a parsed message describes.
    pub fn from_message(c: ChangeMessage) -> DecodedChange<'static> {
        DecodedChange {
            entity_type: Cow::Owned(c.entity_type),
            key: Cow::Owned(c.key),
            operation: c.operation,
            value: c.value.map(|v| Cow::Owned(to_raw(&v))),
            txid: c.txid.map(Cow::Owned),
        }
    }
}

/// JSON text of a value (serializing a `Value` cannot fail).
pub(crate) fn to_raw(value: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("a JSON value serializes")
}

/// The value back from its JSON text (text this crate stored, so always valid).
pub(crate) fn from_raw(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).expect("stored JSON text parses")
}

/// One element of a batch body, read in a single pass.
pub(crate) enum Element<'a> {
    Object(Fields<'a>),
    /// Not an object: the value whole (rare, and the parser judges it).
    NotObject(Value),
}

/// An object's top-level fields, as raw JSON slices of the body. When a name repeats, the
/// last one wins, as it does when the object is parsed into a `Value`.
#[derive(Default)]
pub(crate) struct Fields<'a> {
    entity_type: Option<Text<'a>>,
    key: Option<Text<'a>>,
    value: Option<&'a RawValue>,
    old_value: Option<&'a RawValue>,
    headers: Option<HeadersField<'a>>,
    /// Names the protocol does not define, in order.
    others: Vec<(String, &'a RawValue)>,
}

impl<'a> Fields<'a> {
    /// The object as `serde_json::Value` would have parsed it.
    fn into_value(self) -> Value {
        let mut map = Map::new();
        for (name, text) in [("type", self.entity_type), ("key", self.key)] {
            if let Some(text) = text {
                map.insert(name.to_owned(), text.into_value());
            }
        }
        if let Some(headers) = self.headers {
            map.insert("headers".to_owned(), headers.into_value());
        }
        let raws = [("value", self.value), ("old_value", self.old_value)];
        let raws = raws
            .into_iter()
            .filter_map(|(name, raw)| Some((name.to_owned(), raw?)));
        for (name, raw) in raws.chain(self.others) {
            map.insert(name, from_raw(raw));
        }
        Value::Object(map)
    }
}

impl<'de> Deserialize<'de> for Element<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElementVisitor)
    }
}

/// Visitor methods for every JSON kind but strings and objects, which yield
/// `$wrap(the value whole)`.
macro_rules! whole_values {
    ($wrap:path) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Value::deserialize(SeqAccessDeserializer::new(seq)).map($wrap)
        }

        fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
            Ok($wrap(Value::Bool(b)))
        }

        fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(n)))
        }

        fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(n)))
        }

        fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(n)))
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }
    };
}

/// A `type`, `key` or header field: its string, borrowed unless escaped, or any other value
/// whole (what the parser judges; rare, so built as `Value` would build it).
pub(crate) enum Text<'a> {
    Str(Cow<'a, str>),
    NotStr(Value),
}

impl Text<'_> {
    fn into_value(self) -> Value {
        match self {
            Text::Str(s) => Value::String(s.into_owned()),
            Text::NotStr(value) => value,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Text::Str(s) => Some(s),
            Text::NotStr(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Borrowed(s)))
            }

            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(s.to_owned())))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(Text::NotStr)
            }

            whole_values!(Text::NotStr);
        }
        d.deserialize_any(TextVisitor)
    }
}

/// An enum of the field names a reader knows (read without allocating) and `Other(String)`
/// for the rest.
macro_rules! field_names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        enum $name {
            $($variant,)*
            Other(String),
        }

        impl $name {
            #[allow(dead_code)] // not every reader needs a known name's text back
            fn into_string(self) -> String {
                match self {
                    $($name::$variant => $text.to_owned(),)*
                    $name::Other(name) => name,
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct NameVisitor;
                impl Visitor<'_> for NameVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a field name")
                    }

                    fn visit_str<E>(self, name: &str) -> Result<$name, E> {
                        Ok(match name {
                            $($text => $name::$variant,)*
                            other => $name::Other(other.to_owned()),
                        })
                    }
                }
                d.deserialize_identifier(NameVisitor)
            }
        }
    };
}

field_names! {
    /// A message's top-level field name.
    FieldName { Type => "type", Key => "key", Value => "value", OldValue => "old_value", Headers => "headers" }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut f = Fields::default();
        while let Some(name) = map.next_key::<FieldName>()? {
            let mut raw = || map.next_value::<&'de RawValue>();
            match name {
                FieldName::Type => f.entity_type = Some(map.next_value()?),
                FieldName::Key => f.key = Some(map.next_value()?),
                FieldName::Value => f.value = Some(raw()?),
                FieldName::OldValue => f.old_value = Some(raw()?),
                FieldName::Headers => f.headers = Some(map.next_value()?),
                FieldName::Other(name) => f.others.push((name, raw()?)),
            }
        }
        Ok(Element::Object(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Element::NotObject(Value::String(s.to_owned())))
    }

    whole_values!(Element::NotObject);
}

/// The change an element describes, if it is valid under every profile; otherwise the
/// `Value` the element was (see [`Fields::into_value`]), for the parser to judge.
pub(crate) fn decode<'a>(
    element: Element<'a>,
    rules: &ParseRules,
) -> Result<DecodedChange<'a>, Value> {
    let fields = match element {
        Element::Object(fields) => fields,
        Element::NotObject(value) => return Err(value),
    };
    let Some(operation) = well_formed(&fields, rules) else {
        return Err(fields.into_value());
    };
    match fields {
        Fields {
            entity_type: Some(Text::Str(entity_type)),
            key: Some(Text::Str(key)),
            value,
            headers: Some(HeadersField::Change { txid, .. }),
            ..
        } => Ok(DecodedChange {
            entity_type,
            key,
            operation,
            value: value.map(Cow::Borrowed),
            txid: txid.map(Cow::Owned),
        }),
        other => Err(other.into_value()),
    }
}

/// The operation of a change valid under every profile; `None` for anything else.
fn well_formed(f: &Fields<'_>, rules: &ParseRules) -> Option<Operation> {
    if !f.others.is_empty() {
        return None;
    }
    let entity_type = f.entity_type.as_ref()?.as_str()?;
    let key = f.key.as_ref()?.as_str()?;
    let Some(HeadersField::Change {
        operation,
        txid,
        timestamp,
    }) = &f.headers
    else {
        return None;
    };
    let operation = Operation::from_spec_name(operation)?;
    let well_formed = !entity_type.is_empty()
        && !key.is_empty()
        && (f.value.is_some() || !operation.requires_value())
        && txid.as_deref().is_none_or(|t| !t.is_empty())
        && timestamp
            .as_deref()
            .is_none_or(|t| !rules.enforce_rfc3339 || crate::schema::is_rfc3339(t));
    well_formed.then_some(operation)
}

/// A `headers` field, read once: a change's headers typed (`operation`, and `txid` and
/// `timestamp` when present: all strings, each once, nothing else), or any other value
/// whole, exactly as `Value` would have read it, for the parser to judge.
pub(crate) enum HeadersField<'a> {
    Change {
        operation: Cow<'a, str>,
        txid: Option<String>,
        timestamp: Option<String>,
    },
    Other(Value),
}

impl HeadersField<'_> {
    fn into_value(self) -> Value {
        match self {
            HeadersField::Other(value) => value,
            HeadersField::Change {
                operation,
                txid,
                timestamp,
            } => Value::Object(change_headers(Some(operation), txid, timestamp)),
        }
    }
}

/// The map a change's typed headers stand for.
fn change_headers(
    operation: Option<Cow<'_, str>>,
    txid: Option<String>,
    timestamp: Option<String>,
) -> Map<String, Value> {
    let mut map = Map::new();
    let named = [
        ("operation", operation.map(Cow::into_owned)),
        ("txid", txid),
        ("timestamp", timestamp),
    ];
    for (name, text) in named {
        if let Some(text) = text {
            map.insert(name.to_owned(), Value::String(text));
        }
    }
    map
}

field_names! {
    /// A header's name.
    HeaderName { Operation => "operation", Txid => "txid", Timestamp => "timestamp" }
}

impl<'de> Deserialize<'de> for HeadersField<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = HeadersField<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(HeadersField::Other(Value::String(s.to_owned())))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut operation: Option<Cow<'de, str>> = None;
                let (mut txid, mut timestamp) = (None, None);
                // Once a header does not fit a change's (another name, a repeated one, not a
                // string), the rest is read as `Value` would read it: the last repeat wins.
                let mut whole: Option<Map<String, Value>> = None;
                while let Some(name) = map.next_key::<HeaderName>()? {
                    let value: Text<'de> = map.next_value()?;
                    if let Some(whole) = whole.as_mut() {
                        whole.insert(name.into_string(), value.into_value());
                        continue;
                    }
                    match (name, value) {
                        (HeaderName::Operation, Text::Str(s)) if operation.is_none() => {
                            operation = Some(s);
                        }
                        (HeaderName::Txid, Text::Str(s)) if txid.is_none() => {
                            txid = Some(s.into_owned());
                        }
                        (HeaderName::Timestamp, Text::Str(s)) if timestamp.is_none() => {
                            timestamp = Some(s.into_owned());
                        }
                        (name, value) => {
                            let mut so_far =
                                change_headers(operation.take(), txid.take(), timestamp.take());
                            so_far.insert(name.into_string(), value.into_value());
                            whole = Some(so_far);
                        }
                    }
                }
                Ok(match (whole, operation) {
                    (Some(whole), _) => HeadersField::Other(Value::Object(whole)),
                    (None, Some(operation)) => HeadersField::Change {
                        operation,
                        txid,
                        timestamp,
                    },
                    (None, None) => {
                        HeadersField::Other(Value::Object(change_headers(None, txid, timestamp)))
                    }
                })
            }

            whole_values!(HeadersField::Other);
        }
        d.deserialize_any(HeadersVisitor)
    }
}

/// What reading one element gave: a change to apply, or the value for the parser to judge.
pub(crate) type Decoded<'a> = Result<DecodedChange<'a>, Value>;

/// Bodies smaller than this are read on one thread.
pub(crate) const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// Reads a large body on two threads without copying it: the body is cut at the first
/// `}` `,` `{` (whitespace allowed) after its middle; the part before is read as an array's
/// opening (`[` and elements), the part after as its rest (elements and `]`). `None`, to
/// read the body whole instead, when there is no such place or either part does not read as
/// exactly that (the cut fell inside a string, or the body is not a well-formed array).
///
/// The parts read what the whole body reads: each element is read by serde_json as in the
/// whole array, and the array's own punctuation is checked here. Elements nest the same way
/// whole or apart, since nothing in an element is read structurally deeper than three levels
/// (entity values and headers are skipped over as raw text), far from serde_json's limit.
pub(crate) fn read_in_halves<'a>(
    body: &'a str,
    rules: &ParseRules,
) -> Option<[Vec<Decoded<'a>>; 2]> {
    let bytes = body.as_bytes();
    let comma = (bytes.len() / 2..bytes.len()).find(|&i| {
        bytes[i] == b','
            && bytes[..i].iter().rev().find(|b| !is_space(**b)) == Some(&b'}')
            && bytes[i + 1..].iter().find(|b| !is_space(**b)) == Some(&b'{')
    })?;
    let (opening, rest) = (&body[..comma], &body[comma + 1..]);
    std::thread::scope(|scope| {
        let second = scope.spawn(|| read_part(rest, rules, Part::Rest));
        let first = read_part(opening, rules, Part::Opening);
        let second = second.join().ok()?;
        Some([first?, second?])
    })
}

/// JSON whitespace, as serde_json skips it.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Which part of a top-level array a text is.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    /// `[` and one or more elements separated by commas, ending right after an element.
    Opening,
    /// One or more elements separated by commas, then `]` and nothing but whitespace.
    Rest,
}

/// Reads `text` as `part` of an array, each element decoded as it is read.
fn read_part<'a>(text: &'a str, rules: &ParseRules, part: Part) -> Option<Vec<Decoded<'a>>> {
    let bytes = text.as_bytes();
    let skip_space = |mut at: usize| {
        while bytes.get(at).is_some_and(|b| is_space(*b)) {
            at += 1;
        }
        at
    };
    let mut at = 0;
    if part == Part::Opening {
        at = skip_space(at);
        if bytes.get(at) != Some(&b'[') {
            return None;
        }
        at += 1;
    }
    let mut out = Vec::with_capacity(text.len() / 128);
    loop {
        let mut element =
            serde_json::Deserializer::from_str(&text[at..]).into_iter::<Element<'a>>();
        out.push(decode(element.next()?.ok()?, rules));
        at = skip_space(at + element.byte_offset());
        match (bytes.get(at), part) {
            (Some(b','), _) => at += 1,
            (None, Part::Opening) => return Some(out),
            (Some(b']'), Part::Rest) if skip_space(at + 1) == bytes.len() => return Some(out),
            _ => return None,
        }
    }
}

/// Reads and decodes a JSON array of messages on the calling thread.
pub(crate) fn read<'a>(
    body: &'a str,
    rules: &ParseRules,
) -> Result<Vec<Decoded<'a>>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(body);
    let decoded = de.deserialize_seq(DecodingVisitor {
        rules,
        capacity: body.len() / 128,
    })?;
    de.end()?;
    Ok(decoded)
}

/// Decodes each element of the top-level array as soon as it is read, into a vector sized
/// from the body's length (so it rarely has to grow and move).
struct DecodingVisitor<'r> {
    rules: &'r ParseRules,
    capacity: usize,
}

impl<'de> Visitor<'de> for DecodingVisitor<'_> {
    type Value = Vec<Decoded<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(self.capacity);
        while let Some(element) = seq.next_element::<Element<'de>>()? {
            out.push(decode(element, self.rules));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Profile;

    fn rules() -> ParseRules {
        ParseRules::from_profile(&Profile::default_profile())
    }

    /// A body of `n` inserts whose string values contain `filler`.
    fn body(n: usize, filler: &str) -> String {
        let items: Vec<Value> = (0..n)
            .map(|i| serde_json::json!({"type": "t", "key": format!("k{i}"), "value": {"s": filler}, "headers": {"operation": "insert"}}))
            .collect();
        Value::Array(items).to_string()
    }

    /// Headers are read once: a change's come out typed, and anything else exactly as
    /// `Value` reads it (repeats, other names, other kinds, escapes), for the parser to judge.
    #[test]
    fn headers_read_once_match_what_value_reads() {
        let element = |headers: &str| {
            format!(r#"{{"type":"t","key":"k","value":{{"n":1}},"headers":{headers}}}"#)
        };
        let changes = [
            (r#"{"operation":"insert"}"#, Operation::Insert, None),
            (
                r#"{"txid":"x","operation":"update"}"#,
                Operation::Update,
                Some("x"),
            ),
            (
                r#"{"operation":"del\u0065te","timestamp":"2025-01-01T00:00:00Z"}"#,
                Operation::Delete,
                None,
            ),
            (
                r#"{"operation":"insert","txid":"a\"b"}"#,
                Operation::Insert,
                Some("a\"b"),
            ),
        ];
        for (headers, operation, txid) in changes {
            let text = element(headers);
            let read: Element = serde_json::from_str(&text).unwrap();
            let change = decode(read, &rules()).unwrap_or_else(|v| panic!("{headers}: {v}"));
            assert_eq!(
                (change.operation, change.txid.as_deref()),
                (operation, txid),
                "{headers}"
            );
        }
        let others = [
            r#"{"operation":"insert","operation":"update"}"#,
            r#"{"operation":"insert","txid":"a","txid":"b"}"#,
            r#"{"txid":"a","operation":"insert","extra":[1,{"b":null}],"txid":"c"}"#,
            r#"{"operation":"insert","txid":null}"#,
            r#"{"operation":7}"#,
            r#"{"operation":{"x":[true,-1,2.5,18446744073709551615]}}"#,
            r#"{"txid":"x"}"#,
            r#"{}"#,
            r#"{"control":"reset","offset":"1"}"#,
            r#"["operation","insert"]"#,
            r#""insert""#,
            r#"null"#,
            r#"-0.5"#,
        ];
        for headers in others {
            let text = element(headers);
            let read: Element = serde_json::from_str(&text).unwrap();
            let expected: Value = serde_json::from_str(&text).unwrap();
            match decode(read, &rules()) {
                Err(value) => assert_eq!(value, expected, "{headers}"),
                Ok(_) => panic!("{headers} decoded as a change"),
            }
        }
    }

    #[test]
    fn a_clean_cut_reads_both_halves_as_the_whole_body_reads() {
        let body = body(20_000, "plain");
        let [first, second] = read_in_halves(&body, &rules())
            .expect("a compact body has a boundary after its middle, and both parts read");
        let whole = read(&body, &rules()).unwrap();
        assert!(!first.is_empty() && !second.is_empty());
        assert_eq!(first.len() + second.len(), whole.len());
        let keys = |d: &Decoded<'_>| d.as_ref().map(|c| c.key.to_string()).unwrap_or_default();
        let split_keys: Vec<String> = first.iter().chain(&second).map(keys).collect();
        assert_eq!(split_keys, whole.iter().map(keys).collect::<Vec<_>>());
    }

    #[test]
    fn a_cut_inside_a_string_is_detected_and_refused() {
        // Every value holds `},{`, so the first candidate after the middle is inside a string.
        let body = body(20_000, "x},{y");
        assert!(
            read_in_halves(&body, &rules()).is_none(),
            "a cut inside a string must not be accepted"
        );
    }

    /// Whatever the whole read refuses, the halves refuse too (and the whole read then
    /// reports it); spacing the whole read allows, the halves allow.
    #[test]
    fn the_halves_accept_exactly_the_arrays_the_whole_read_accepts() {
        let good = body(2_000, "plain");
        let inner = &good[1..good.len() - 1];
        let cases = [
            (format!(" \n[ {inner} ]\r\n "), true),
            (format!("[{}]", inner.replace("},{", "} , {")), true),
            (format!("{{{inner}]"), false),
            (format!("[{inner},]"), false),
            (format!("[{inner}] x"), false),
            (format!("[{inner}]]"), false),
            (format!("[{inner}"), false),
            (format!("[{}]", inner.replacen("},{", "}{", 1500)), false),
            (format!("[[{inner}]"), false),
        ];
        for (text, whole_reads) in cases {
            let label = &text[..12.min(text.len())];
            assert_eq!(read(&text, &rules()).is_ok(), whole_reads, "{label}");
            let halves = read_in_halves(&text, &rules());
            assert_eq!(halves.is_some(), whole_reads, "{label}");
        }
    }
}
