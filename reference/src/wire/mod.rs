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

use serde::de::value::SeqAccessDeserializer;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::message::{ChangeMessage, Operation, ParseRules};

pub(crate) mod halves;

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

/// What reading one element gave: a change to apply, or the value for the parser to judge.
pub(crate) type Decoded<'a> = Result<DecodedChange<'a>, Value>;

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

mod headers;

use headers::{HeadersField, Text};

#[cfg(test)]
mod tests;
