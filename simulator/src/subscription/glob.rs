//! Subscription patterns (PROTOCOL §6.2): globs over stream-root-relative paths, where `*`
//! stands for one path segment (or, inside a segment, any run of its characters) and a `**`
//! segment for any number of segments, none included.

/// Whether `path` matches `pattern`.
pub(crate) fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments(&pattern, &path)
}

fn segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments(rest, &path[skip..])),
        Some((first, rest)) => path
            .split_first()
            .is_some_and(|(segment, tail)| within(first, segment) && segments(rest, tail)),
    }
}

/// One segment against one pattern segment, `*` matching any run of characters.
fn within(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            let Some(text) = text.strip_prefix(prefix) else {
                return false;
            };
            (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .any(|i| within(rest, &text[i..]))
        }
    }
}

/// A stream path as subscriptions name it: no leading or trailing slash.
pub(crate) fn normalize(path: &str) -> String {
    path.trim_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_is_one_segment_and_a_double_star_any_number() {
        let cases = [
            ("events/*", "events/abc", true),
            ("events/*", "events/a/b", false),
            ("events/*", "events", false),
            ("events/**", "events", true),
            ("events/**", "events/a/b", true),
            ("**/log", "a/b/log", true),
            ("**/log", "log", true),
            ("events/evt-*", "events/evt-1", true),
            ("events/evt-*", "events/other", false),
            ("a/*/c", "a/b/c", true),
            ("a/*/c", "a/b/d", false),
            ("exact/path", "exact/path", true),
            ("exact/path", "exact/pat", false),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(matches(pattern, path), expected, "{pattern} ~ {path}");
        }
    }
}
