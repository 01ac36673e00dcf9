//! Self-tests: every mutant of the reference must fail at least one required case.

use serde::Serialize;
use state_reference::{Mutant, Profile};

use super::pool::{RunOptions, run_adapter_cases, run_reference_cases, workers};
use crate::adapter::AdapterSpec;
use crate::corpus::case::Case;
use crate::corpus::{Filter, Suite};
use crate::judge::CaseResult;

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
    run: impl Fn(&[&Case], &Profile, Mutant) -> Result<Vec<CaseResult>, E> + Sync,
    on_report: &(dyn Fn(&MutantReport) + Sync),
) -> Result<Vec<MutantReport>, E> {
    let cases = suite.select(&Filter::default());
    // Mutants run side by side: live cases spend most of their time waiting on the network.
    let heard = |report: &mut Result<MutantReport, E>| {
        if let Ok(r) = report {
            on_report(r);
        }
        false
    };
    workers(
        &Mutant::ALL,
        jobs,
        || (),
        |(), &mutant| Some(one_mutant(&cases, mutant, &run)),
        heard,
        drop,
    )
    .into_iter()
    .collect()
}

fn one_mutant<E>(
    cases: &[&Case],
    mutant: Mutant,
    run: &impl Fn(&[&Case], &Profile, Mutant) -> Result<Vec<CaseResult>, E>,
) -> Result<MutantReport, E> {
    let mut caught_by = Vec::new();
    for profile in Profile::presets() {
        let failed = run(cases, &profile, mutant)?
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
    expectations: None,
    on_result: None,
    standard: crate::judge::Standard::Spec,
};

/// Runs every case under every preset against each mutant of the bundled reference adapter,
/// each a separate process driven like a foreign implementation; `on_report` hears of each
/// mutant as it is done.
pub fn self_test_adapters(
    suite: &Suite,
    jobs: usize,
    on_report: &(dyn Fn(&MutantReport) + Sync),
) -> std::io::Result<Vec<MutantReport>> {
    mutant_reports(
        suite,
        jobs,
        |cases, profile, mutant| {
            Ok(run_adapter_cases(
                cases,
                profile,
                &AdapterSpec::bundled_reference(Some(mutant))?,
                SELF_TEST_CASE_JOBS,
            ))
        },
        on_report,
    )
}

/// Runs every case under every preset against each mutant, in process (fast; the library's
/// own test of the corpus).
pub fn self_test(suite: &Suite, jobs: usize) -> Vec<MutantReport> {
    let reports = mutant_reports(
        suite,
        jobs,
        |cases, profile, mutant| {
            Ok::<_, std::convert::Infallible>(run_reference_cases(
                cases,
                profile,
                Some(mutant),
                SELF_TEST_CASE_JOBS,
            ))
        },
        &|_| {},
    );
    match reports {
        Ok(reports) => reports,
        Err(never) => match never {},
    }
}
