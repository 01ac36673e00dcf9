//! Markdown: a summary table, one section per failure, then the expected failures and the
//! informational results as tables, fit for a CI job summary.

use super::{Problem, RunReport, problem};
use crate::judge::Verdict;

impl RunReport {
    /// Markdown: a summary table, one section per failure, then tables of the expected
    /// failures (with their reasons) and of the informational results (where the spec is
    /// silent and the implementation chose differently from the profile).
    pub fn to_markdown(&self) -> String {
        let counts = self.summary.counts();
        let row = |cell: &dyn Fn(&(&str, usize)) -> String| {
            counts
                .iter()
                .map(|c| format!(" {} |", cell(c)))
                .collect::<String>()
        };
        let mut out = format!(
            "## state-conformance: {}\n\n{}Adapter: `{}`; profiles: {}\n\n|{}\n|{}\n|{}\n",
            if self.summary.ok() {
                "passed"
            } else {
                "FAILED"
            },
            self.implementation
                .as_ref()
                .map(|i| format!("Implementation: {} {}; ", i.name, i.version))
                .unwrap_or_default(),
            self.adapter.join(" "),
            self.profiles.join(", "),
            row(&|(label, _)| (*label).to_owned()),
            "---|".repeat(counts.len()),
            row(&|(_, n)| n.to_string()),
        );
        for r in &self.results {
            let Some((kind, lines)) = problem(&r.result.verdict) else {
                continue;
            };
            let label = match kind {
                Problem::Failed => "Failed",
                Problem::Errored => "Errored",
                Problem::Stale => "Stale expectation",
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
        let expected: Vec<[String; 3]> = self
            .results
            .iter()
            .filter_map(|r| match &r.result.verdict {
                Verdict::ExpectedFailure { reason, mismatches } => Some([
                    format!("`{}`", r.result.case),
                    r.result.profile.clone(),
                    format!(
                        "{reason}: {}",
                        mismatches.first().map_or("", String::as_str)
                    ),
                ]),
                _ => None,
            })
            .collect();
        table(
            &mut out,
            "Expected failures",
            ["case", "profile", "reason: first difference"],
            &expected,
        );
        let informational: Vec<[String; 3]> = self
            .results
            .iter()
            .filter_map(|r| match &r.result.verdict {
                Verdict::Informational { mismatches } => Some([
                    format!("`{}`", r.result.case),
                    r.result.profile.clone(),
                    mismatches.first().cloned().unwrap_or_default(),
                ]),
                _ => None,
            })
            .collect();
        table(
            &mut out,
            "Informational (the spec is silent)",
            ["case", "profile", "first difference"],
            &informational,
        );
        out
    }
}

/// Appends a section with a table of `rows`, if there are any; cells on one line, pipes
/// escaped.
fn table(out: &mut String, title: &str, header: [&str; 3], rows: &[[String; 3]]) {
    if rows.is_empty() {
        return;
    }
    let cell = |text: &str| text.replace('\n', " ").replace('|', "\\|");
    out.push_str(&format!("\n### {title} ({})\n\n", rows.len()));
    out.push_str(&format!("| {} |\n|---|---|---|\n", header.join(" | ")));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
}
