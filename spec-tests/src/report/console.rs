//! The console report: failures grouped by cause (profiles that failed alike, cases with
//! one root cause, and a materialize case with its `wire-*` copies each share a block) with the requirement IDs, what differed, the simulator's last
//! exchanges and the command that re-runs the case; then the summary.

use super::{ReportedResult, RunReport, problem};
use crate::judge::Verdict;

/// A block of the console report: a label, the first result it stands for, its lines, and
/// every case run that failed this way.
struct Block<'r> {
    label: &'static str,
    first: &'r ReportedResult,
    /// What the verdict says (the first member's), without the transcript.
    lines: Vec<String>,
    /// `lines` with the case's ID taken out: the same cause in another case reads the same.
    cause: Vec<String>,
    /// Each case in the block with the profiles it failed under, in order.
    members: Vec<(&'r str, Vec<&'r str>)>,
}

impl Block<'_> {
    /// Whether a result of `case` with these lines belongs here: the same case failing alike
    /// under another profile, another case with the same cause (one adapter fault errors
    /// every case), or a materialize case's `wire-*` copy that diverges at the same place.
    fn takes(&self, label: &str, case: &str, lines: &[String], cause: &[String]) -> bool {
        if self.label != label {
            return false;
        }
        let alike = self.cause == cause;
        let same_place = root(&self.first.result.case) == root(case)
            && !divergences(&self.lines).is_empty()
            && divergences(&self.lines) == divergences(lines);
        alike || same_place
    }
}

/// What a block's lines say without what differs from case to case for one cause: the case's
/// ID, and the numbers (offsets, step and exchange numbers, durations), since one bug meets
/// every case at its own offsets and steps.
fn cause_of(lines: &[String], case: &str) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let mut out = String::with_capacity(l.len());
            for c in l.replace(case, "{case}").chars() {
                match (c.is_ascii_digit(), out.ends_with('#')) {
                    (true, true) => {}
                    (true, false) => out.push('#'),
                    (false, _) => out.push(c),
                }
            }
            out
        })
        .collect()
}

/// A derived case's source: `wire-lp-X` and `wire-sse-X` come from `mat-X`.
fn root(case: &str) -> &str {
    ["wire-lp-", "wire-sse-", "mat-"]
        .iter()
        .find_map(|p| case.strip_prefix(p))
        .unwrap_or(case)
}

/// Each "first difference at …" a verdict names, without where (batch or offset) it was seen.
fn divergences(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| l.split_once("first difference at ").map(|(_, d)| d))
        .collect()
}

/// Cases a grouped block lists by name before it says how many more.
const LISTED: usize = 12;

/// Failures (and with `verbose`, informational and expected outcomes), one block per cause,
/// to the writer the caller gives (the CLI's stdout, a test's buffer).
pub fn write_grouped(
    out: &mut dyn std::io::Write,
    report: &RunReport,
    verbose: bool,
) -> std::io::Result<()> {
    let mut blocks: Vec<Block<'_>> = Vec::new();
    for r in &report.results {
        let verdict = &r.result.verdict;
        let lines = match (problem(verdict), verdict) {
            (Some((_, lines)), _) => lines,
            (_, Verdict::Informational { mismatches }) if verbose => mismatches.clone(),
            (_, Verdict::ExpectedFailure { reason, mismatches }) if verbose => {
                std::iter::once(format!("expected: {reason}"))
                    .chain(mismatches.iter().cloned())
                    .collect()
            }
            _ => continue,
        };
        let label = super::tag(verdict);
        let case = r.result.case.as_str();
        let cause = cause_of(&lines, case);
        match blocks
            .iter_mut()
            .find(|b| b.takes(label, case, &lines, &cause))
        {
            Some(block) => match block.members.iter_mut().find(|(c, _)| *c == case) {
                Some((_, profiles)) => profiles.push(&r.result.profile),
                None => block.members.push((case, vec![&r.result.profile])),
            },
            None => blocks.push(Block {
                label,
                first: r,
                lines,
                cause,
                members: vec![(case, vec![&r.result.profile])],
            }),
        }
    }
    if blocks
        .iter()
        .any(|b| matches!(b.label, "FAIL" | "ERROR" | "STALE"))
    {
        writeln!(out, "failures:\n")?;
    }
    let listed = |members: &[(&str, Vec<&str>)]| {
        let mut names: Vec<String> = members
            .iter()
            .take(LISTED)
            .map(|(c, p)| format!("{c} [{}]", p.join(", ")))
            .collect();
        if members.len() > LISTED {
            names.push(format!("and {} more", members.len() - LISTED));
        }
        names.join(", ")
    };
    for b in blocks {
        let (case, profiles) = &b.members[0];
        writeln!(
            out,
            "{} {case} [{}] {}",
            b.label,
            profiles.join(", "),
            b.first.title
        )?;
        let others = &b.members[1..];
        let wire = others.iter().all(|(c, _)| root(c) == root(case));
        match (others.is_empty(), wire) {
            (true, _) => {}
            (false, true) => writeln!(out, "     fails alike over the wire: {}", listed(others))?,
            (false, false) => writeln!(
                out,
                "     the same cause in {} more case(s): {}",
                others.len(),
                listed(others)
            )?,
        }
        writeln!(
            out,
            "     requirements: {}",
            b.first.requirements.join(", ")
        )?;
        for line in b
            .lines
            .iter()
            .chain(&transcript_tail(b.first.result.outcome.transcript()))
        {
            for (i, part) in line.lines().enumerate() {
                writeln!(out, "     {}{part}", if i == 0 { "" } else { "  " })?;
            }
        }
        writeln!(out, "     re-run: {}", b.first.rerun)?;
        writeln!(out)?;
    }
    Ok(())
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
pub fn write_summary(
    out: &mut dyn std::io::Write,
    report: &RunReport,
    cases_selected: usize,
) -> std::io::Result<()> {
    if let Some(i) = &report.implementation {
        writeln!(out, "implementation: {} {}", i.name, i.version)?;
    }
    writeln!(out, "adapter: {}", report.adapter.join(" "))?;
    writeln!(
        out,
        "profiles: {}; cases selected: {cases_selected}",
        report.profiles.join(", ")
    )?;
    let counts: Vec<String> = report
        .summary
        .counts()
        .iter()
        .map(|(label, n)| format!("{n} {label}"))
        .collect();
    // Every count, zeros included: a CI log is read for "0 failed".
    writeln!(out, "{}", counts.join(", "))
}
