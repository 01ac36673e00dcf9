//! `matrix`: implementations × case groups from saved JSON reports (`run --report-json`), as a
//! Markdown table: how many case runs of each group passed, failed, were informational, not
//! applicable, or failed as expected.

use std::collections::BTreeMap;

use super::{ReportError, RunReport};
use crate::judge::Verdict;

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

#[derive(Default, Clone, Copy)]
struct Tally {
    pass: usize,
    fail: usize,
    errored: usize,
    info: usize,
    na: usize,
    xfail: usize,
}

impl Tally {
    fn cell(self) -> String {
        if self.pass + self.fail + self.errored + self.info + self.xfail == 0 {
            return "n/a".into();
        }
        let mut parts = vec![format!("{} pass", self.pass)];
        for (n, label) in [
            (self.fail, "fail"),
            (self.errored, "errored"),
            (self.xfail, "known fail"),
            (self.info, "info"),
            (self.na, "n/a"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        parts.join(", ")
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
pub fn render(reports: &[MatrixInput]) -> Result<String, MatrixError> {
    let mut columns: Vec<(String, BTreeMap<&str, Tally>)> = Vec::new();
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
        let mut by_profile: BTreeMap<&str, BTreeMap<&str, Tally>> = BTreeMap::new();
        for row in report.results.iter().map(|r| &r.result) {
            let Some((_, group)) = GROUPS.iter().find(|(p, _)| row.case.starts_with(p)) else {
                continue;
            };
            let t = by_profile
                .entry(&row.profile)
                .or_default()
                .entry(group)
                .or_default();
            match row.verdict {
                Verdict::Pass => t.pass += 1,
                Verdict::Fail { .. } | Verdict::StaleExpectation { .. } => t.fail += 1,
                Verdict::Errored { .. } => t.errored += 1,
                Verdict::Informational { .. } => t.info += 1,
                Verdict::NotApplicable { .. } => t.na += 1,
                Verdict::ExpectedFailure { .. } => t.xfail += 1,
            }
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
            let cell = tallies.get(group).copied().unwrap_or_default().cell();
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    Ok(out)
}
