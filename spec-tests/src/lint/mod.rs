//! `check`: lint what is in a stream. Every message of a stream URL (read from its beginning,
//! as the server serves it) or of a dump (a JSON array of messages, or messages one after
//! another, as NDJSON has them; as written) is judged twice: as written, and as served, since servers add
//! `headers.offset` to change messages (the upstream reference server does) and the schema
//! forbids that field.
//!
//! Messages are judged as they are read and then dropped, so memory stays a small multiple
//! of the largest message (or, for a URL, of the largest read), whatever the stream's size.

mod dump;
mod judge;
mod url;

use state_reference::{ParseRules, Profile};

pub use dump::each_message;
use judge::Judge;
pub use judge::{LintError, Linted, Place, Tally};
pub use url::ReadOptions;

/// Lints `target` (a URL or a file) under `profile`, message by message, handing each
/// verdict to `each` as it is made. A URL is read as `options` say.
pub fn lint(
    target: &str,
    profile: &Profile,
    options: &ReadOptions,
    each: &mut dyn FnMut(Linted),
) -> Result<Tally, LintError> {
    let mut judge = Judge {
        rules: ParseRules::from_profile(profile),
        tally: Tally::default(),
        each,
    };
    match scheme(target) {
        Some("http" | "https") => url::read(target, options, &mut judge)?,
        Some(other) => {
            return Err(LintError::Scheme {
                target: target.to_owned(),
                scheme: other.to_owned(),
            });
        }
        None => dump::each_message(std::path::Path::new(target), &mut |message| {
            judge.judge(message, Place::Dump, false);
        })?,
    }
    Ok(judge.tally)
}

/// The scheme of a target written as a URL (`ftp` in `ftp://host/x`), if it is one.
fn scheme(target: &str) -> Option<&str> {
    let (scheme, _) = target.split_once("://")?;
    let mut chars = scheme.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    well_formed.then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_schemes_make_a_target_a_url() {
        assert_eq!(scheme("https://h/s"), Some("https"));
        assert_eq!(scheme("ftp://h/s"), Some("ftp"));
        assert_eq!(scheme("git+ssh://h/s"), Some("git+ssh"));
        assert_eq!(scheme("dump.json"), None);
        assert_eq!(scheme("./odd://name.json"), None);
        assert_eq!(scheme("C:\\dumps\\a.json"), None);
    }
}
