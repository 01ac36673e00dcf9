//! The suite as loaded from a fixtures directory, and running a selection of it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use state_reference::{Mutant, Profile};
use wildmatch::WildMatch;

use crate::adapter::process::AdapterProcess;
use crate::adapter::protocol::Capability;
use crate::case::{Case, Corpus, Weight, load_tombstones};
use crate::catalogue::Catalogue;
use crate::error::LoadError;
use crate::execute::{Outcome, run_adapter, run_reference};
use crate::verdict::{Strictness, Verdict, judge};

/// The fixtures directory: `$STATE_CONFORMANCE_FIXTURES`, else `./fixtures` when it exists,
/// else the one this binary was built from.
pub fn default_fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STATE_CONFORMANCE_FIXTURES") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("fixtures");
    if local.join("requirements.json").is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
}

pub struct Suite {
    pub catalogue: Catalogue,
    pub corpus: Corpus,
}

impl Suite {
    pub fn load(fixtures: &Path) -> Result<Suite, LoadError> {
        let catalogue = Catalogue::load(&fixtures.join("requirements.json"))?;
        let tombstones = load_tombstones(&fixtures.join("tombstones.json"))?;
        let corpus = Corpus::load(&fixtures.join("cases"), &catalogue, &tombstones)?;
        Ok(Suite { catalogue, corpus })
    }

    /// Cases matching the filter, in ID order.
    pub fn select<'s>(&'s self, filter: &Filter) -> Vec<&'s Case> {
        self.corpus
            .cases
            .iter()
            .filter(|c| filter.matches(c))
            .collect()
    }
}

/// Which cases to run: ID globs, tags, requirement levels (all must match when given).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub case_globs: Vec<String>,
    pub tags: Vec<String>,
    pub levels: Vec<String>,
}

impl Filter {
    pub fn matches(&self, case: &Case) -> bool {
        (self.case_globs.is_empty()
            || self
                .case_globs
                .iter()
                .any(|g| WildMatch::new(g).matches(&case.id)))
            && (self.tags.is_empty() || self.tags.iter().any(|t| case.tags.contains(t)))
            && (self.levels.is_empty()
                || self
                    .levels
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(&case.level)))
    }
}

/// One case run under one profile.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub case: String,
    pub profile: String,
    pub weight: Weight,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub outcome: Outcome,
}

/// Runs the cases that apply to `profile` against the reference (optionally a mutant of it).
pub fn run_reference_cases(
    cases: &[&Case],
    profile: &Profile,
    mutant: Option<Mutant>,
) -> Vec<CaseResult> {
    cases
        .iter()
        .filter_map(|case| {
            let weight = case.weight(&profile.name)?;
            let outcome = run_reference(case, profile, mutant);
            let verdict = judge(
                case,
                &profile.name,
                &outcome,
                Strictness::WithRequirementIds,
            );
            Some(CaseResult {
                case: case.id.clone(),
                profile: profile.name.clone(),
                weight,
                verdict,
                outcome,
            })
        })
        .collect()
}

/// How to start an adapter.
#[derive(Debug, Clone)]
pub struct AdapterSpec {
    pub argv: Vec<String>,
    /// The longest any one command may take.
    pub timeout: std::time::Duration,
    /// Check every answer against the protocol's JSON Schema.
    pub check_protocol: bool,
}

impl AdapterSpec {
    /// The bundled reference adapter: this very binary, in adapter mode.
    pub fn bundled_reference(mutant: Option<Mutant>) -> std::io::Result<AdapterSpec> {
        let exe = std::env::current_exe()?.to_string_lossy().into_owned();
        let mut argv = vec![exe, "reference-adapter".to_owned()];
        if let Some(m) = mutant {
            argv.extend(["--mutant".to_owned(), m.name().to_owned()]);
        }
        Ok(AdapterSpec {
            argv,
            timeout: std::time::Duration::from_secs(10),
            check_protocol: false,
        })
    }
}

fn needed(mode: crate::case::Mode) -> Capability {
    match mode {
        crate::case::Mode::Materialize => Capability::Materialize,
        crate::case::Mode::Validate => Capability::Validate,
    }
}

