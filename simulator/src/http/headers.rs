//! Request headers read as the protocol means them, and the cursor a live response carries
//! (PROTOCOL §10.1): what every kind of request shares.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;

use crate::store::Refusal;

pub(super) fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A header whose value must be text when present: a value that is not visible ASCII is
/// refused rather than taken as absent (a non-ASCII `Stream-Seq` would otherwise skip the
/// ordering check).
pub(super) fn text_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h str>, Refusal> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| Refusal::new(400, format!("{name} must be visible ASCII"))),
    }
}

/// `Stream-Closed` counts only when exactly `true`, case-insensitively (§4.1).
pub(super) fn closed_flag(headers: &HeaderMap) -> bool {
    header(headers, "stream-closed").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The cursor for live responses (§10.1): 20-second intervals since 2024-10-09, always
/// ahead of the one the client echoed.
pub(super) fn cursor(echoed: Option<&str>) -> u64 {
    const EPOCH: u64 = 1_728_432_000; // 2024-10-09T00:00:00Z
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let current = now.as_secs().saturating_sub(EPOCH) / 20;
    match echoed.and_then(|c| c.parse::<u64>().ok()) {
        Some(c) if c >= current => c + 1 + u64::from(now.subsec_nanos()) % 180,
        _ => current,
    }
}
