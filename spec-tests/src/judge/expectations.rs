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
//! timing = true                 # optional: whether it shows depends on how reads interleave
//! ```
//!
//! An entry marked `timing` is a known failure that does not show on every run (a client that
//! drops an SSE connection before or after the server wrote the next event): a pass of it is
//! a pass, not stale. The reason should say why.

use std::path::Path;

use serde::{Deserialize, Serialize};
use wildmatch::WildMatch;

use super::{CaseResult, Verdict};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub case: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub reason: String,
    /// Whether the failure shows only on some runs: a pass is then not stale.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timing: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    #[serde(default)]
    pub expected: Vec<Expected>,
}

impl Expected {
    /// Whether this entry names `case`: its ID, or a glob (`*`, `?`) that matches it.
    pub fn matches_case(&self, case: &str) -> bool {
        self.case == case || (is_pattern(&self.case) && WildMatch::new(&self.case).matches(case))
    }
}

fn is_pattern(case: &str) -> bool {
    case.contains(['*', '?'])
}

fn profile_suffix(e: &Expected) -> String {
    e.profile
        .as_deref()
        .map(|p| format!(" [{p}]"))
        .unwrap_or_default()
}

/// What merging a run's failures into an expectations file changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Merge {
    /// Failures not listed before.
    pub added: Vec<String>,
    /// Entries for case runs that now pass (or no longer fail).
    pub removed: Vec<String>,
    /// Entries kept: runs not made, and failures still listed.
    pub kept: usize,
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
    /// What the file names that does not exist: cases (a pattern that matches none of
    /// `ids` counts as unknown, like an ID that is not one) and profiles.
    pub fn unknown<'i>(&self, ids: impl Iterator<Item = &'i str> + Clone) -> Vec<String> {
        let presets = state_reference::Profile::preset_names();
        let mut out = Vec::new();
        for e in &self.expected {
            if !ids.clone().any(|id| e.matches_case(id)) {
                out.push(match is_pattern(&e.case) {
                    true => format!("a pattern `{}` that matches no case", e.case),
                    false => format!(
                        "an unknown case `{}`{}",
                        e.case,
                        crate::corpus::did_you_mean(&crate::corpus::similar(&e.case, ids.clone()))
                    ),
                });
            }
            if let Some(p) = &e.profile
                && !presets.contains(&p.as_str())
            {
                out.push(format!("an unknown profile `{p}` (for `{}`)", e.case));
            }
        }
        out
    }

    /// The entry for a case run: an exact ID before a pattern, the first listed otherwise.
    fn find(&self, case: &str, profile: &str) -> Option<&Expected> {
        let for_profile = |e: &&Expected| e.profile.as_deref().is_none_or(|p| p == profile);
        let mut entries = self.expected.iter().filter(for_profile);
        entries
            .clone()
            .find(|e| e.case == case)
            .or_else(|| entries.find(|e| e.matches_case(case)))
    }

    /// `written` (a run's own file, from [`Expectations::from_failures`]) merged into this
    /// one: entries for case runs the run did not make are kept as they are; for the runs it
    /// made, what it found replaces what was listed. Returns the merged file and the entries
    /// added, removed and kept (counted by case and profile).
    pub fn merged(&self, written: &Expectations, ran: &[CaseResult]) -> (Expectations, Merge) {
        let stands_for = |e: &Expected, case: &str, profile: Option<&str>| {
            e.matches_case(case) && e.profile.as_deref().is_none_or(|p| Some(p) == profile)
        };
        let mut merge = Merge::default();
        let mut expected = Vec::new();
        for e in &self.expected {
            let run = ran.iter().any(|r| stands_for(e, &r.case, Some(&r.profile)));
            let failing = written
                .expected
                .iter()
                .any(|w| stands_for(e, &w.case, w.profile.as_deref()));
            match !run || failing || e.timing {
                // Not run, still standing for a failure, or one that shows only on some runs:
                // kept as written, reason and all.
                true => {
                    merge.kept += 1;
                    expected.push(e.clone());
                }
                false => merge
                    .removed
                    .push(format!("{}{}", e.case, profile_suffix(e))),
            }
        }
        for w in &written.expected {
            if !expected
                .iter()
                .any(|e| stands_for(e, &w.case, w.profile.as_deref()))
            {
                merge.added.push(format!("{}{}", w.case, profile_suffix(w)));
                expected.push(w.clone());
            }
        }
        (Expectations { expected }, merge)
    }

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
                Verdict::Pass if entry.timing => Verdict::Pass,
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
                    timing: false,
                }),
                Verdict::ExpectedFailure { reason, .. } => Some(Expected {
                    case: r.case.clone(),
                    profile: Some(r.profile.clone()),
                    reason: reason.clone(),
                    timing: false,
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
    fn a_timing_entry_that_passes_is_a_pass_and_is_kept_on_merge() {
        let file: Expectations = toml::from_str(
            "[[expected]]\ncase = \"a\"\nreason = \"shows on some runs\"\ntiming = true\n",
        )
        .unwrap();
        let fail = Verdict::Fail {
            mismatches: vec!["x".into()],
        };
        let mut results = vec![
            result("a", "spec-1.0", Verdict::Pass),
            result("a", "ts-compat", fail),
        ];
        file.apply(&mut results);
        assert_eq!(results[0].verdict, Verdict::Pass);
        assert!(matches!(
            results[1].verdict,
            Verdict::ExpectedFailure { .. }
        ));
        let (merged, merge) = file.merged(&Expectations::default(), &results[..1]);
        assert_eq!((merged, merge.removed.len()), (file, 0));
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

    #[test]
    fn patterns_stand_for_the_cases_they_match_and_an_exact_id_wins() {
        let e: Expectations = toml::from_str(
            "[[expected]]\ncase = \"wire-*-extra\"\nreason = \"pattern\"\n\n[[expected]]\ncase = \"wire-lp-extra\"\nreason = \"exact\"\n\n[[expected]]\ncase = \"nothing-*\"\nreason = \"none\"\n",
        )
        .unwrap();
        let fail = || Verdict::Fail {
            mismatches: vec!["x".into()],
        };
        let mut results = vec![
            result("wire-lp-extra", "spec-1.0", fail()),
            result("wire-sse-extra", "spec-1.0", fail()),
            result("mat-extra", "spec-1.0", fail()),
        ];
        e.apply(&mut results);
        let reasons: Vec<&str> = results
            .iter()
            .map(|r| match &r.verdict {
                Verdict::ExpectedFailure { reason, .. } => reason.as_str(),
                _ => "fail",
            })
            .collect();
        assert_eq!(reasons, ["exact", "pattern", "fail"]);
        let ids = ["wire-lp-extra", "wire-sse-extra", "mat-extra"];
        assert_eq!(
            e.unknown(ids.iter().copied()),
            ["a pattern `nothing-*` that matches no case"]
        );
    }

    #[test]
    fn writing_a_subset_keeps_what_it_did_not_run() {
        let old: Expectations = toml::from_str(
            "[[expected]]\ncase = \"a\"\nprofile = \"spec-1.0\"\nreason = \"not run\"\n\n[[expected]]\ncase = \"b\"\nprofile = \"spec-1.0\"\nreason = \"now passes\"\n\n[[expected]]\ncase = \"c\"\nprofile = \"spec-1.0\"\nreason = \"still fails\"\n",
        )
        .unwrap();
        let mut results = vec![
            result("b", "spec-1.0", Verdict::Pass),
            result("c", "spec-1.0", Verdict::Fail { mismatches: vec![] }),
            result("d", "spec-1.0", Verdict::Fail { mismatches: vec![] }),
        ];
        old.apply(&mut results);
        let (merged, merge) = old.merged(&Expectations::from_failures(&results), &results);
        let listed: Vec<(&str, &str)> = merged
            .expected
            .iter()
            .map(|e| (e.case.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(listed[..2], [("a", "not run"), ("c", "still fails")]);
        assert_eq!(listed[2].0, "d");
        assert_eq!(merge.added, ["d [spec-1.0]"]);
        assert_eq!(merge.removed, ["b [spec-1.0]"]);
        assert_eq!(merge.kept, 2);
    }
}