/// Runs the cases that apply to `profile` through an adapter process. A fault fails the case
/// (with the adapter's stderr tail) and the adapter is restarted for the next one.
pub fn run_adapter_cases(cases: &[&Case], profile: &str, spec: &AdapterSpec) -> Vec<CaseResult> {
    let mut adapter: Option<AdapterProcess> = None;
    let mut results = Vec::new();
    for case in cases {
        let Some(weight) = case.weight(profile) else {
            continue;
        };
        let started = match adapter.take() {
            Some(a) => Ok(a),
            None => AdapterProcess::start(&spec.argv, spec.timeout, spec.check_protocol),
        };
        let (outcome, verdict) = match started {
            Err(fault) => {
                let outcome = Outcome::AdapterFault {
                    reason: fault.to_string(),
                    stderr_tail: String::new(),
                };
                let verdict = judge(case, profile, &outcome, Strictness::ItemsOnly);
                (outcome, verdict)
            }
            Ok(a) if !a.hello.capabilities.contains(&needed(case.mode)) => {
                let reason = format!("the adapter lacks the {:?} capability", needed(case.mode));
                adapter = Some(a);
                (
                    Outcome::SetupError {
                        reason: reason.clone(),
                    },
                    Verdict::NotApplicable { reason },
                )
            }
            Ok(mut a) => match run_adapter(case, profile, &mut a, spec.timeout) {
                Ok(outcome) => {
                    adapter = Some(a);
                    let verdict = judge(case, profile, &outcome, Strictness::ItemsOnly);
                    (outcome, verdict)
                }
                Err(fault) => {
                    let outcome = Outcome::AdapterFault {
                        reason: fault.to_string(),
                        stderr_tail: a.stderr_tail(),
                    };
                    drop(a); // killed; the next case starts a fresh one
                    let verdict = judge(case, profile, &outcome, Strictness::ItemsOnly);
                    (outcome, verdict)
                }
            },
        };
        results.push(CaseResult {
            case: case.id.clone(),
            profile: profile.to_owned(),
            weight,
            verdict,
            outcome,
        });
    }
    if let Some(a) = adapter {
        a.stop();
    }
    results
}

/// A mutant and the required cases that caught it.
#[derive(Debug, Clone, Serialize)]
pub struct MutantReport {
    pub mutant: Mutant,
    pub breaks: &'static str,
    /// `case@profile` of every required case that failed against the mutant.
    pub caught_by: Vec<String>,
}

/// For each mutant, the required cases that fail when `run(cases, profile, mutant)` runs
/// the corpus under every preset.
fn mutant_reports<E>(
    suite: &Suite,
    run: impl Fn(&[&Case], &str, Mutant) -> Result<Vec<CaseResult>, E>,
) -> Result<Vec<MutantReport>, E> {
    let cases = suite.select(&Filter::default());
    Mutant::ALL
        .iter()
        .map(|&mutant| {
            let mut caught_by = Vec::new();
            for profile in Profile::preset_names() {
                let failed = run(&cases, profile, mutant)?
                    .into_iter()
                    .filter(|r| r.verdict.is_failure());
                caught_by.extend(failed.map(|r| format!("{}@{}", r.case, r.profile)));
            }
            Ok(MutantReport {
                mutant,
                breaks: mutant.breaks(),
                caught_by,
            })
        })
        .collect()
}

/// Runs every case under every preset against each mutant of the bundled reference adapter,
/// each a separate process driven like a foreign implementation.
pub fn self_test_adapters(suite: &Suite) -> std::io::Result<Vec<MutantReport>> {
    mutant_reports(suite, |cases, profile, mutant| {
        Ok(run_adapter_cases(
            cases,
            profile,
            &AdapterSpec::bundled_reference(Some(mutant))?,
        ))
    })
}

/// Runs every case under every preset against each mutant, in process (fast; the library's
/// own test of the corpus).
pub fn self_test(suite: &Suite) -> Result<Vec<MutantReport>, LoadError> {
    mutant_reports(suite, |cases, profile, mutant| {
        let profile = Profile::preset(profile).expect("presets parse");
        Ok(run_reference_cases(cases, &profile, Some(mutant)))
    })
}

/// Requirement coverage: which cases cite each requirement.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub id: String,
    pub level: String,
    pub cases: Vec<String>,
}

pub fn coverage(suite: &Suite) -> Vec<Coverage> {
    suite
        .catalogue
        .iter()
        .map(|r| Coverage {
            id: r.id.clone(),
            level: r.level.clone(),
            cases: suite
                .corpus
                .cases
                .iter()
                .filter(|c| c.requirements.contains(&r.id))
                .map(|c| c.id.clone())
                .collect(),
        })
        .collect()
}

/// MUST / SHOULD (and their negations) requirements that no case cites.
pub fn uncovered(suite: &Suite) -> Vec<String> {
    let covered: BTreeSet<&String> = suite
        .corpus
        .cases
        .iter()
        .flat_map(|c| &c.requirements)
        .collect();
    suite
        .catalogue
        .iter()
        .filter(|r| r.needs_case() && !covered.contains(&r.id))
        .map(|r| r.id.clone())
        .collect()
}
