//! Where a corpus is read from: the one embedded in the binary when it was built (so an
//! installed binary runs the suite from any directory), or a fixtures directory.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::LoadError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_fixtures.rs"));
}

/// The environment variable naming a fixtures directory, used when `--fixtures` is not given.
pub const FIXTURES_ENV: &str = "STATE_CONFORMANCE_FIXTURES";

/// A corpus source: the catalogue, tombstones and cases, embedded or in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fixtures {
    Embedded,
    Dir(PathBuf),
}

/// One corpus file: the path messages name, and its text.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    pub path: PathBuf,
    pub text: Cow<'static, str>,
}

impl Default for Fixtures {
    /// `$STATE_CONFORMANCE_FIXTURES` when set, else the embedded corpus.
    fn default() -> Fixtures {
        Fixtures::chosen(None)
    }
}

impl Fixtures {
    /// `dir` when given (`--fixtures`), else `$STATE_CONFORMANCE_FIXTURES`, else embedded.
    pub fn chosen(dir: Option<PathBuf>) -> Fixtures {
        match dir.or_else(|| std::env::var_os(FIXTURES_ENV).map(PathBuf::from)) {
            Some(dir) => Fixtures::Dir(dir),
            None => Fixtures::Embedded,
        }
    }

    /// The directory, when the corpus is one (only a directory can be written to).
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Fixtures::Embedded => None,
            Fixtures::Dir(dir) => Some(dir),
        }
    }

    /// The file at `name` (relative to the fixtures root, `/`-separated).
    pub fn read(&self, name: &str) -> Result<CorpusFile, LoadError> {
        match self {
            Fixtures::Embedded => embedded::FILES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(n, text)| embedded_file(n, text))
                .ok_or_else(|| {
                    let path = embedded_path(name);
                    LoadError::io(&path, std::io::ErrorKind::NotFound.into())
                }),
            Fixtures::Dir(dir) => {
                let path = dir.join(name);
                let text = crate::input::read_text(&path)?;
                Ok(CorpusFile {
                    path,
                    text: Cow::Owned(text),
                })
            }
        }
    }

    /// Every case file (`cases/*.json`), in file-name order.
    pub fn cases(&self) -> Result<Vec<CorpusFile>, LoadError> {
        match self {
            Fixtures::Embedded => Ok(embedded::FILES
                .iter()
                .filter(|(n, _)| n.starts_with("cases/") && n.ends_with(".json"))
                .map(|(n, text)| embedded_file(n, text))
                .collect()),
            Fixtures::Dir(dir) => {
                let dir = dir.join("cases");
                let entries = std::fs::read_dir(&dir).map_err(|e| LoadError::io(&dir, e))?;
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                paths.sort();
                paths
                    .into_iter()
                    .map(|path| {
                        let text = crate::input::read_text(&path)?;
                        Ok(CorpusFile {
                            path,
                            text: Cow::Owned(text),
                        })
                    })
                    .collect()
            }
        }
    }
}

impl fmt::Display for Fixtures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fixtures::Embedded => f.write_str("the corpus embedded in this binary"),
            Fixtures::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

fn embedded_path(name: &str) -> PathBuf {
    Path::new("<embedded fixtures>").join(name)
}

fn embedded_file(name: &str, text: &'static str) -> CorpusFile {
    CorpusFile {
        path: embedded_path(name),
        text: Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_corpus_is_the_fixtures_directory() {
        let dir = Fixtures::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"));
        let embedded = Fixtures::Embedded;
        let names = |f: &Fixtures| -> Vec<(String, String)> {
            f.cases()
                .unwrap()
                .into_iter()
                .map(|c| {
                    let name = c.path.file_name().unwrap().to_string_lossy().into_owned();
                    (name, c.text.into_owned())
                })
                .collect()
        };
        assert_eq!(names(&embedded), names(&dir));
        assert!(names(&embedded).len() > 100);
        for name in ["requirements.json", "tombstones.json", "case.schema.json"] {
            assert_eq!(
                embedded.read(name).unwrap().text,
                dir.read(name).unwrap().text
            );
        }
        let missing = embedded.read("nope.json").unwrap_err().to_string();
        assert!(
            missing.contains("<embedded fixtures>/nope.json"),
            "{missing}"
        );
    }
}
