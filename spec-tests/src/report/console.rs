//! The console: a progress bar while cases run, then failures grouped per case (profiles that
//! failed alike share a block) with the requirement IDs, what differed, the simulator's last
//! exchanges and the command that re-runs the case; then the summary.

use super::{Problem, ReportedResult, RunReport, problem};
use crate::judge::Verdict;

/// A bar on stderr when it is a terminal (hidden otherwise, or when asked).
pub fn progress_bar(len: u64, hidden: bool) -> indicatif::ProgressBar {
    if hidden {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} case runs {elapsed} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// A block of the console report: a label, the first result it stands for, its lines, and
/// every profile that failed this way.
struct Block<'r> {
    label: &'static str,
    first: &'r ReportedResult,
    lines: Vec<String>,
    profiles: Vec<&'r str>,
}

/// Failures (and with `verbose`, informational and expected outcomes), one block per case.
pub fn print_grouped(report: &RunReport, verbose: bool) {
    let mut blocks: Vec<Block<'_>> = Vec::new();
    for r in &report.results {
        let (label, lines) = match (problem(&r.result.verdict), &r.result.verdict) {
            (Some((Problem::Failed, lines)), _) => ("FAIL", lines),
            (Some((Problem::Errored, lines)), _) => ("ERROR", lines),
            (Some((Problem::Stale, lines)), _) => ("STALE", lines),
            (_, Verdict::Informational { mismatches }) if verbose => ("INFO", mismatches.clone()),
            (_, Verdict::ExpectedFailure { reason, mismatches }) if verbose => (
                "XFAIL",
                std::iter::once(format!("expected: {reason}"))
                    .chain(mismatches.iter().cloned())
                    .collect(),
            ),
            _ => continue,
        };
        let lines = [lines, transcript_tail(r.result.outcome.transcript())].concat();
        match blocks
            .iter_mut()
            .find(|b| b.label == label && b.first.result.case == r.result.case && b.lines == lines)
        {
            Some(block) => block.profiles.push(&r.result.profile),
            None => blocks.push(Block {
                label,
                first: r,
                lines,
                profiles: vec![&r.result.profile],
            }),
        }
    }
    if blocks
        .iter()
        .any(|b| matches!(b.label, "FAIL" | "ERROR" | "STALE"))
    {
        println!("failures:\n");
    }
    for b in blocks {
        println!(
            "{} {} [{}] {}",
            b.label,
            b.first.result.case,
            b.profiles.join(", "),
            b.first.title
        );
        println!("     requirements: {}", b.first.requirements.join(", "));
        for line in b.lines {
            for (i, part) in line.lines().enumerate() {
                println!("     {}{part}", if i == 0 { "" } else { "  " });
            }
        }
        println!("     re-run: {}", b.first.rerun);
        println!();
    }
}

/// For a failed live case: the simulator's last exchanges, which show the faults that fired.
fn transcript_tail(transcript: &[String]) -> Vec<String> {
    if transcript.is_empty() {
        return Vec::new();
    }
    let skip = transcript.len().saturating_sub(8);
    let mut lines = vec!["simulator transcript (last exchanges):".to_owned()];
    lines.extend(transcript[skip..].iter().map(|l| format!("  {l}")));
    lines
}

/// The closing lines: the adapter, the profiles, and the counts.
pub fn print_summary(report: &RunReport, cases_selected: usize) {
    println!("adapter: {}", report.adapter.join(" "));
    println!(
        "profiles: {}; cases selected: {cases_selected}",
        report.profiles.join(", ")
    );
    let counts: Vec<String> = report
        .summary
        .counts()
        .iter()
        .map(|(label, n)| format!("{n} {label}"))
        .collect();
    println!("{}", counts.join(", "));
}
