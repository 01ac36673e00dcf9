//! Expectations files (TOML): known failures of an implementation, each with a reason.
//!
//! A listed case that fails is an *expected failure* (the run still passes); a listed case
//! that passes is a *stale expectation* (the run fails, so the list cannot rot silently).
//!
//! ```toml
//! [[expected]]
//! case = "mat-update-replaces-not-merges"
//! profile = "spec-1.0"          # optional: every profile when absent
//! reason = "update merges objects (upstream issue 12)"
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::suite::CaseResult;
use crate::verdict::Verdict;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub case: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    #[serde(default)]
    pub expected: Vec<Expected>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExpectationsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid expectations file: {message}")]
    Invalid { path: String, message: String },
}

impl Expectations {
    pub fn load(path: &Path) -> Result<Expectations, ExpectationsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ExpectationsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ExpectationsError::Invalid {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    fn find(&self, case: &str, profile: &str) -> Option<&Expected> {
        self.expected
            .iter()
            .find(|e| e.case == case && e.profile.as_deref().is_none_or(|p| p == profile))
    }

    /// Turns listed failures into expected failures and listed passes into stale entries.
    pub fn apply(&self, results: &mut [CaseResult]) {
        for r in results {
            let Some(entry) = self.find(&r.case, &r.profile) else {
                continue;
            };
            r.verdict = match std::mem::replace(&mut r.verdict, Verdict::Pass) {
                Verdict::Fail { mismatches } => Verdict::ExpectedFailure {
                    reason: entry.reason.clone(),
                    mismatches,
                },
                Verdict::Pass => Verdict::StaleExpectation {
                    reason: entry.reason.clone(),
                },
                other => other,
            };
        }
    }

    /// An expectations file listing every current failure (reasons to be filled in).
    pub fn from_failures(results: &[CaseResult]) -> Expectations {
        let expected = results
            .iter()
            .filter_map(|r| match &r.verdict {
                Verdict::Fail { mismatches } => Some(Expected {
                    case: r.case.clone(),
                    profile: Some(r.profile.clone()),
                    reason: format!(
                        "TODO: explain ({})",
                        mismatches.first().map_or("", String::as_str)
                    ),
                }),
                Verdict::ExpectedFailure { reason, .. } => Some(Expected {
                    case: r.case.clone(),
                    profile: Some(r.profile.clone()),
                    reason: reason.clone(),
                }),
                _ => None,
            })
            .collect();
        Expectations { expected }
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}
