//! Markdown: a summary table and one section per failure, fit for a CI job summary.

use super::{Problem, RunReport, problem};

impl RunReport {
    /// Markdown: a summary table and one section per failure.
    pub fn to_markdown(&self) -> String {
        let counts = self.summary.counts();
        let row = |cell: &dyn Fn(&(&str, usize)) -> String| {
            counts
                .iter()
                .map(|c| format!(" {} |", cell(c)))
                .collect::<String>()
        };
        let mut out = format!(
            "## state-conformance: {}\n\nAdapter: `{}`; profiles: {}\n\n|{}\n|{}\n|{}\n",
            if self.summary.ok() {
                "passed"
            } else {
                "FAILED"
            },
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
        out
    }
}
