//! `matrix`: implementations × case groups from saved JSON reports (`run --report-json`), as a
//! Markdown table: how many case runs of each group passed, failed, were informational, not
//! applicable, or failed as expected, in the words of the run's summary line.

use std::collections::BTreeMap;

use super::{ReportError, RunReport, Summary};

/// Case groups, by ID prefix, in the order rows appear.
const GROUPS: &[(&str, &str)] = &[
    ("val-", "validate"),
    ("mat-", "materialize"),
    ("sub-lp-", "subscribe (long-poll)"),
    ("sub-sse-", "subscribe (SSE)"),
    ("sub-off-", "subscribe (catch-up only)"),
    ("prod-", "produce"),
    ("wire-lp-", "materialize over the wire (long-poll)"),
    ("wire-sse-", "materialize over the wire (SSE)"),
];

/// A cell: the group's counts in the summary's words; "not applicable" when none applied.
fn cell(counts: &Summary) -> String {
    let applicable = counts.passed
        + counts.failed
        + counts.errored
        + counts.informational
        + counts.expected_failures
        + counts.stale_expectations;
    match applicable {
        0 => "not applicable".into(),
        _ => counts.worded(),
    }
}

/// A report the matrix cannot read, by its column name.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {source}")]
pub struct MatrixError {
    pub name: String,
    pub source: ReportError,
}

/// A report for the matrix: its JSON text, the column name given for it, and the name to use
/// when none was given and the report does not name its implementation (a file name, say).
pub struct MatrixInput {
    pub text: String,
    pub name: Option<String>,
    pub fallback: String,
}

/// Renders the matrix, a column per report and profile. A column is named as given, else by
/// the implementation's name from its `hello` (reports since it was recorded), else by the
/// fallback.
pub fn render_matrix(reports: &[MatrixInput]) -> Result<String, MatrixError> {
    let mut columns: Vec<(String, BTreeMap<&str, Summary>)> = Vec::new();
    let mut parsed = Vec::new();
    for input in reports {
        let report = RunReport::from_json(&input.text).map_err(|source| MatrixError {
            name: input.name.clone().unwrap_or_else(|| input.fallback.clone()),
            source,
        })?;
        let name = input
            .name
            .clone()
            .or_else(|| report.implementation.as_ref().map(|i| i.name.clone()))
            .unwrap_or_else(|| input.fallback.clone());
        parsed.push((name, report));
    }
    for (name, report) in &parsed {
        let mut by_profile: BTreeMap<&str, BTreeMap<&str, Summary>> = BTreeMap::new();
        for row in report.results.iter().map(|r| &r.result) {
            let Some((_, group)) = GROUPS.iter().find(|(p, _)| row.case.starts_with(p)) else {
                continue;
            };
            by_profile
                .entry(&row.profile)
                .or_default()
                .entry(group)
                .or_default()
                .add(&row.verdict);
        }
        for (profile, tallies) in by_profile {
            columns.push((format!("{name} ({profile})"), tallies));
        }
    }
    let mut out = String::from("| case group |");
    for (name, _) in &columns {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for (_, group) in GROUPS {
        out.push_str(&format!("| {group} |"));
        for (_, tallies) in &columns {
            let cell = cell(&tallies.get(group).cloned().unwrap_or_default());
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_count_in_the_summary_words_and_say_when_nothing_applied() {
        let mut s = Summary::default();
        assert_eq!(cell(&s), "not applicable");
        s.not_applicable = 3;
        assert_eq!(cell(&s), "not applicable");
        s.passed = 4;
        s.expected_failures = 2;
        s.informational = 1;
        assert_eq!(
            cell(&s),
            "4 passed, 1 informational, 3 not applicable, 2 expected failures"
        );
        s.passed = 0;
        s.stale_expectations = 1;
        assert_eq!(
            cell(&s),
            "0 passed, 1 informational, 3 not applicable, 2 expected failures, 1 stale expectations"
        );
    }
}
