//! Running a selection of cases under one profile on a pool of `--jobs` workers: against the
//! reference in process, or through adapter processes (one per worker, restarted after any
//! fault).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use state_reference::{Mutant, Profile};

use super::execute::{run_adapter, run_reference};
use crate::adapter::AdapterSpec;
use crate::adapter::process::AdapterProcess;
use crate::corpus::case::Case;
use crate::judge::expectations::Expectations;
use crate::judge::outcome::Outcome;
use crate::judge::position::weight;
use crate::judge::{CaseResult, Standard, Strictness, Verdict, judge};

/// How a run proceeds: how many cases at once, whether to stop at the first failure, the
/// known failures (applied to each result as it comes, so a known failure neither stops a
/// `fail_fast` run nor reads as a failure to a listener), and who hears of each result.
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    pub jobs: usize,
    pub fail_fast: bool,
    pub expectations: Option<&'a Expectations>,
    pub on_result: Option<&'a (dyn Fn(&CaseResult) + Sync)>,
    /// What beyond the spec the cases are held to (`--standard`).
    pub standard: Standard,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            jobs: 1,
            fail_fast: false,
            expectations: None,
            on_result: None,
            standard: Standard::Spec,
        }
    }
}

/// The one worker pool: runs `work` over `items` on up to `jobs` threads, each with its own
/// `init()` state (an adapter process, say) handed back to `finish` at the end. Each result
/// is passed through `each` as it comes (to adjust it, or hear of it); once `each` says stop,
/// items not yet started are left out. Results come back in input order.
pub fn workers<T: Sync, S, R: Send>(
    items: &[T],
    jobs: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) -> Option<R> + Sync,
    each: impl Fn(&mut R) -> bool + Sync,
    finish: impl Fn(S) + Sync,
) -> Vec<R> {
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
            if let Some(mut result) = work(&mut state, &items[i]) {
                if each(&mut result) {
                    stop.store(true, Ordering::Relaxed);
                }
                done.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((i, result));
            }
        }
        finish(state);
    };
    let jobs = jobs.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        for _ in 1..jobs {
            scope.spawn(worker);
        }
        worker();
    });
    let mut done = done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Case runs on the [`workers`]: each timed, its known failure applied, a fail-fast stop
/// decided and the listener told, as it comes.
fn pool<T: Sync, S>(
    items: &[T],
    options: RunOptions<'_>,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) -> Option<CaseResult> + Sync,
    finish: impl Fn(S) + Sync,
) -> Vec<CaseResult> {
    let timed = |state: &mut S, item: &T| {
        let started = std::time::Instant::now();
        let mut result = work(state, item)?;
        result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Some(result)
    };
    let each = |result: &mut CaseResult| {
        if let Some(e) = options.expectations {
            e.apply(std::slice::from_mut(result));
        }
        if let Some(report) = options.on_result {
            report(result);
        }
        options.fail_fast && result.verdict.fails_run()
    };
    workers(items, options.jobs, init, timed, each, finish)
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
            let weight = weight(case, &profile.name, options.standard)?;
            let outcome = run_reference(case, profile, mutant);
            let verdict = judge(
                case,
                profile,
                &outcome,
                Strictness::WithRequirementIds,
                options.standard,
            );
            Some(CaseResult::new(case, profile, weight, outcome, verdict))
        },
        drop,
    )
}

/// Runs the cases that apply to `profile` through adapter processes (one per job). A fault
/// fails the case (with the adapter's stderr tail) and the adapter is restarted for the next.
pub fn run_adapter_cases(
    cases: &[&Case],
    profile: &Profile,
    spec: &AdapterSpec,
    options: RunOptions<'_>,
) -> Vec<CaseResult> {
    pool(
        cases,
        options,
        || None,
        |adapter: &mut Option<AdapterProcess>, case| {
            let weight = weight(case, &profile.name, options.standard)?;
            let (outcome, verdict) = run_one(case, (profile, options.standard), spec, adapter);
            Some(CaseResult::new(case, profile, weight, outcome, verdict))
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
    (profile, standard): (&Profile, Standard),
    spec: &AdapterSpec,
    slot: &mut Option<AdapterProcess>,
) -> (Outcome, Verdict) {
    let started = match slot.take() {
        Some(a) => Ok(a),
        None => spec.start(),
    };
    match started {
        Err(fault) => {
            let outcome = Outcome::AdapterFault {
                reason: fault.to_string(),
                stderr_tail: String::new(),
            };
            let verdict = judge(case, profile, &outcome, Strictness::ItemsOnly, standard);
            (outcome, verdict)
        }
        Ok(a) if !a.hello.capabilities.contains(&case.mode) => {
            let reason = format!("the adapter lacks the {:?} capability", case.mode);
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
                let verdict = judge(case, profile, &outcome, Strictness::ItemsOnly, standard);
                (outcome, verdict)
            }
            Err(fault) => {
                let outcome = Outcome::AdapterFault {
                    reason: fault.to_string(),
                    stderr_tail: a.stderr_tail(),
                };
                drop(a); // killed; the next case starts a fresh one
                let verdict = judge(case, profile, &outcome, Strictness::ItemsOnly, standard);
                (outcome, verdict)
            }
        },
    }
}
