//! Fast decoding of a batch body in one pass, without building `Value` trees.
//!
//! Each array element is read as an [`Element`]: an object's top-level fields as raw JSON
//! slices of the body (entity values are skipped over once and never parsed), or a stand-in
//! for anything that is not an object. Only messages valid under *every* profile (schema-valid
//! changes) are decoded here; anything else, including every control message, is turned back
//! into the exact `Value` it was and goes through [`Message::parse`](crate::Message::parse), so
//! rejections have one source of truth. A property test holds the two paths to the same results.
//!
//! A large body is read on two threads: it is cut at an element boundary near its middle and
//! each half is read as an array of its own. The cut is verified, not trusted: if the first
//! half (plus `]`) parses as a complete array, a sequential parser was between two elements
//! of the top-level array at that comma, so both halves together read exactly what the whole
//! body does. Any failure falls back to the sequential read, which also reports the error.

use std::borrow::Cow;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
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
    /// Not an object: a value of the same JSON kind (all a rejection depends on).
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
    headers: Option<&'a RawValue>,
    /// Names the protocol does not define, in order.
    others: Vec<(String, &'a RawValue)>,
}

impl<'a> Fields<'a> {
    /// The object as `serde_json::Value` would have parsed it, except that a non-string
    /// type or key is a stand-in of the same kind (the parser judges only its kind).
    fn into_value(self) -> Value {
        let mut map = Map::new();
        for (name, text) in [("type", self.entity_type), ("key", self.key)] {
            if let Some(text) = text {
                map.insert(name.to_owned(), text.into_value());
            }
        }
        let raws = [
            ("value", self.value),
            ("old_value", self.old_value),
            ("headers", self.headers),
        ];
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

/// A `type` or `key` field: its string, borrowed unless escaped, or a stand-in of the
/// same JSON kind when it is not a string.
pub(crate) enum Text<'a> {
    Str(Cow<'a, str>),
    NotStr(Value),
}

impl Text<'_> {
    fn into_value(self) -> Value {
        match self {
            Text::Str(s) => Value::String(s.into_owned()),
            Text::NotStr(stand_in) => stand_in,
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

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text::NotStr(Value::Object(Map::new())))
            }

            stand_ins!(Text::NotStr);
        }
        d.deserialize_any(TextVisitor)
    }
}

/// Visitor methods for arrays and scalars, which yield `$wrap(stand-in of the same kind)`.
macro_rules! stand_ins {
    ($wrap:path) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrap(Value::Array(Vec::new())))
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($wrap(Value::Bool(false)))
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(0)))
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(0)))
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(0)))
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }
    };
}
use stand_ins;

/// A top-level field name, read without allocating for the ones the protocol defines.
enum FieldName {
    Type,
    Key,
    Value,
    OldValue,
    Headers,
    Other(String),
}

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = FieldName;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E>(self, name: &str) -> Result<FieldName, E> {
                Ok(match name {
                    "type" => FieldName::Type,
                    "key" => FieldName::Key,
                    "value" => FieldName::Value,
                    "old_value" => FieldName::OldValue,
                    "headers" => FieldName::Headers,
                    other => FieldName::Other(other.to_owned()),
                })
            }
        }
        d.deserialize_identifier(NameVisitor)
    }
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
                FieldName::Headers => f.headers = Some(raw()?),
                FieldName::Other(name) => f.others.push((name, raw()?)),
            }
        }
        Ok(Element::Object(f))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Element::NotObject(Value::String(String::new())))
    }

    stand_ins!(Element::NotObject);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Headers<'a> {
    #[serde(borrow)]
    operation: Cow<'a, str>,
    #[serde(default, deserialize_with = "present_string")]
    txid: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    timestamp: Option<String>,
}

