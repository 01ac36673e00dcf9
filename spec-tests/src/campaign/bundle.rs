//! Repro bundles: everything needed to re-drive one failure (the shrunk case, the profile,
//! the adapter, the transcript, both outcomes). Written by a campaign, read by `replay` and
//! `fixtures promote`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::Profile;

use super::shrink::{shrink, size};
use crate::adapter::AdapterSpec;
use crate::corpus::case::{Case, Mode};
use crate::judge::outcome::Outcome;
use crate::judge::{CaseResult, Standard, Strictness, Verdict, judge};
use crate::run::execute::run_reference;
use crate::run::{RunOptions, run_adapter_cases};

/// Version of the repro bundle format; bumped on any incompatible change.
pub const BUNDLE_FORMAT: u32 = 1;

/// Everything needed to re-drive one failure: written by a campaign, read by `replay` and
/// `fixtures promote`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    pub format: u32,
    /// The suite version that wrote it.
    pub suite: String,
    pub profile: String,
    /// The scenario's own seed (`generate::scenario(seed)` re-makes the unshrunk case).
    pub seed: Option<u64>,
    /// The adapter it failed against (argv).
    pub adapter: Vec<String>,
    /// The minimized case, fault plan included.
    pub case: Case,
    /// The simulator's exchanges in the failing run, a line each (live cases).
    pub transcript: Vec<String>,
    /// The reference's outcome (in process).
    pub expected: Outcome,
    /// The adapter's outcome (absent when the case did not apply).
    pub observed: Option<Outcome>,
    pub mismatches: Vec<String>,
    /// How much shrinking removed: sizes before and after, and the runs it took.
    pub shrink: ShrinkStats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShrinkStats {
    pub size_before: usize,
    pub size_after: usize,
    pub runs: usize,
}

/// Why a bundle cannot be used: the file, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct BundleError {
    pub path: String,
    pub reason: String,
}

impl Bundle {
    /// Reads and checks a bundle completely before anything runs: JSON, format version,
    /// the case against the case schema, the profile.
    pub fn load(path: &Path) -> Result<Bundle, BundleError> {
        let fail = |reason: String| BundleError {
            path: path.display().to_string(),
            reason,
        };
        let text = crate::input::read_text(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("not JSON (truncated?): {e}")))?;
        match value.get("format").and_then(Value::as_u64) {
            Some(f) if f == u64::from(BUNDLE_FORMAT) => {}
            Some(f) => {
                return Err(fail(format!(
                    "bundle format {f}; this binary reads format {BUNDLE_FORMAT}"
                )));
            }
            None => return Err(fail("not a repro bundle (no `format`)".into())),
        }
        let case_value = value
            .get("case")
            .cloned()
            .ok_or_else(|| fail("no `case`".into()))?;
        crate::corpus::load::check_case_value(&case_value)
            .map_err(|e| fail(format!("case: {e}")))?;
        let bundle: Bundle =
            serde_json::from_value(value).map_err(|e| fail(format!("inconsistent bundle: {e}")))?;
        if Profile::preset(&bundle.profile).is_err() {
            return Err(fail(format!("unknown profile {}", bundle.profile)));
        }
        if !bundle.case.profiles.contains_key(&bundle.profile) {
            return Err(fail(format!(
                "inconsistent bundle: its case does not apply to profile {}",
                bundle.profile
            )));
        }
        Ok(bundle)
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.{}.bundle.json", self.case.id, self.profile));
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&path, text + "\n")?;
        Ok(path)
    }
}

/// Shrinks a failing scenario against `spec` and makes its bundle.
pub fn bundle_failure(
    case: &Case,
    seed: Option<u64>,
    reference: &Profile,
    spec: &AdapterSpec,
    budget: usize,
) -> Bundle {
    let profile = reference.name.as_str();
    // A candidate counts only if the reference still passes it (so shrinking cannot make a
    // case no implementation could pass, such as awaiting a close that no longer happens)
    // and the adapter still fails it, twice in a row for a live case (whose failures can
    // hang on timing), so that the bundle replays.
    let confirmations = match case.mode {
        Mode::Subscribe => 2,
        _ => 1,
    };
    let (small, runs) = shrink(case, budget, |c| {
        let outcome = run_reference(c, reference, None);
        !judge(
            c,
            reference,
            &outcome,
            Strictness::ItemsOnly,
            Standard::Spec,
        )
        .is_failure()
            && (0..confirmations)
                .all(|_| run_one(c, reference, spec).is_some_and(|r| r.verdict.is_failure()))
    });
    let observed = run_one(&small, reference, spec);
    let expected = run_reference(&small, reference, None);
    let (mismatches, transcript) = match &observed {
        Some(CaseResult {
            verdict: verdict @ (Verdict::Fail { .. } | Verdict::Errored { .. }),
            outcome,
            ..
        }) => (verdict.mismatches().to_vec(), outcome.transcript().to_vec()),
        Some(r) => (
            vec![format!("did not fail again ({:?})", r.verdict)],
            Vec::new(),
        ),
        None => (vec!["not applicable to this profile".into()], Vec::new()),
    };
    Bundle {
        format: BUNDLE_FORMAT,
        suite: env!("CARGO_PKG_VERSION").into(),
        profile: profile.into(),
        seed,
        adapter: spec.argv.clone(),
        transcript,
        expected,
        observed: observed.map(|r| r.outcome),
        mismatches,
        shrink: ShrinkStats {
            size_before: size(case),
            size_after: size(&small),
            runs,
        },
        case: small,
    }
}

/// One case against `spec`, alone.
pub fn run_one(case: &Case, profile: &Profile, spec: &AdapterSpec) -> Option<CaseResult> {
    run_adapter_cases(&[case], profile, spec, RunOptions::default())
        .into_iter()
        .next()
}
