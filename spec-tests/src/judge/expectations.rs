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

use super::{CaseResult, Verdict};

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
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{path}: not a valid expectations file: {message}")]
    Invalid { path: String, message: String },
}

impl Expectations {
    pub fn load(path: &Path) -> Result<Expectations, ExpectationsError> {
        let text = crate::input::read_text(path)?;
        toml::from_str(&text).map_err(|e| ExpectationsError::Invalid {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The entries naming a case `known` does not know or a profile that is not a preset, in
    /// words (an entry that can never match would hide nothing and rot silently).
    pub fn unknown(&self, known: impl Fn(&str) -> bool) -> Vec<String> {
        let presets = state_reference::Profile::preset_names();
        let mut out = Vec::new();
        for e in &self.expected {
            if !known(&e.case) {
                out.push(format!("an unknown case `{}`", e.case));
            }
            if let Some(p) = &e.profile
                && !presets.contains(&p.as_str())
            {
                out.push(format!("an unknown profile `{p}` (for `{}`)", e.case));
            }
        }
        out
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
                Verdict::Fail { mismatches } | Verdict::Errored { mismatches } => {
                    Verdict::ExpectedFailure {
                        reason: entry.reason.clone(),
                        mismatches,
                    }
                }
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
                Verdict::Fail { mismatches } | Verdict::Errored { mismatches } => Some(Expected {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::case::Weight;
    use crate::judge::outcome::Outcome;

    fn result(case: &str, profile: &str, verdict: Verdict) -> CaseResult {
        CaseResult {
            case: case.into(),
            profile: profile.into(),
            weight: Weight::Required,
            verdict,
            outcome: Outcome::SetupError { reason: "-".into() },
            duration_ms: 0,
        }
    }

    #[test]
    fn listed_failures_are_expected_and_listed_passes_are_stale() {
        let e: Expectations = toml::from_str(
            "[[expected]]\ncase = \"a\"\nreason = \"merges\"\n\n[[expected]]\ncase = \"b\"\nprofile = \"spec-1.0\"\nreason = \"crashes\"\n",
        )
        .unwrap();
        let fail = || Verdict::Fail {
            mismatches: vec!["x".into()],
        };
        let mut results = vec![
            result("a", "ts-compat", fail()),
            result("a", "spec-1.0", Verdict::Pass),
            result(
                "b",
                "spec-1.0",
                Verdict::Errored {
                    mismatches: vec!["exited".into()],
                },
            ),
            result("b", "ts-compat", fail()),
            result("c", "spec-1.0", fail()),
        ];
        e.apply(&mut results);
        let labels: Vec<&str> = results
            .iter()
            .map(|r| match r.verdict {
                Verdict::ExpectedFailure { .. } => "xfail",
                Verdict::StaleExpectation { .. } => "stale",
                Verdict::Fail { .. } => "fail",
                _ => "other",
            })
            .collect();
        assert_eq!(labels, ["xfail", "stale", "xfail", "fail", "fail"]);
        let written = Expectations::from_failures(&results);
        let cases: Vec<(&str, &str)> = written
            .expected
            .iter()
            .map(|e| (e.case.as_str(), e.profile.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            cases,
            [
                ("a", "ts-compat"),
                ("b", "spec-1.0"),
                ("b", "ts-compat"),
                ("c", "spec-1.0")
            ]
        );
        assert!(Expectations::load(std::path::Path::new("/nonexistent.toml")).is_err());
    }
}