/// Keeps `null` an error: an optional header, when present, is a string.
fn present_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// The change an element describes, if it is valid under every profile; otherwise the
/// `Value` the element was (see [`Fields::into_value`]), for the parser to judge.
pub(crate) fn decode<'a>(
    element: Element<'a>,
    rules: &ParseRules,
) -> Result<DecodedChange<'a>, Value> {
    let fields = match element {
        Element::Object(fields) => fields,
        Element::NotObject(stand_in) => return Err(stand_in),
    };
    let Some((operation, txid)) = well_formed(&fields, rules) else {
        return Err(fields.into_value());
    };
    match fields {
        Fields {
            entity_type: Some(Text::Str(entity_type)),
            key: Some(Text::Str(key)),
            value,
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

/// The operation and txid of a change valid under every profile; `None` for anything else.
fn well_formed(f: &Fields<'_>, rules: &ParseRules) -> Option<(Operation, Option<String>)> {
    if !f.others.is_empty() {
        return None;
    }
    let entity_type = f.entity_type.as_ref()?.as_str()?;
    let key = f.key.as_ref()?.as_str()?;
    let headers: Headers<'_> = serde_json::from_str(f.headers?.get()).ok()?;
    let operation = Operation::from_spec_name(&headers.operation)?;
    let well_formed = !entity_type.is_empty()
        && !key.is_empty()
        && (f.value.is_some() || !operation.requires_value())
        && headers.txid.as_deref().is_none_or(|t| !t.is_empty())
        && headers
            .timestamp
            .as_deref()
            .is_none_or(|t| !rules.enforce_rfc3339 || crate::schema::is_rfc3339(t));
    well_formed.then_some((operation, headers.txid))
}

/// What reading one element gave: a change to apply, or the value for the parser to judge.
pub(crate) type Decoded<'a> = Result<DecodedChange<'a>, Value>;

/// Bodies smaller than this are read on one thread.
pub(crate) const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// A body cut in two self-contained arrays at a candidate element boundary.
pub(crate) struct Halves {
    first: String,
    second: String,
}

impl Halves {
    /// Cuts `body` at the first `}` `,` `{` (whitespace allowed) after its middle, if any;
    /// the two copies are made on two threads.
    pub(crate) fn cut(body: &str) -> Option<Halves> {
        let bytes = body.as_bytes();
        let is_space = |b: &u8| b" \t\r\n".contains(b);
        let comma = (bytes.len() / 2..bytes.len()).find(|&i| {
            bytes[i] == b','
                && bytes[..i].iter().rev().find(|b| !is_space(b)) == Some(&b'}')
                && bytes[i + 1..].iter().find(|b| !is_space(b)) == Some(&b'{')
        })?;
        let mut first = String::with_capacity(comma + 1);
        let mut second = String::with_capacity(body.len() - comma);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                second.push('[');
                second.push_str(&body[comma + 1..]);
            });
            first.push_str(&body[..comma]);
            first.push(']');
        });
        Some(Halves { first, second })
    }

    /// Both halves read and decoded on two threads; `None` if either is not a complete array.
    pub(crate) fn read<'a>(&'a self, rules: &ParseRules) -> Option<[Vec<Decoded<'a>>; 2]> {
        std::thread::scope(|scope| {
            let second = scope.spawn(|| read(&self.second, rules));
            let first = read(&self.first, rules);
            let second = second.join().ok()?;
            Some([first.ok()?, second.ok()?])
        })
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

    #[test]
    fn a_clean_cut_reads_both_halves_as_the_whole_body_reads() {
        let body = body(20_000, "plain");
        let halves = Halves::cut(&body).expect("a compact body has a boundary after its middle");
        let [first, second] = halves
            .read(&rules())
            .expect("both halves are complete arrays");
        let whole = read(&body, &rules()).unwrap();
        assert_eq!(first.len() + second.len(), whole.len());
        let keys = |d: &Decoded<'_>| d.as_ref().map(|c| c.key.to_string()).unwrap_or_default();
        let split_keys: Vec<String> = first.iter().chain(&second).map(keys).collect();
        assert_eq!(split_keys, whole.iter().map(keys).collect::<Vec<_>>());
    }

    #[test]
    fn a_cut_inside_a_string_is_detected_and_refused() {
        // Every value holds `},{`, so the first candidate after the middle is inside a string.
        let body = body(20_000, "x},{y");
        let halves = Halves::cut(&body).expect("a candidate exists");
        assert!(
            halves.read(&rules()).is_none(),
            "a cut inside a string must not be accepted"
        );
    }
}
