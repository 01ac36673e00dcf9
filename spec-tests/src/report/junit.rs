//! JUnit XML: a test suite per profile, a test case per case. Informational outcomes and
//! expected failures pass with a note, not-applicable cases are skipped, errored cases are
//! JUnit errors.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::RunReport;
use crate::judge::Verdict;

impl RunReport {
    /// JUnit XML: a test suite per profile, a test case per case; informational outcomes pass
    /// with a note, not-applicable cases are skipped.
    pub fn to_junit(&self) -> String {
        let mut report = Report::new("state-conformance");
        for profile in &self.profiles {
            let mut suite = TestSuite::new(profile.as_str());
            if let Some(i) = &self.implementation {
                suite.add_property(("implementation", i.name.as_str()));
                suite.add_property(("implementation-version", i.version.as_str()));
            }
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
                    Verdict::Fail { mismatches } | Verdict::Errored { mismatches } => {
                        let kind = match &r.result.verdict {
                            Verdict::Errored { .. } => NonSuccessKind::Error,
                            _ => NonSuccessKind::Failure,
                        };
                        let mut s = TestCaseStatus::non_success(kind);
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
                case.set_time(std::time::Duration::from_millis(r.result.duration_ms));
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
            let ms: u64 = self
                .results
                .iter()
                .filter(|r| &r.result.profile == profile)
                .map(|r| r.result.duration_ms)
                .sum();
            suite.set_time(std::time::Duration::from_millis(ms));
            report.add_test_suite(suite);
        }
        report.to_string().unwrap_or_default()
    }
}
