//! Reading input files safely: every file the runner reads (cases, catalogues, bundles,
//! expectations, reports, dumps) is bounded in size, so `/dev/zero` or a runaway file is a
//! clear error instead of memory running out; and a path named inside a file (an export's
//! index) is confined to that file's directory.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The largest input file read: far above any corpus file or dump seen, far below memory.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: larger than {limit} MiB, the most an input file may hold", limit = MAX_INPUT_BYTES >> 20)]
    TooLarge { path: String },
    #[error("{path}: not valid UTF-8")]
    NotText { path: String },
    #[error("`{named}` (named in {within}) is outside {dir}")]
    Outside {
        named: String,
        within: String,
        dir: String,
    },
}

/// The bytes of `path`, at most [`MAX_INPUT_BYTES`] of them.
pub fn read(path: &Path) -> Result<Vec<u8>, InputError> {
    let shown = || path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| InputError::Io {
        path: shown(),
        reason: e.to_string(),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::Io {
            path: shown(),
            reason: e.to_string(),
        })?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge { path: shown() });
    }
    Ok(bytes)
}

/// The text of `path` (UTF-8), at most [`MAX_INPUT_BYTES`].
pub fn read_text(path: &Path) -> Result<String, InputError> {
    String::from_utf8(read(path)?).map_err(|_| InputError::NotText {
        path: path.display().to_string(),
    })
}

/// `dir/named`, if `named` (a relative path written in the file `within`) stays inside
/// `dir`: no absolute path, no `..`, and no symbolic link leading out.
pub fn confined(dir: &Path, named: &str, within: &Path) -> Result<PathBuf, InputError> {
    let outside = || InputError::Outside {
        named: named.to_owned(),
        within: within.display().to_string(),
        dir: dir.display().to_string(),
    };
    let relative = Path::new(named);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(outside());
    }
    let joined = dir.join(relative);
    // A link inside the directory could still lead out: compare the resolved paths.
    if let (Ok(real_dir), Ok(real)) = (dir.canonicalize(), joined.canonicalize())
        && !real.starts_with(&real_dir)
    {
        return Err(outside());
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_is_refused_at_the_bound() {
        let err = read(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("256 MiB"), "{err}");
    }

    #[test]
    fn paths_named_in_a_file_stay_in_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), "{}").unwrap();
        let index = dir.path().join("index.json");
        assert!(confined(dir.path(), "a.json", &index).is_ok());
        assert!(confined(dir.path(), "./a.json", &index).is_ok());
        for bad in ["../../etc/passwd", "/dev/zero", "x/../../a.json"] {
            let err = confined(dir.path(), bad, &index).unwrap_err();
            assert!(err.to_string().contains("is outside"), "{bad}: {err}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", dir.path().join("out")).unwrap();
            assert!(confined(dir.path(), "out/passwd", &index).is_err());
        }
    }
}
