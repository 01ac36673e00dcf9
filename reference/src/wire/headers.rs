//! The fields an element is read into: `Text` (a `type`, `key` or header value, borrowed
//! unless escaped) and a message's `headers`, read once in the element pass: typed when they
//! are a change's three (operation, txid, timestamp), else the whole value as `Value` reads
//! it, the last repeat winning. Reads nothing from the module above (its macros are text).

use std::borrow::Cow;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A `type`, `key` or header field: its string, borrowed unless escaped, or any other value
/// whole (what the parser judges; rare, so built as `Value` would build it).
pub(crate) enum Text<'a> {
    Str(Cow<'a, str>),
    NotStr(Value),
}

impl Text<'_> {
    pub(super) fn into_value(self) -> Value {
        match self {
            Text::Str(s) => Value::String(s.into_owned()),
            Text::NotStr(value) => value,
        }
    }

    pub(super) fn as_str(&self) -> Option<&str> {
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

field_names! {
    /// A header's name.
    HeaderName { Operation => "operation", Txid => "txid", Timestamp => "timestamp" }
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
    pub(super) fn into_value(self) -> Value {
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
