//! A large body read on two threads, in place: cut at a candidate element boundary near its
//! middle, each part read as its piece of the top-level array, the array's own punctuation
//! checked here (see the module above for why the parts read what the whole does).

use super::*;

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
pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Which part of a top-level array a text is.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Part {
    /// `[` and one or more elements separated by commas, ending right after an element.
    Opening,
    /// One or more elements separated by commas, then `]` and nothing but whitespace.
    Rest,
}

/// Reads `text` as `part` of an array, each element decoded as it is read.
pub(super) fn read_part<'a>(
    text: &'a str,
    rules: &ParseRules,
    part: Part,
) -> Option<Vec<Decoded<'a>>> {
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
