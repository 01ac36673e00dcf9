//! Reports of a run: a versioned JSON result model, JUnit XML, and Markdown (fit for a CI job
//! summary). All three come from the same [`RunReport`].

use serde::Serialize;

use crate::case::Case;
use crate::suite::CaseResult;
use crate::verdict::Verdict;

/// Version of the JSON result model; bumped on any incompatible change.
pub const REPORT_FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub informational: usize,
    pub not_applicable: usize,
    pub expected_failures: usize,
    pub stale_expectations: usize,
}

impl Summary {
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.verdict {
                Verdict::Pass => s.passed += 1,
                Verdict::Fail { .. } => s.failed += 1,
                Verdict::Informational { .. } => s.informational += 1,
                Verdict::NotApplicable { .. } => s.not_applicable += 1,
                Verdict::ExpectedFailure { .. } => s.expected_failures += 1,
                Verdict::StaleExpectation { .. } => s.stale_expectations += 1,
            }
        }
        s
    }

    /// The run fails on unexpected failures and stale expectations.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.stale_expectations == 0
    }
}

/// One result with the case's title and requirements, as reports show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportedResult {
    pub title: String,
    pub requirements: Vec<String>,
    pub rerun: String,
    #[serde(flatten)]
    pub result: CaseResult,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub format: u32,
    pub suite: String,
    pub adapter: Vec<String>,
    pub profiles: Vec<String>,
    pub summary: Summary,
    pub results: Vec<ReportedResult>,
}

impl RunReport {
    /// The report of `results`, run from `cases` (where titles and requirements come from).
    pub fn new(
        cases: &[&Case],
        adapter: Vec<String>,
        profiles: Vec<String>,
        results: Vec<CaseResult>,
        rerun_suffix: &str,
    ) -> RunReport {
        let summary = Summary::of(&results);
        let results = results
            .into_iter()
            .map(|r| {
                let case = cases.iter().find(|c| c.id == r.case);
                ReportedResult {
                    title: case.map(|c| c.title.clone()).unwrap_or_default(),
                    requirements: case.map(|c| c.requirements.clone()).unwrap_or_default(),
                    rerun: format!(
                        "state-conformance run --profile {} --case {}{rerun_suffix}",
                        r.profile, r.case
                    ),
                    result: r,
                }
            })
            .collect();
        RunReport {
            format: REPORT_FORMAT,
            suite: format!("state-conformance {}", env!("CARGO_PKG_VERSION")),
            adapter,
            profiles,
            summary,
            results,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// JUnit XML: a test suite per profile, a test case per case; informational outcomes pass
    /// with a note, not-applicable cases are skipped.
    pub fn to_junit(&self) -> String {
        use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
        let mut report = Report::new("state-conformance");
        for profile in &self.profiles {
            let mut suite = TestSuite::new(profile.as_str());
            for r in self.results.iter().filter(|r| &r.result.profile == profile) {
                let status = match &r.result.verdict {
                    Verdict::Pass
                    | Verdict::Informational { .. }
                    | Verdict::ExpectedFailure { .. } => TestCaseStatus::success(),
                    Verdict::NotApplicable { reason } => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(reason.as_str());
                        s
                    }
                    Verdict::Fail { mismatches } => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(mismatches.first().map_or("failed", String::as_str));
                        s.set_description(format!(
                            "{}\nrequirements: {}\nre-run: {}",
                            mismatches.join("\n"),
                            r.requirements.join(", "),
                            r.rerun
                        ));
                        s
                    }
                    Verdict::StaleExpectation { reason } => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(format!(
                            "stale expectation: listed as failing ({reason}) but passed"
                        ));
                        s
                    }
                };
                let mut case = TestCase::new(r.result.case.as_str(), status);
                case.set_classname(format!("state-conformance.{profile}"));
                match &r.result.verdict {
                    Verdict::Informational { mismatches } => {
                        case.set_system_out(format!(
                            "informational (the spec is silent):\n{}",
                            mismatches.join("\n")
                        ));
                    }
                    Verdict::ExpectedFailure { reason, mismatches } => {
                        case.set_system_out(format!(
                            "expected failure: {reason}\n{}",
                            mismatches.join("\n")
                        ));
                    }
                    _ => {}
                }
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        report.to_string().unwrap_or_default()
    }

    /// Markdown: a summary table and one section per failure.
    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let mut out = format!(
            "## state-conformance: {}\n\nAdapter: `{}`; profiles: {}\n\n| passed | failed | informational | not applicable | expected failures | stale expectations |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} |\n",
            if s.ok() { "passed" } else { "FAILED" },
            self.adapter.join(" "),
            self.profiles.join(", "),
            s.passed,
            s.failed,
            s.informational,
            s.not_applicable,
            s.expected_failures,
            s.stale_expectations,
        );
        for r in &self.results {
            let (label, lines) = match &r.result.verdict {
                Verdict::Fail { mismatches } => ("Failed", mismatches.clone()),
                Verdict::StaleExpectation { reason } => (
                    "Stale expectation",
                    vec![format!("listed as failing ({reason}) but passed")],
                ),
                _ => continue,
            };
            out.push_str(&format!(
                "\n### {label}: `{}` [{}]\n\n{}\n\n",
                r.result.case, r.result.profile, r.title
            ));
            out.push_str(&format!("Requirements: {}\n\n", r.requirements.join(", ")));
            for line in lines {
                out.push_str(&format!("- {}\n", line.replace('\n', " ")));
            }
            out.push_str(&format!("\nRe-run: `{}`\n", r.rerun));
        }
        out
    }
}
