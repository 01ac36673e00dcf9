//! A dump read message by message: a JSON array (its elements one at a time, never the whole
//! array in memory), or JSON values one after another (one message, or one per line:
//! NDJSON).

use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;

use super::judge::{LintError, not_messages};

/// Hands each message of the dump at `path` to `each`, in order, as it is parsed.
pub fn each_message(path: &Path, each: &mut dyn FnMut(Value)) -> Result<(), LintError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| LintError::Read {
        target: shown.clone(),
        reason: e.to_string(),
    })?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    match first_byte(&mut reader).map_err(|e| LintError::Read {
        target: shown.clone(),
        reason: e.to_string(),
    })? {
        Some(b'[') => {
            let mut de = serde_json::Deserializer::from_reader(reader);
            de.deserialize_seq(Elements(each))
                .and_then(|()| de.end())
                .map_err(|e| not_messages(&shown, format!("not a JSON array of messages: {e}")))
        }
        Some(_) => {
            for (n, message) in serde_json::Deserializer::from_reader(reader)
                .into_iter::<Value>()
                .enumerate()
            {
                let message = message
                    .map_err(|e| not_messages(&shown, format!("message #{n} is not JSON: {e}")))?;
                each(message);
            }
            Ok(())
        }
        None => Err(not_messages(&shown, "empty: no message")),
    }
}

/// The first byte that is not whitespace, left unread.
fn first_byte(reader: &mut impl BufRead) -> std::io::Result<Option<u8>> {
    loop {
        let buffer = reader.fill_buf()?;
        let Some(at) = buffer.iter().position(|b| !b.is_ascii_whitespace()) else {
            if buffer.is_empty() {
                return Ok(None);
            }
            let n = buffer.len();
            reader.consume(n);
            continue;
        };
        let byte = buffer[at];
        reader.consume(at);
        return Ok(Some(byte));
    }
}

/// Each element of the array handed on as it is parsed.
struct Elements<'a>(&'a mut dyn FnMut(Value));

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(message) = seq.next_element::<Value>()? {
            (self.0)(message);
        }
        Ok(())
    }
}
