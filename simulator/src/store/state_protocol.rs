//! The State-Protocol actions a simulator applies to a JSON stream (reset, snapshot,
//! compaction behind a snapshot) and the log they are judged from: the control messages
//! they append, the snapshot of the current state, and messages as written or as served
//! (with `headers.offset`).

use super::model::*;

use bytes::Bytes;

use crate::offset::Offset;

impl Stream {
    /// snapshot-start, an insert for every entity the stream materializes to (reference
    /// materializer, default profile), snapshot-end. The stored log is read in one pass, so a
    /// reset is followed by what comes after it, except what a reset's offset skips.
    pub(super) fn snapshot_messages(&self) -> Vec<Bytes> {
        use state_reference::profile::ResetOffset;
        use state_reference::{Batch, Collection, Materializer, Profile};
        let mut resume = self.earliest;
        let mut items = Vec::new();
        for c in &self.chunks {
            if c.start < resume {
                continue;
            }
            let Ok(item) = serde_json::from_slice::<serde_json::Value>(&c.data) else {
                continue;
            };
            if let Some(to) = reset_offset(&item) {
                resume = resume.max(to);
            }
            items.push(item);
        }
        let mut profile = Profile::default_profile();
        profile.reset_offset = ResetOffset::Continue;
        let mut m = Materializer::new(profile);
        m.apply_batch(Batch {
            items,
            offset: None,
            up_to_date: true,
        });
        let mut out = vec![control_message("snapshot-start", None)];
        for (entity_type, entities) in m.observe().state {
            let collection = Collection::new(entity_type.clone(), entity_type, "id");
            for (key, value) in entities {
                if let Ok(change) = collection.insert(value).key(key).build() {
                    out.push(Bytes::from(change.to_value().to_string()));
                }
            }
        }
        out.push(control_message("snapshot-end", None));
        out
    }

    /// Position of the last snapshot-start control message, if any.
    pub(super) fn last_snapshot_start(&self) -> Option<u64> {
        self.chunks
            .iter()
            .rev()
            .find(|c| is_control(&c.data, "snapshot-start"))
            .map(|c| c.start)
    }
}

impl Store {
    /// Applies a state-level or lifecycle action; returns the stream's new tail.
    pub fn act(&self, path: &str, action: &Action) -> Result<Offset, Refusal> {
        if *action == Action::Delete {
            return self.delete(path).map(|()| Offset(0));
        }
        let mut map = self.lock();
        let stream = Self::direct(&mut map, path)?;
        if *action == Action::Close {
            stream.closed = true;
            stream.notify();
            return Ok(Offset(stream.tail));
        }
        if !stream.json {
            return Err(Refusal::new(
                409,
                "state-level actions need an application/json stream",
            ));
        }
        if stream.closed {
            return Err(Refusal::new(409, "the stream is closed"));
        }
        match action {
            Action::Reset {
                offset,
                snapshot,
                skip,
            } => {
                let snapshot_messages = if *snapshot {
                    stream.snapshot_messages()
                } else {
                    Vec::new()
                };
                let skipped: Vec<Bytes> = skip.iter().map(|m| Bytes::from(m.to_string())).collect();
                // The reset names the offset right after itself and what it skips: where the
                // new state begins. Offsets are fixed-width, so its length does not depend on
                // the value.
                let own_len = control_message("reset", Some(Offset(0))).len() as u64;
                let skipped_len: u64 = skipped.iter().map(|m| m.len() as u64).sum();
                let reset = control_message(
                    "reset",
                    offset.then(|| Offset(stream.tail + own_len + skipped_len)),
                );
                stream.push(vec![reset]);
                stream.push(skipped);
                stream.push(snapshot_messages);
            }
            Action::Snapshot => {
                let messages = stream.snapshot_messages();
                stream.push(messages);
            }
            Action::Compact => {
                let start = match stream.last_snapshot_start() {
                    Some(start) => start,
                    None => {
                        let start = stream.tail;
                        let messages = stream.snapshot_messages();
                        stream.push(messages);
                        start
                    }
                };
                stream.earliest = start;
            }
            Action::Close | Action::Delete => {}
        }
        stream.notify();
        Ok(Offset(stream.tail))
    }

    /// Every retained message of a JSON stream with its own and its successor's offset (what
    /// a fresh reader from the beginning would be served), optionally in served form.
    pub fn log(&self, path: &str, served_offsets: bool) -> Result<Log, Refusal> {
        let mut map = self.lock();
        let stream = Self::direct(&mut map, path)?;
        let messages = stream
            .chunks
            .iter()
            .filter(|c| c.start >= stream.earliest)
            .map(|c| Logged {
                offset: Offset(c.start),
                next: Offset(c.start + c.data.len() as u64),
                data: match served_offsets && stream.json {
                    true => with_served_offset(&c.data, Offset(c.start)),
                    false => c.data.clone(),
                },
            })
            .collect();
        Ok(Log {
            messages,
            earliest: Offset(stream.earliest),
            meta: stream.meta(),
        })
    }
}

pub(super) fn control_message(control: &str, offset: Option<Offset>) -> Bytes {
    let headers = match offset {
        Some(o) => serde_json::json!({"control": control, "offset": o.to_string()}),
        None => serde_json::json!({"control": control}),
    };
    Bytes::from(serde_json::json!({"headers": headers}).to_string())
}

/// The position a reset names, if `item` is a reset naming one this store wrote.
pub(super) fn reset_offset(item: &serde_json::Value) -> Option<u64> {
    if item.pointer("/headers/control")?.as_str()? != "reset" {
        return None;
    }
    Offset::parse(item.pointer("/headers/offset")?.as_str()?).map(|o| o.0)
}

pub(super) fn is_control(message: &[u8], control: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(message)
        .ok()
        .is_some_and(|v| v.pointer("/headers/control").and_then(|c| c.as_str()) == Some(control))
}

/// The message with `headers.offset` set to its own offset, if it has a headers object.
pub(super) fn with_served_offset(message: &Bytes, offset: Offset) -> Bytes {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(message) else {
        return message.clone();
    };
    match value.get_mut("headers").and_then(|h| h.as_object_mut()) {
        Some(headers) => {
            headers.insert("offset".into(), offset.to_string().into());
            Bytes::from(value.to_string())
        }
        None => message.clone(),
    }
}
