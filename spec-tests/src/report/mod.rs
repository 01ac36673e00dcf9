//! Every output of a run comes from one result model, [`RunReport`], which reads back from
//! its JSON (`matrix` and repro bundles use it): the console (`console`), JSON, JUnit XML
//! (`junit`), Markdown fit for a CI job summary (`markdown`) and the implementation
//! matrix (`matrix`). What a run shows while it runs is `stream`.

pub(crate) mod console;
pub(crate) mod diff;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod matrix;
pub(crate) mod stream;

pub use console::{write_grouped, write_summary};
pub use diff::{Change, RunDiff};
pub use matrix::{MatrixError, MatrixInput, render_matrix};
pub use stream::{Progress, Sink};

use serde::{Deserialize, Serialize};

use crate::adapter::protocol::ImplementationId;
use crate::corpus::case::Case;
use crate::judge::{CaseResult, Verdict};

/// Version of the JSON result model; bumped on any incompatible change. Format 2 added the
/// `errored` verdict and count; format 3 made every field name camelCase (`afterBatch`,
/// `stderrTail`, a checkpoint's `reference` as `observed`/`unavailable`) and added each
/// result's `durationMs`; formats 1 and 2 still read. Its JSON Schema is
/// `spec-tests/protocol/report.schema.json`. Format 4 added each result's `inputDigest` and
/// `expectedDigest` (what `diff` compares across suite versions); 1 to 3 still read.
pub const REPORT_FORMAT: u32 = 4;
const OLDEST_READABLE_FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    /// Required cases the adapter or the runner broke on (apart from `failed`).
    #[serde(default)]
    pub errored: usize,
    pub informational: usize,
    pub not_applicable: usize,
    pub expected_failures: usize,
    pub stale_expectations: usize,
}

impl Summary {
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            s.add(&r.verdict);
        }
        s
    }

    /// Counts one more verdict.
    pub fn add(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail { .. } => self.failed += 1,
            Verdict::Errored { .. } => self.errored += 1,
            Verdict::Informational { .. } => self.informational += 1,
            Verdict::NotApplicable { .. } => self.not_applicable += 1,
            Verdict::ExpectedFailure { .. } => self.expected_failures += 1,
            Verdict::StaleExpectation { .. } => self.stale_expectations += 1,
        }
    }

    /// Every count with its label, in the order reports show them: the one vocabulary every
    /// report counts verdicts in (summary line, matrix, Markdown).
    pub fn counts(&self) -> [(&'static str, usize); 7] {
        [
            ("passed", self.passed),
            ("failed", self.failed),
            ("errored", self.errored),
            ("informational", self.informational),
            ("not applicable", self.not_applicable),
            ("expected failures", self.expected_failures),
            ("stale expectations", self.stale_expectations),
        ]
    }

    /// The counts that are not zero, as the summary words them (`"3 passed, 1 failed"`); `"0
    /// passed"` when there are none.
    pub fn worded(&self) -> String {
        let parts: Vec<String> = self
            .counts()
            .into_iter()
            .filter(|(label, n)| *n > 0 || *label == "passed")
            .map(|(label, n)| format!("{n} {label}"))
            .collect();
        parts.join(", ")
    }

    /// The run fails on unexpected failures and stale expectations.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.errored == 0 && self.stale_expectations == 0
    }
}

/// A verdict's tag where a line starts with it (the console, the streamed lines): the same
/// classes the summary counts, in capitals.
pub fn tag(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail { .. } => "FAIL",
        Verdict::Errored { .. } => "ERROR",
        Verdict::Informational { .. } => "INFO",
        Verdict::NotApplicable { .. } => "N/A",
        Verdict::ExpectedFailure { .. } => "XFAIL",
        Verdict::StaleExpectation { .. } => "STALE",
    }
}

/// One result with the case's title and requirements, as reports show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportedResult {
    pub title: String,
    pub requirements: Vec<String>,
    pub rerun: String,
    /// A digest of the case's input (mode, batches, message, steps; absent before format 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_digest: Option<String>,
    /// A digest of the case's expected values under this profile (absent before format 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_digest: Option<String>,
    #[serde(flatten)]
    pub result: CaseResult,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub format: u32,
    pub suite: String,
    pub adapter: Vec<String>,
    /// The implementation's name and version from its `hello` (absent in older reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implementation: Option<ImplementationId>,
    pub profiles: Vec<String>,
    pub summary: Summary,
    pub results: Vec<ReportedResult>,
}

impl RunReport {
    /// The report of `results`, run from `cases` (where titles and requirements come from);
    /// `rerun` is the command that re-runs one result, `{profile}` and `{case}` filled in.
    pub fn new(
        cases: &[&Case],
        adapter: Vec<String>,
        profiles: Vec<String>,
        results: Vec<CaseResult>,
        implementation: Option<ImplementationId>,
        rerun: &str,
    ) -> RunReport {
        let summary = Summary::of(&results);
        let results = results
            .into_iter()
            .map(|r| {
                let case = cases.iter().find(|c| c.id == r.case);
                let (input_digest, expected_digest) =
                    case.map(|c| diff::digests(c, &r.profile)).unzip();
                ReportedResult {
                    input_digest,
                    expected_digest,
                    title: case
                        .map(|c| c.title_for(&r.profile).to_owned())
                        .unwrap_or_default(),
                    requirements: case.map(|c| c.requirements.clone()).unwrap_or_default(),
                    rerun: rerun
                        .replace("{profile}", &r.profile)
                        .replace("{case}", &r.case),
                    result: r,
                }
            })
            .collect();
        RunReport {
            format: REPORT_FORMAT,
            suite: format!("state-conformance {}", env!("CARGO_PKG_VERSION")),
            adapter,
            implementation,
            profiles,
            summary,
            results,
        }
    }
}

/// How a result fails a run, for the outputs that list failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Failed,
    Errored,
    Stale,
}

/// The problem a verdict is, if it fails the run, with what it says in lines.
pub fn problem(verdict: &Verdict) -> Option<(Problem, Vec<String>)> {
    match verdict {
        Verdict::Fail { mismatches } => Some((Problem::Failed, mismatches.clone())),
        Verdict::Errored { mismatches } => Some((Problem::Errored, mismatches.clone())),
        Verdict::StaleExpectation { reason } => Some((
            Problem::Stale,
            vec![format!("listed as failing ({reason}) but passed")],
        )),
        _ => None,
    }
}

/// A saved report that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("not a run report: {0}")]
    NotAReport(#[from] serde_json::Error),
    #[error("report format {0} (this binary reads {OLDEST_READABLE_FORMAT} to {REPORT_FORMAT})")]
    Format(u32),
}

impl RunReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a report written by `to_json` (this format or an older readable one).
    pub fn from_json(text: &str) -> Result<RunReport, ReportError> {
        #[derive(Deserialize)]
        struct Versioned {
            format: u32,
        }
        let Versioned { format } = serde_json::from_str(text)?;
        if !(OLDEST_READABLE_FORMAT..=REPORT_FORMAT).contains(&format) {
            return Err(ReportError::Format(format));
        }
        Ok(serde_json::from_str(text)?)
    }
}
