//! The `run` command as a library call: a [`RunConfig`] (what the command line asked for,
//! already parsed) in, a [`RunOutput`] (the report, the bundles written, the runs that
//! differed) out. The CLI only prints it and picks the exit code.

use std::path::PathBuf;

use state_reference::{Mutant, Profile};

use crate::adapter::AdapterSpec;
use crate::campaign::bundle::bundle_failure;
use crate::campaign::determinism::{Difference, compare_runs};
use crate::campaign::{generated_seed, scenarios};
use crate::corpus::case::Case;
use crate::corpus::{Filter, Suite};
use crate::judge::expectations::Expectations;
use crate::judge::outcome::Outcome;
use crate::judge::{CaseResult, Standard, Verdict};
use crate::report::RunReport;
use crate::run::{RunOptions, run_adapter_cases};

/// What to run, and how.
pub struct RunConfig<'a> {
    pub profiles: Vec<Profile>,
    /// Profiles asked for by name: judged whatever the adapter claims. The others (from
    /// `all`) are judged only where its `hello` claims them, and not applicable elsewhere.
    pub named_profiles: Vec<String>,
    pub adapter: AdapterSpec,
    /// Set when the adapter is a mutant of the bundled reference (for re-run commands).
    pub mutant: Option<Mutant>,
    pub filter: Filter,
    /// Generated scenarios (`--random N --seed S`), alone or with the corpus.
    pub campaign: Option<Campaign>,
    /// `(k, n)`: every nth selected case from the kth (1-based).
    pub shard: Option<(usize, usize)>,
    pub jobs: usize,
    pub fail_fast: bool,
    /// What beyond the spec the cases are held to (`--standard`).
    pub standard: Standard,
    pub expectations: Option<Expectations>,
    /// Told how many case runs the selection makes, before the first starts.
    pub on_planned: Option<&'a dyn Fn(usize)>,
    /// Told of each result as it comes.
    pub on_result: Option<&'a (dyn Fn(&CaseResult) + Sync)>,
    /// How re-run commands start: the program as invoked, and options that hold for every
    /// command (`--fixtures DIR`), shell-quoted.
    pub rerun_program: String,
}

/// A campaign of generated scenarios.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub count: u64,
    pub seed: u64,
    pub with_corpus: bool,
    pub check_determinism: bool,
    /// Where failing scenarios' repro bundles go, after shrinking.
    pub bundles: PathBuf,
    pub shrink_budget: usize,
    pub max_bundles: usize,
}

/// A failing scenario shrunk into a bundle.
#[derive(Debug, Clone)]
pub struct BundleWritten {
    pub case: String,
    pub profile: String,
    pub size_before: usize,
    pub size_after: usize,
    pub runs: usize,
    pub path: PathBuf,
}

/// What a run produced.
pub struct RunOutput {
    pub report: RunReport,
    pub cases_selected: usize,
    pub bundles: Vec<BundleWritten>,
    /// Further failing scenarios not shrunk (`max_bundles` reached).
    pub bundles_skipped: bool,
    /// `Some` when determinism was checked: each scenario run that differed.
    pub nondeterministic: Option<Vec<(String, String, Difference)>>,
}

