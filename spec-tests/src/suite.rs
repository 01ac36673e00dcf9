//! The suite as loaded from a fixtures directory, and running a selection of it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// How a run proceeds: how many cases at once, whether to stop at the first failure, and
/// who hears of each result as it comes.
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    pub jobs: usize,
    pub fail_fast: bool,
    pub on_result: Option<&'a (dyn Fn(&CaseResult) + Sync)>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            jobs: 1,
            fail_fast: false,
            on_result: None,
        }
    }
}

/// Runs `work` over `items` on up to `options.jobs` threads, each with its own `init()`
/// state (an adapter process, say) handed back to `finish` at the end. Results come back in
/// input order; with `fail_fast`, items not started after a failure are left out.
fn pool<T: Sync, S>(
    items: &[T],
    options: RunOptions<'_>,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) -> Option<CaseResult> + Sync,
    finish: impl Fn(S) + Sync,
) -> Vec<CaseResult> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let done = Mutex::new(Vec::with_capacity(items.len()));
    let worker = || {
        let mut state = init();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= items.len() || stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some(result) = work(&mut state, &items[i]) {
                if options.fail_fast && result.verdict.fails_run() {
                    stop.store(true, Ordering::Relaxed);
                }
                if let Some(report) = options.on_result {
                    report(&result);
                }
                done.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, result));
            }
        }
        finish(state);
    };
    let jobs = options.jobs.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        for _ in 1..jobs {
            scope.spawn(worker);
        }
        worker();
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Runs the cases that apply to `profile` against the reference (optionally a mutant of it).
pub fn run_reference_cases(
    cases: &[&Case],
    profile: &Profile,
    mutant: Option<Mutant>,
    options: RunOptions<'_>,
) -> Vec<CaseResult> {
    pool(
        cases,
        options,
        || (),
        |(), case| {
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
        },
        drop,
    )
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
        crate::case::Mode::Subscribe => Capability::Subscribe,
        crate::case::Mode::Produce => Capability::Produce,
    }
}

/// Runs the cases that apply to `profile` through adapter processes (one per job). A fault
/// fails the case (with the adapter's stderr tail) and the adapter is restarted for the next.
pub fn run_adapter_cases(
    cases: &[&Case],
    profile: &str,
    spec: &AdapterSpec,
    options: RunOptions<'_>,
) -> Vec<CaseResult> {
    pool(
        cases,
        options,
        || None,
        |adapter: &mut Option<AdapterProcess>, case| {
            let weight = case.weight(profile)?;
            let (outcome, verdict) = run_one(case, profile, spec, adapter);
            Some(CaseResult {
                case: case.id.clone(),
                profile: profile.to_owned(),
                weight,
                verdict,
                outcome,
            })
        },
        |adapter| {
            if let Some(a) = adapter {
                a.stop();
            }
        },
    )
}

/// One case through the adapter in `slot` (started if there is none; left empty after a fault).
fn run_one(
    case: &Case,
    profile: &str,
    spec: &AdapterSpec,
    slot: &mut Option<AdapterProcess>,
) -> (Outcome, Verdict) {
    let started = match slot.take() {
        Some(a) => Ok(a),
        None => AdapterProcess::start(&spec.argv, spec.timeout, spec.check_protocol),
    };
    match started {
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
            *slot = Some(a);
            (
                Outcome::SetupError {
                    reason: reason.clone(),
                },
                Verdict::NotApplicable { reason },
            )
        }
        Ok(mut a) => match run_adapter(case, profile, &mut a, spec.timeout) {
            Ok(outcome) => {
                *slot = Some(a);
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
    }
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
fn mutant_reports<E: Send>(
    suite: &Suite,
    jobs: usize,
    run: impl Fn(&[&Case], &str, Mutant) -> Result<Vec<CaseResult>, E> + Sync,
) -> Result<Vec<MutantReport>, E> {
    let cases = suite.select(&Filter::default());
    // Mutants run side by side: live cases spend most of their time waiting on the network.
    let next = AtomicUsize::new(0);
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, Mutant::ALL.len()) {
            scope.spawn(|| {
                while let Some(&mutant) = Mutant::ALL.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let report = one_mutant(&cases, mutant, &run);
                    reports
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(report);
                }
            });
        }
    });
    let mut reports: Vec<MutantReport> = reports
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .collect::<Result<_, E>>()?;
    reports.sort_by_key(|r| Mutant::ALL.iter().position(|m| *m == r.mutant));
    Ok(reports)
}

fn one_mutant<E>(
    cases: &[&Case],
    mutant: Mutant,
    run: &impl Fn(&[&Case], &str, Mutant) -> Result<Vec<CaseResult>, E>,
) -> Result<MutantReport, E> {
    let mut caught_by = Vec::new();
    for profile in Profile::preset_names() {
        let failed = run(cases, profile, mutant)?
            .into_iter()
            .filter(|r| r.verdict.is_failure());
        caught_by.extend(failed.map(|r| format!("{}@{}", r.case, r.profile)));
    }
    Ok(MutantReport {
        mutant,
        breaks: mutant.breaks(),
        caught_by,
    })
}

/// Cases of one mutant run at once in a self-test: a caught mutant's failing live cases each
/// wait out their `await` timeout, so they are best overlapped.
const SELF_TEST_CASE_JOBS: RunOptions<'static> = RunOptions {
    jobs: 4,
    fail_fast: false,
    on_result: None,
};

/// Runs every case under every preset against each mutant of the bundled reference adapter,
/// each a separate process driven like a foreign implementation.
pub fn self_test_adapters(suite: &Suite, jobs: usize) -> std::io::Result<Vec<MutantReport>> {
    mutant_reports(suite, jobs, |cases, profile, mutant| {
        Ok(run_adapter_cases(
            cases,
            profile,
            &AdapterSpec::bundled_reference(Some(mutant))?,
            SELF_TEST_CASE_JOBS,
        ))
    })
}

/// Runs every case under every preset against each mutant, in process (fast; the library's
/// own test of the corpus).
pub fn self_test(suite: &Suite, jobs: usize) -> Result<Vec<MutantReport>, LoadError> {
    mutant_reports(suite, jobs, |cases, profile, mutant| {
        let profile = Profile::preset(profile).expect("presets parse");
        Ok(run_reference_cases(
            cases,
            &profile,
            Some(mutant),
            SELF_TEST_CASE_JOBS,
        ))
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
