//! Offsets (PROTOCOL §8): opaque, fixed-width, lexicographically increasing tokens.
//!
//! An offset here is `EEEEEEEEEEEEEEEE_PPPPPPPPPPPPPPPP`: a 16-digit epoch (always 0 for now)
//! and a 16-digit position (bytes stored before it), so string order is stream order. The
//! sentinels `-1` (beginning) and `now` (tail) are never generated.

use std::fmt;

/// A position in a stream, as bytes stored before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Offset(pub u64);

/// What a client may send as `offset=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedOffset {
    /// `-1` or absent: the beginning.
    Beginning,
    /// `now`: the tail at the time of the request.
    Now,
    At(Offset),
}

const WIDTH: usize = 16;

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0WIDTH$}_{:0WIDTH$}", 0, self.0)
    }
}

impl Offset {
    /// Parses an offset this server generated; `None` for anything else.
    pub fn parse(text: &str) -> Option<Offset> {
        let (epoch, position) = text.split_once('_')?;
        let digits = |s: &str| s.len() == WIDTH && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(epoch) || !digits(position) || epoch != "0000000000000000" {
            return None;
        }
        position.parse().ok().map(Offset)
    }
}

impl RequestedOffset {
    /// Parses the `offset` query parameter (absent means the beginning).
    pub fn parse(param: Option<&str>) -> Option<RequestedOffset> {
        match param {
            None | Some("-1") => Some(RequestedOffset::Beginning),
            Some("now") => Some(RequestedOffset::Now),
            Some(text) => Offset::parse(text).map(RequestedOffset::At),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_sort_as_positions_and_round_trip() {
        let (a, b) = (Offset(9), Offset(10));
        assert!(a.to_string() < b.to_string());
        assert_eq!(Offset::parse(&b.to_string()), Some(b));
        assert_eq!(a.to_string(), "0000000000000000_0000000000000009");
    }

    #[test]
    fn malformed_offsets_are_refused() {
        for bad in [
            "",
            "abc",
            "0_1",
            "0000000000000000-0000000000000001",
            "0000000000000001_0000000000000001",
            "0000000000000000_00000000000000x1",
        ] {
            assert_eq!(RequestedOffset::parse(Some(bad)), None, "{bad}");
        }
        assert_eq!(
            RequestedOffset::parse(None),
            Some(RequestedOffset::Beginning)
        );
        assert_eq!(
            RequestedOffset::parse(Some("now")),
            Some(RequestedOffset::Now)
        );
    }
}