impl RunOutput {
    /// Every required case passed (or failed as expected) and every run was deterministic.
    pub fn ok(&self) -> bool {
        self.report.summary.ok() && self.nondeterministic.as_ref().is_none_or(Vec::is_empty)
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the filter selects no case{hint}")]
    NothingSelected {
        /// A "did you mean" for a `--case` that names no case.
        hint: String,
    },
    #[error("the expectations file names {}", .0.join("; "))]
    UnknownExpectations(Vec<String>),
    #[error("cannot run `{argv}`: {fault}")]
    AdapterUnusable {
        argv: String,
        fault: crate::adapter::process::AdapterFault,
    },
    #[error("cannot write a bundle to {}: {source}", dir.display())]
    Bundle {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Runs the selection under every profile and builds the report.
pub fn run(suite: &Suite, config: RunConfig<'_>) -> Result<RunOutput, RunError> {
    let generated = match &config.campaign {
        Some(c) => scenarios(c.seed, c.count),
        None => Vec::new(),
    };
    let mut cases = match &config.campaign {
        Some(c) if !c.with_corpus => Vec::new(),
        _ => suite.select(&config.filter),
    };
    cases.extend(generated.iter().filter(|c| config.filter.matches(c)));
    if let Some((k, n)) = config.shard {
        cases = shard(cases, k, n);
    }
    if cases.is_empty() {
        let close: Vec<&str> = config
            .filter
            .case_globs
            .iter()
            .filter(|g| !g.contains(['*', '?', '[']))
            .flat_map(|g| suite.similar_ids(g))
            .collect();
        return Err(RunError::NothingSelected {
            hint: crate::corpus::did_you_mean(&close),
        });
    }
    if let Some(e) = &config.expectations {
        let ids = suite
            .corpus
            .cases
            .iter()
            .map(|c| c.id.as_str())
            .chain(generated.iter().map(|c| c.id.as_str()));
        let unknown = e.unknown(ids);
        if !unknown.is_empty() {
            return Err(RunError::UnknownExpectations(unknown));
        }
    }
    // An adapter that cannot start or answer `hello` is one error, not one per case.
    let hello = config
        .adapter
        .probe()
        .map_err(|fault| RunError::AdapterUnusable {
            argv: config.adapter.argv.join(" "),
            fault,
        })?;
    // An adapter that claims no profile is judged under every one asked for.
    let (judged, unclaimed): (Vec<&Profile>, Vec<&Profile>) =
        config.profiles.iter().partition(|p| {
            hello.profiles.is_empty()
                || hello.profiles.contains(&p.name)
                || config.named_profiles.contains(&p.name)
        });
    if let Some(planned) = config.on_planned {
        let runs = judged
            .iter()
            .map(|p| cases.iter().filter(|c| c.weight(&p.name).is_some()).count());
        planned(runs.sum());
    }
    let options = RunOptions {
        jobs: config.jobs,
        fail_fast: config.fail_fast,
        expectations: config.expectations.as_ref(),
        on_result: config.on_result,
        standard: config.standard,
    };
    let mut results = Vec::new();
    for profile in &judged {
        results.extend(run_adapter_cases(&cases, profile, &config.adapter, options));
        if config.fail_fast && results.iter().any(|r| r.verdict.fails_run()) {
            break;
        }
    }
    for profile in &unclaimed {
        results.extend(not_claimed(&cases, profile, &hello.profiles));
    }
    let mut output = RunOutput {
        report: RunReport::new(&[], Vec::new(), Vec::new(), Vec::new(), None, ""),
        cases_selected: cases.len(),
        bundles: Vec::new(),
        bundles_skipped: false,
        nondeterministic: None,
    };
    if let Some(campaign) = &config.campaign {
        if campaign.check_determinism {
            output.nondeterministic = Some(determinism(&cases, &results, &judged, &config));
        }
        (output.bundles, output.bundles_skipped) =
            bundle_failures(&cases, &results, &config.adapter, campaign)?;
    }
    let names = config.profiles.iter().map(|p| p.name.clone()).collect();
    output.report = RunReport::new(
        &cases,
        config.adapter.argv.clone(),
        names,
        results,
        Some(hello.implementation),
        &format!(
            "{} run --profile {{profile}} --case {{case}}{}",
            config.rerun_program,
            rerun_suffix(&config)
        ),
    );
    Ok(output)
}

/// The results of a profile the adapter does not claim (and was not named): not applicable.
fn not_claimed(cases: &[&Case], profile: &Profile, claimed: &[String]) -> Vec<CaseResult> {
    let reason = format!(
        "the adapter claims {} in its hello, not {}; name it (--profile {}) to judge it anyway",
        claimed.join(", "),
        profile.name,
        profile.name
    );
    cases
        .iter()
        .filter_map(|case| {
            let weight = case.weight(&profile.name)?;
            let outcome = Outcome::SetupError {
                reason: reason.clone(),
            };
            let verdict = Verdict::NotApplicable {
                reason: reason.clone(),
            };
            Some(CaseResult::new(case, profile, weight, outcome, verdict))
        })
        .collect()
}

/// Every `n`th case from the `k`th (1-based).
fn shard(cases: Vec<&Case>, k: usize, n: usize) -> Vec<&Case> {
    cases
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % n == k - 1)
        .map(|(_, c)| c)
        .collect()
}

/// What a re-run command adds after `--case ID`: the campaign, the adapter's options, and the
/// mutant or the adapter command (shell-quoted, so the line works as printed).
fn rerun_suffix(config: &RunConfig<'_>) -> String {
    let mut suffix = match &config.campaign {
        Some(c) => format!(" --seed {} --random {}", c.seed, c.count),
        None => String::new(),
    };
    if config.adapter.check_protocol {
        suffix.push_str(" --check-protocol");
    }
    if config.standard != Standard::Spec {
        suffix.push_str(&format!(" --standard {}", config.standard.name()));
    }
    if config.adapter.timeout != AdapterSpec::DEFAULT_TIMEOUT {
        suffix.push_str(&format!(
            " --adapter-timeout-ms {}",
            config.adapter.timeout.as_millis()
        ));
    }
    match (
        config.mutant,
        AdapterSpec::is_bundled_reference(&config.adapter.argv),
    ) {
        (Some(m), _) => format!("{suffix} --mutant {}", m.name()),
        (None, false) => format!("{suffix} -- {}", shell_words(&config.adapter.argv)),
        (None, true) => suffix,
    }
}

/// `words` as one shell command line, each quoted where it needs to be.
pub fn shell_words<S: AsRef<str>>(words: &[S]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| match shlex::try_quote(w.as_ref()) {
            Ok(q) => q.into_owned(),
            // A word with a NUL byte cannot be passed on a command line at all.
            Err(_) => w.as_ref().escape_debug().to_string(),
        })
        .collect();
    quoted.join(" ")
}

/// Shrinks each failed generated scenario and writes its bundle, the first `max_bundles`.
fn bundle_failures(
    cases: &[&Case],
    results: &[CaseResult],
    adapter: &AdapterSpec,
    campaign: &Campaign,
) -> Result<(Vec<BundleWritten>, bool), RunError> {
    let mut written = Vec::new();
    for r in results.iter().filter(|r| r.verdict.is_failure()) {
        let Some(case) = cases.iter().find(|c| c.id == r.case) else {
            continue;
        };
        let Some(seed) = generated_seed(case) else {
            continue;
        };
        if written.len() == campaign.max_bundles {
            return Ok((written, true));
        }
        let Ok(profile) = Profile::preset(&r.profile) else {
            continue;
        };
        let bundle = bundle_failure(case, Some(seed), &profile, adapter, campaign.shrink_budget);
        let path = bundle
            .write(&campaign.bundles)
            .map_err(|source| RunError::Bundle {
                dir: campaign.bundles.clone(),
                source,
            })?;
        written.push(BundleWritten {
            case: r.case.clone(),
            profile: r.profile.clone(),
            size_before: bundle.shrink.size_before,
            size_after: bundle.shrink.size_after,
            runs: bundle.shrink.runs,
            path,
        });
    }
    Ok((written, false))
}

/// Runs the generated cases a second time and lists the runs that differed.
fn determinism(
    cases: &[&Case],
    first: &[CaseResult],
    profiles: &[&Profile],
    config: &RunConfig<'_>,
) -> Vec<(String, String, Difference)> {
    let generated: Vec<&Case> = cases
        .iter()
        .copied()
        .filter(|c| generated_seed(c).is_some())
        .collect();
    let options = RunOptions {
        jobs: config.jobs,
        standard: config.standard,
        ..RunOptions::default()
    };
    let mut differed = Vec::new();
    for profile in profiles {
        for again in run_adapter_cases(&generated, profile, &config.adapter, options) {
            let Some(before) = first
                .iter()
                .find(|r| r.case == again.case && r.profile == again.profile)
            else {
                continue;
            };
            let Some(case) = generated.iter().find(|c| c.id == again.case) else {
                continue;
            };
            let difference = compare_runs(case, &before.outcome, &again.outcome);
            if difference != Difference::None {
                differed.push((again.case, again.profile, difference));
            }
        }
    }
    differed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_selection() {
        let cases: Vec<Case> = scenarios(3, 10);
        let refs: Vec<&Case> = cases.iter().collect();
        let mut seen: Vec<&str> = (1..=3)
            .flat_map(|k| shard(refs.clone(), k, 3))
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(shard(refs.clone(), 2, 3).len(), 3);
        seen.sort_unstable();
        let mut all: Vec<&str> = refs.iter().map(|c| c.id.as_str()).collect();
        all.sort_unstable();
        assert_eq!(seen, all);
    }
}
