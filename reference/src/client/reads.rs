//! One read of a subscription: a catch-up or long-poll request (the cursor echoed), or an
//! SSE connection whose data is committed only with the `control` event after it; each
//! response's status and headers checked into a position or a read error.

use super::*;

impl Reader {
    /// One catch-up or long-poll request.
    pub(super) async fn read_once(&mut self) -> Result<Flow, ReadError> {
        let mut url = format!("{}?offset={}", self.url, self.offset);
        if self.caught_up && matches!(self.live, Live::LongPoll | Live::Auto) {
            url.push_str("&live=long-poll");
            if let Some(cursor) = self
                .cursor
                .as_ref()
                .filter(|_| self.mutant != Some(Mutant::NoCursorEcho))
            {
                url.push_str(&format!("&cursor={cursor}"));
            }
        }
        let response = self.http.get(&url).send().await.map_err(transport)?;
        let at = check(&response)?;
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return self.commit(Vec::new(), at);
        }
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(_) if self.mutant == Some(Mutant::CommitBeforeBody) => {
                self.offset = at.next.unwrap_or_else(|| self.offset.clone());
                return Ok(Flow::Continue);
            }
            Err(e) => return Err(transport(e)),
        };
        let items: Vec<Value> = serde_json::from_slice(&body)
            .map_err(|e| ReadError::Stop(format!("a read's body is not a JSON array: {e}")))?;
        self.commit(items, at)
    }

    /// One SSE connection, read until it ends (the last cursor echoed, PROTOCOL §10.1).
    pub(super) async fn read_sse(&mut self) -> Result<Flow, ReadError> {
        let mut url = match self.mutant {
            Some(Mutant::SseOffsetOmitted) => format!("{}?live=sse", self.url),
            _ => format!("{}?offset={}&live=sse", self.url, self.offset),
        };
        let echo = !matches!(
            self.mutant,
            Some(Mutant::NoCursorEcho | Mutant::SseCursorNotEchoed)
        );
        if let Some(cursor) = self.cursor.as_ref().filter(|_| echo) {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let response = self.http.get(&url).send().await.map_err(transport)?;
        check(&response)?;
        let mut events = response.bytes_stream().eventsource();
        // Data is applied only with the control event that follows it: a connection lost in
        // between drops it, and the next connection re-reads it from the committed offset.
        let mut pending: Vec<Value> = Vec::new();
        let started_at = self.offset.clone();
        while let Some(event) = events.next().await {
            let event = event.map_err(|_| ReadError::Transport)?;
            match event.event.as_str() {
                "data" if self.mutant == Some(Mutant::SseDataLinesSplit) => {
                    let lines = event.data.lines();
                    pending.extend(
                        lines
                            .filter_map(|l| serde_json::from_str::<Vec<Value>>(l).ok())
                            .flatten(),
                    );
                }
                "data" => {
                    // The event's `data:` lines, joined with newlines (§5.8).
                    let items: Vec<Value> = serde_json::from_str(&event.data).map_err(|e| {
                        ReadError::Stop(format!("an SSE data event is not a JSON array: {e}"))
                    })?;
                    if self.mutant == Some(Mutant::SseDataBeforeControl) {
                        // Applied now, committed (offset) only with the control event.
                        self.m.apply_batch(Batch {
                            items,
                            offset: None,
                            up_to_date: false,
                        });
                        let seen = self.m.observe();
                        self.progress.send_modify(|p| p.observation = seen);
                    } else {
                        pending.extend(items);
                    }
                }
                "control" => {
                    let control: SseControl = serde_json::from_str(&event.data).map_err(|e| {
                        ReadError::Stop(format!("an SSE control event is malformed: {e}"))
                    })?;
                    let at = Position {
                        next: Some(control.stream_next_offset),
                        cursor: control.stream_cursor,
                        up_to_date: control.up_to_date,
                        closed: control.stream_closed,
                    };
                    match self.commit(std::mem::take(&mut pending), at)? {
                        Flow::Continue => {}
                        // Done, or a reset moved reading: reconnect there.
                        other => return Ok(other),
                    }
                }
                _ => {}
            }
        }
        // The server ended the connection: reconnect from the committed offset, after a pause
        // if reading got no further on it, as after a failure.
        Ok(match self.offset == started_at {
            true => Flow::Quiet,
            false => Flow::Continue,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SseControl {
    stream_next_offset: String,
    #[serde(default)]
    stream_cursor: Option<String>,
    #[serde(default)]
    up_to_date: bool,
    #[serde(default)]
    stream_closed: bool,
}

pub(super) fn transport(_: reqwest::Error) -> ReadError {
    ReadError::Transport
}

pub(super) fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The status and position headers of a read's response.
pub(super) fn check(response: &reqwest::Response) -> Result<Position, ReadError> {
    let status = response.status().as_u16();
    match status {
        200 | 204 => Ok(Position {
            next: header(response, "stream-next-offset"),
            cursor: header(response, "stream-cursor"),
            up_to_date: header(response, "stream-up-to-date").is_some_and(|v| v != "false"),
            closed: header(response, "stream-closed").is_some_and(|v| v == "true"),
        }),
        410 => Err(ReadError::Gone),
        429 | 500..=599 => Err(ReadError::Retry {
            after: header(response, "retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        }),
        404 => Err(ReadError::Stop("the stream does not exist (404)".into())),
        other => Err(ReadError::Stop(format!("a read answered {other}"))),
    }
}
