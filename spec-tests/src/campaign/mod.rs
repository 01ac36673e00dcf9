//! Campaigns of generated scenarios against an adapter, with the reference as the oracle
//! (`generate`, `expect`). A failing scenario is shrunk (`shrink`) and written as a
//! self-contained repro bundle (`bundle`) that `replay` re-drives; `determinism` compares
//! two runs of the same scenario.

pub(crate) mod bundle;
pub(crate) mod cite;
pub(crate) mod determinism;
pub(crate) mod expect;
pub(crate) mod generate;
pub(crate) mod shrink;

pub use bundle::{BUNDLE_FORMAT, Bundle};

use std::path::{Path, PathBuf};

use serde::Serialize;
use state_reference::Profile;

use crate::adapter::AdapterSpec;
use crate::corpus::case::{Case, Step};

use crate::run::pool::workers;
use crate::run::{RunOptions, run_adapter_cases};
use bundle::{ShrinkStats, bundle_failure, run_one};
pub use generate::{scenario, scenario_seed};

/// The generated scenarios of a campaign.
pub fn scenarios(seed: u64, count: u64) -> Vec<Case> {
    (0..count)
        .map(|i| scenario(scenario_seed(seed, i)))
        .collect()
}

/// The seed a generated case was made from (its ID is `gen-SEEDHEX`).
pub fn generated_seed(case: &Case) -> Option<u64> {
    let hex = case.id.strip_prefix("gen-")?;
    u64::from_str_radix(hex, 16).ok()
}

/// Replays the bundle at `path` against `spec` (a live one up to [`LIVE_REPLAYS`] times);
/// the attempt that reproduced its failure.
fn replay(path: &Path, spec: &AdapterSpec) -> Option<usize> {
    let bundle = Bundle::load(path).ok()?;
    let profile = Profile::preset(&bundle.profile).ok()?;
    let attempts = match bundle.case.mode {
        crate::corpus::case::Mode::Subscribe => LIVE_REPLAYS,
        _ => 1,
    };
    (1..=attempts)
        .find(|_| run_one(&bundle.case, &profile, spec).is_some_and(|r| r.verdict.is_failure()))
}

/// One mutant in a generated self-test: the scenario that caught it, its bundle, and whether
/// replaying the bundle alone reproduced the failure.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedCatch {
    pub mutant: state_reference::Mutant,
    /// `case@profile` of the first failing scenario.
    pub caught_by: Option<String>,
    pub bundle: Option<PathBuf>,
    pub shrink: ShrinkStats,
    /// The replay attempt (1-based) that reproduced the failure, if one did.
    pub replayed: Option<usize>,
}

impl GeneratedCatch {
    pub fn ok(&self) -> bool {
        self.caught_by.is_some() && self.replayed.is_some()
    }
}

/// Replays of a live bundle before it is said not to reproduce: a live failure can depend on
/// how reads interleave with a loaded machine, as the shrinker's double confirmation allows.
const LIVE_REPLAYS: usize = 3;

/// Failing scenarios tried per mutant in a generated self-test before its catch is said not
/// to replay.
const CANDIDATES: usize = 3;

/// How long an await of the generated self-test waits (see [`generated_self_test`]).
const SELF_TEST_AWAIT_MS: u64 = 2_000;

/// Runs `count` scenarios of `seed` under `profile` against each mutant's adapter (from
/// `adapter_for`), stopping at its first failure, which is shrunk, written to `dir` and
/// replayed from the bundle alone; if that bundle does not replay, the campaign goes on to
/// the next failure (up to `CANDIDATES`). Mutants run `jobs` at a time.
pub fn generated_self_test(
    seed: u64,
    count: u64,
    profile: &str,
    dir: &Path,
    jobs: usize,
    adapter_for: &(dyn Fn(state_reference::Mutant) -> AdapterSpec + Sync),
    on_catch: &(dyn Fn(&GeneratedCatch) + Sync),
) -> Vec<GeneratedCatch> {
    // The mutants are the reference itself, which reaches any point the reference reaches
    // within milliseconds: their awaits need not wait the default 5 s, and a mutant that
    // stalls (closed-not-eof) costs that wait at every shrinking step.
    let mut cases = scenarios(seed, count);
    for case in &mut cases {
        for step in &mut case.steps {
            if let Step::Await(wait) = step {
                wait.timeout_ms.get_or_insert(SELF_TEST_AWAIT_MS);
            }
        }
    }
    let refs: Vec<&Case> = cases.iter().collect();
    let Ok(reference) = Profile::preset(profile) else {
        return Vec::new();
    };
    let catch = |(): &mut (), &mutant: &state_reference::Mutant| {
        let spec = adapter_for(mutant);
        let options = RunOptions {
            jobs: 4,
            fail_fast: true,
            expectations: None,
            on_result: None,
            standard: crate::judge::Standard::Spec,
        };
        let mut catch = GeneratedCatch {
            mutant,
            caught_by: None,
            bundle: None,
            shrink: ShrinkStats::default(),
            replayed: None,
        };
        // The first failing scenario whose bundle replays: a failure that hung on how reads
        // interleaved on a loaded machine may not come back alone, and the next one may.
        let mut from = 0;
        for _ in 0..CANDIDATES {
            let results = run_adapter_cases(&refs[from..], &reference, &spec, options);
            let Some(at) = results
                .iter()
                .find(|r| r.verdict.is_failure())
                .and_then(|r| refs.iter().position(|c| c.id == r.case))
            else {
                break;
            };
            let case = refs[at];
            catch.caught_by = Some(format!("{}@{}", case.id, reference.name));
            let bundle = bundle_failure(case, generated_seed(case), &reference, &spec, 300);
            catch.shrink = bundle.shrink;
            if let Ok(path) = bundle.write(&dir.join(mutant.name())) {
                catch.replayed = replay(&path, &spec);
                catch.bundle = Some(path);
            }
            if catch.replayed.is_some() {
                break;
            }
            from = at + 1;
        }
        Some(catch)
    };
    let heard = |c: &mut GeneratedCatch| {
        on_catch(c);
        false
    };
    workers(
        &state_reference::Mutant::ALL,
        jobs,
        || (),
        catch,
        heard,
        drop,
    )
}
