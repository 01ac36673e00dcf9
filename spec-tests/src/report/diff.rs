//! Two runs compared (`state-conformance diff OLD.json NEW.json`): what a change to an
//! implementation broke or fixed, and what an upgrade of the suite changed (new, removed and
//! changed cases), from two saved reports. Results are matched by case and profile.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{ReportedResult, RunReport, problem, tag};
use crate::corpus::case::Case;

/// Digests of what a case gives an implementation (mode, collections, batches, message,
/// steps) and of what it expects under `profile` (overrides applied): the same case file
/// gives the same digests on any machine. Values the reference computes while a live case
/// runs are not in the case file, nor in its digest.
pub(crate) fn digests(case: &Case, profile: &str) -> (String, String) {
    let input = serde_json::json!({
        "mode": case.mode,
        "collections": case.collections,
        "batches": case.batches,
        "message": case.message,
        "raw": case.raw,
        "live": case.live,
        "steps": case.steps,
    });
    let expected = serde_json::to_value(case.expectation_for(profile)).unwrap_or_default();
    (digest(&input), digest(&expected))
}

/// The first 16 hex digits of the SHA-256 of a value's JSON text.
fn digest(value: &Value) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, value.to_string().as_bytes());
    hash.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a new failure shows of its report lines in text, and how many new failures the
/// Markdown details (a job summary has a size limit; the report has the rest).
const LINES_PER_FAILURE: usize = 4;
const DETAILED_FAILURES: usize = 50;

/// One result in a comparison: its case and profile, and its verdict's tag in each report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub case: String,
    pub profile: String,
    pub title: String,
    /// The verdict's tag in the old report (`None`: the case was not in it).
    pub old: Option<&'static str>,
    /// In the new one (`None`: the case is gone).
    pub new: Option<&'static str>,
    /// What the new report says failed (for a new failure).
    pub lines: Vec<String>,
}

/// What changed from one run to the next.
#[derive(Debug, Default)]
pub struct RunDiff {
    pub old_suite: String,
    pub new_suite: String,
    /// Failing in the new report (failed, errored or stale), not in the old one: whether
    /// the case is new or passed before.
    pub newly_failing: Vec<Change>,
    /// Failing in the old report, not in the new one (gone cases are under `removed`).
    pub newly_passing: Vec<Change>,
    /// Any other change of verdict (say, pass to informational).
    pub other_verdicts: Vec<Change>,
    pub added: Vec<Change>,
    pub removed: Vec<Change>,
    /// In both, with different expected values (both reports of format 4 or later).
    pub expected_changed: Vec<Change>,
    /// In both, with a different input (steps, batches, message).
    pub input_changed: Vec<Change>,
    /// Results whose digests could not be compared (a report older than format 4).
    pub undigested: usize,
}

impl RunDiff {
    pub fn of(old: &RunReport, new: &RunReport) -> RunDiff {
        let key = |r: &ReportedResult| (r.result.case.clone(), r.result.profile.clone());
        let old_by: BTreeMap<_, _> = old.results.iter().map(|r| (key(r), r)).collect();
        let new_by: BTreeMap<_, _> = new.results.iter().map(|r| (key(r), r)).collect();
        let mut diff = RunDiff {
            old_suite: old.suite.clone(),
            new_suite: new.suite.clone(),
            ..RunDiff::default()
        };
        let change = |r: &ReportedResult,
                      old: Option<&ReportedResult>,
                      new: Option<&ReportedResult>| Change {
            case: r.result.case.clone(),
            profile: r.result.profile.clone(),
            title: r.title.clone(),
            old: old.map(|o| tag(&o.result.verdict)),
            new: new.map(|n| tag(&n.result.verdict)),
            lines: new
                .and_then(|n| problem(&n.result.verdict))
                .map(|(_, lines)| lines)
                .unwrap_or_default(),
        };
        for (k, &n) in &new_by {
            let o = old_by.get(k).copied();
            let c = change(n, o, Some(n));
            let fails_now = problem(&n.result.verdict).is_some();
            let failed = o.is_some_and(|o| problem(&o.result.verdict).is_some());
            match o {
                None => diff.added.push(c.clone()),
                Some(o) => match (
                    &o.expected_digest,
                    &n.expected_digest,
                    &o.input_digest,
                    &n.input_digest,
                ) {
                    (Some(a), Some(b), Some(i), Some(j)) => {
                        if a != b {
                            diff.expected_changed.push(c.clone());
                        }
                        if i != j {
                            diff.input_changed.push(c.clone());
                        }
                    }
                    _ => diff.undigested += 1,
                },
            }
            match (failed, fails_now) {
                (false, true) => diff.newly_failing.push(c),
                (true, false) => diff.newly_passing.push(c),
                _ if o.is_some_and(|o| tag(&o.result.verdict) != tag(&n.result.verdict)) => {
                    diff.other_verdicts.push(c);
                }
                _ => {}
            }
        }
        for (k, &o) in &old_by {
            if !new_by.contains_key(k) {
                diff.removed.push(change(o, Some(o), None));
            }
        }
        diff
    }

