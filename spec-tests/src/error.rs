//! Errors loading the suite's own inputs, each naming the file and the JSON path at fault.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{}: not valid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: at {pointer}: {reason}", path.display())]
    Invalid {
        path: PathBuf,
        pointer: String,
        reason: String,
    },
}

impl LoadError {
    pub fn io(path: &Path, source: std::io::Error) -> LoadError {
        LoadError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub fn json(path: &Path, source: serde_json::Error) -> LoadError {
        LoadError::Json {
            path: path.to_owned(),
            source,
        }
    }

    pub fn invalid(
        path: &Path,
        pointer: impl Into<String>,
        reason: impl Into<String>,
    ) -> LoadError {
        let pointer = pointer.into();
        let pointer = if pointer.is_empty() {
            "/".to_owned()
        } else {
            pointer
        };
        LoadError::Invalid {
            path: path.to_owned(),
            pointer,
            reason: reason.into(),
        }
    }
}
