//! What one read told its reader about where it stands: the position headers of a complete
//! catch-up or long-poll response, or the last whole `control` event of an SSE response (a
//! trailing event cut before its blank line does not count). The simulator's view of a
//! reader (`activity.rs`) and the runner's request rules read it the same way, from here.

use serde_json::Value;

use crate::transcript::Exchange;

/// Where a read told its reader it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    /// `Stream-Next-Offset` (SSE: `streamNextOffset`).
    pub offset: String,
    /// `Stream-Cursor` (SSE: `streamCursor`), when sent.
    pub cursor: Option<String>,
    pub up_to_date: bool,
    pub closed: bool,
}

/// A response as recorded, whatever holds it.
pub(crate) struct Response<'r> {
    pub status: u16,
    /// Sent in full (not cut, not still streaming).
    pub complete: bool,
    pub header: &'r dyn Fn(&str) -> Option<&'r str>,
    pub body: &'r str,
}

/// What `r` told its reader, if anything (see the module).
pub(crate) fn told(r: &Response<'_>) -> Option<Told> {
    let sse = (r.header)("content-type").is_some_and(|v| v.starts_with("text/event-stream"));
    if sse {
        let control = last_control_event(r.body)?;
        let field = |name: &str| control.get(name);
        let flag = |name: &str| field(name).and_then(Value::as_bool) == Some(true);
        return Some(Told {
            offset: field("streamNextOffset")?.as_str()?.to_owned(),
            cursor: field("streamCursor")
                .and_then(Value::as_str)
                .map(str::to_owned),
            up_to_date: flag("upToDate"),
            closed: flag("streamClosed"),
        });
    }
    if !r.complete || !matches!(r.status, 200 | 204) {
        return None;
    }
    let flag = |name: &str| (r.header)(name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    Some(Told {
        offset: (r.header)("stream-next-offset")?.to_owned(),
        cursor: (r.header)("stream-cursor").map(str::to_owned),
        up_to_date: flag("stream-up-to-date"),
        closed: flag("stream-closed"),
    })
}

impl Exchange {
    /// What this read told its reader about where it stands, if anything.
    pub fn told(&self) -> Option<Told> {
        let header = |name: &str| {
            self.response_headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let body = if self.response_body.base64 {
            ""
        } else {
            &self.response_body.text
        };
        told(&Response {
            status: self.status,
            complete: self.finished && self.cut.is_none(),
            header: &header,
            body,
        })
    }

    /// The messages this read served: its JSON array body, or the arrays of its SSE
    /// connection's complete data events; none when a body does not parse (a cut one).
    pub fn served_items(&self) -> Vec<Value> {
        let text = &self.response_body.text;
        let arrays: Vec<String> = match self.is_sse() {
            true => events(text)
                .filter(|(kind, _)| *kind == "data")
                .map(|(_, data)| data)
                .collect(),
            false => vec![text.clone()],
        };
        arrays
            .iter()
            .filter_map(|a| serde_json::from_str::<Vec<Value>>(a).ok())
            .flatten()
            .collect()
    }

    /// Whether this read is an SSE connection (by its response's content type).
    pub fn is_sse(&self) -> bool {
        self.response_headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"))
    }
}

/// The payload of the last complete `control` event in an SSE body (`event:` then `data:`
/// lines, a blank line ending the event; several `data:` lines are joined with newlines).
fn last_control_event(body: &str) -> Option<Value> {
    events(body)
        .filter(|(kind, _)| *kind == "control")
        .filter_map(|(_, data)| serde_json::from_str(&data).ok())
        .last()
}

/// The complete events of an SSE body, as (kind, data): an event's `data:` lines joined with
/// newlines (one leading space stripped), a trailing event cut before its blank line left out.
fn events(body: &str) -> impl Iterator<Item = (&str, String)> {
    let complete = &body[..body.rfind("\n\n").map_or(0, |end| end + 2)];
    complete.split("\n\n").filter_map(|event| {
        let mut lines = event.lines();
        let kind = lines.next()?.strip_prefix("event:")?.trim();
        let data: Vec<&str> = lines
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect();
        Some((kind, data.join("\n")))
    })
}