    /// Whether the new run fails where the old did not: the exit status of `diff`.
    pub fn has_new_failures(&self) -> bool {
        !self.newly_failing.is_empty()
    }

    /// The sections in the order both renderings use, each with its heading.
    fn sections(&self) -> [(&'static str, &[Change]); 7] {
        [
            ("Newly failing", &self.newly_failing),
            ("Newly passing", &self.newly_passing),
            ("Other verdict changes", &self.other_verdicts),
            ("Expected values changed", &self.expected_changed),
            ("Input changed", &self.input_changed),
            ("New cases", &self.added),
            ("Removed cases", &self.removed),
        ]
    }

    fn headline(&self) -> String {
        let counts: Vec<String> = self
            .sections()
            .iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(name, list)| format!("{} {}", list.len(), name.to_lowercase()))
            .collect();
        match counts.is_empty() {
            true => "no change".into(),
            false => counts.join(", "),
        }
    }

    fn caveat(&self) -> Option<String> {
        (self.undigested > 0).then(|| {
            format!(
                "{} results are in a report older than format 4, which records no case digests: \
                 changed inputs and expected values cannot be told for them",
                self.undigested
            )
        })
    }

    /// Plain text for a terminal.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} -> {}: {}\n",
            self.old_suite,
            self.new_suite,
            self.headline()
        );
        for (name, list) in self.sections() {
            if list.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{name} ({}):\n", list.len()));
            for c in list {
                out.push_str(&format!("  {} [{}] {}\n", c.case, c.profile, verdicts(c)));
                if name == "Newly failing" {
                    for line in c.lines.iter().take(LINES_PER_FAILURE) {
                        out.push_str(&format!("      {line}\n"));
                    }
                    if c.lines.len() > LINES_PER_FAILURE {
                        let more = c.lines.len() - LINES_PER_FAILURE;
                        out.push_str(&format!("      ({more} more lines in the new report)\n"));
                    }
                }
            }
        }
        if let Some(caveat) = self.caveat() {
            out.push_str(&format!("\nnote: {caveat}\n"));
        }
        out
    }

    /// Markdown for a CI job summary.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## state-conformance: {}\n\n`{}` → `{}`\n",
            self.headline(),
            self.old_suite,
            self.new_suite
        );
        for (name, list) in self.sections() {
            if list.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "\n### {name} ({})\n\n| case | profile | verdict | title |\n|---|---|---|---|\n",
                list.len()
            ));
            for c in list {
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} |\n",
                    c.case,
                    c.profile,
                    verdicts(c),
                    c.title.replace('|', "\\|")
                ));
            }
            if name == "Newly failing" {
                for c in list
                    .iter()
                    .filter(|c| !c.lines.is_empty())
                    .take(DETAILED_FAILURES)
                {
                    out.push_str(&format!("\n<details><summary><code>{}</code> [{}]</summary>\n\n```\n{}\n```\n</details>\n", c.case, c.profile, c.lines.join("\n")));
                }
            }
        }
        if let Some(caveat) = self.caveat() {
            out.push_str(&format!("\n> {caveat}\n"));
        }
        out
    }
}

/// `PASS -> FAIL`, `new: FAIL`, `was: PASS`.
fn verdicts(c: &Change) -> String {
    match (c.old, c.new) {
        (Some(o), Some(n)) if o == n => n.to_owned(),
        (Some(o), Some(n)) => format!("{o} -> {n}"),
        (None, Some(n)) => format!("new: {n}"),
        (Some(o), None) => format!("was: {o}"),
        (None, None) => String::new(),
    }
}
