//! Campaigns of generated scenarios against an adapter, with the reference as the oracle.
//! A failing scenario is shrunk (greedy delta debugging over batches, items, steps, fault
//! rules and ops, each candidate re-run against the same adapter) and written as a
//! self-contained repro bundle that `replay` re-drives.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::Profile;

use crate::case::{Case, Mode, Step};
use crate::execute::{Outcome, run_reference};
use crate::generate::{fill_expectations, scenario, scenario_seed};
use crate::suite::{AdapterSpec, CaseResult, RunOptions, run_adapter_cases};
use crate::verdict::Verdict;

/// Version of the repro bundle format; bumped on any incompatible change.
pub const BUNDLE_FORMAT: u32 = 1;

/// The generated scenarios of a campaign.
pub fn scenarios(seed: u64, count: u64) -> Vec<Case> {
    (0..count)
        .map(|i| scenario(scenario_seed(seed, i)))
        .collect()
}

/// Everything needed to re-drive one failure: written by a campaign, read by `replay` and
/// `fixtures promote`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    pub format: u32,
    /// The suite version that wrote it.
    pub suite: String,
    pub profile: String,
    /// The scenario's own seed (`generate::scenario(seed)` re-makes the unshrunk case).
    pub seed: Option<u64>,
    /// The adapter it failed against (argv).
    pub adapter: Vec<String>,
    /// The minimized case, fault plan included.
    pub case: Case,
    /// The simulator's exchanges in the failing run, a line each (live cases).
    pub transcript: Vec<String>,
    /// The reference's outcome (in process).
    pub expected: Value,
    /// The adapter's outcome.
    pub observed: Value,
    pub mismatches: Vec<String>,
    /// How much shrinking removed: sizes before and after, and the runs it took.
    pub shrink: ShrinkStats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShrinkStats {
    pub size_before: usize,
    pub size_after: usize,
    pub runs: usize,
}

/// Why a bundle cannot be used: the file, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct BundleError {
    pub path: String,
    pub reason: String,
}

impl Bundle {
    /// Reads and checks a bundle completely before anything runs: JSON, format version,
    /// the case against the case schema, the profile.
    pub fn load(path: &Path) -> Result<Bundle, BundleError> {
        let fail = |reason: String| BundleError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("not JSON (truncated?): {e}")))?;
        match value.get("format").and_then(Value::as_u64) {
            Some(f) if f == u64::from(BUNDLE_FORMAT) => {}
            Some(f) => {
                return Err(fail(format!(
                    "bundle format {f}; this binary reads format {BUNDLE_FORMAT}"
                )));
            }
            None => return Err(fail("not a repro bundle (no `format`)".into())),
        }
        let case_value = value
            .get("case")
            .cloned()
            .ok_or_else(|| fail("no `case`".into()))?;
        crate::case::check_case_value(&case_value).map_err(|e| fail(format!("case: {e}")))?;
        let bundle: Bundle =
            serde_json::from_value(value).map_err(|e| fail(format!("inconsistent bundle: {e}")))?;
        if Profile::preset(&bundle.profile).is_err() {
            return Err(fail(format!("unknown profile {}", bundle.profile)));
        }
        if !bundle.case.profiles.contains_key(&bundle.profile) {
            return Err(fail(format!(
                "inconsistent bundle: its case does not apply to profile {}",
                bundle.profile
            )));
        }
        Ok(bundle)
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.{}.bundle.json", self.case.id, self.profile));
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&path, text + "\n")?;
        Ok(path)
    }
}

/// How big a case is, for shrinking: messages, steps, rules and ops.
pub fn size(case: &Case) -> usize {
    let batch_items: usize = case.batches.iter().map(|b| b.items.len() + 1).sum();
    let steps: usize = case
        .steps
        .iter()
        .map(|s| match s {
            Step::Append { items } => items.len() + 1,
            Step::Faults { rules } => rules.len() + 1,
            Step::Produce { ops } => ops.len() + 1,
            _ => 1,
        })
        .sum();
    batch_items + steps + usize::from(case.collections.is_some())
}

/// Every case one removal smaller than `case`, larger removals first.
fn reductions(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    let with = |f: &dyn Fn(&mut Case)| {
        let mut c = case.clone();
        f(&mut c);
        c
    };
    for i in 0..case.batches.len() {
        if case.batches.len() > 1 {
            out.push(with(&|c| {
                c.batches.remove(i);
                if let Some(last) = c.batches.last_mut() {
                    last.up_to_date = true;
                }
            }));
        }
    }
    for i in 0..case.batches.len().saturating_sub(1) {
        out.push(with(&|c| {
            let next = c.batches.remove(i + 1);
            c.batches[i].items.extend(next.items);
            c.batches[i].offset = next.offset;
            c.batches[i].up_to_date = next.up_to_date;
        }));
    }
    for (i, b) in case.batches.iter().enumerate() {
        for j in 0..b.items.len() {
            out.push(with(&|c| {
                c.batches[i].items.remove(j);
            }));
        }
    }
    for (i, step) in case.steps.iter().enumerate() {
        let last_await = case
            .steps
            .iter()
            .rposition(|s| matches!(s, Step::Await(_)))
            .unwrap_or(usize::MAX);
        if !matches!(step, Step::Subscribe | Step::Produce { .. }) && i != last_await {
            out.push(with(&|c| {
                c.steps.remove(i);
            }));
        }
        let (len, what) = match step {
            Step::Append { items } if items.len() > 1 => (items.len(), 0),
            Step::Faults { rules } => (rules.len(), 1),
            Step::Produce { ops } if ops.len() > 1 => (ops.len(), 2),
            _ => (0, 0),
        };
        for j in 0..len {
            out.push(with(&|c| match (&mut c.steps[i], what) {
                (Step::Append { items }, 0) => {
                    items.remove(j);
                }
                (Step::Faults { rules }, 1) => {
                    rules.remove(j);
                }
                (Step::Produce { ops }, 2) => {
                    ops.remove(j);
                }
                _ => {}
            }));
        }
    }
    if case.collections.is_some() && case.mode == Mode::Materialize {
        out.push(with(&|c| c.collections = None));
    }
    out
}

/// Shrinks `case` while `fails` holds, trying at most `budget` candidates; returns the
/// smallest failing case found and how many candidates were run.
pub fn shrink(case: &Case, budget: usize, mut fails: impl FnMut(&Case) -> bool) -> (Case, usize) {
    let mut current = case.clone();
    let mut runs = 0;
    'outer: while runs < budget {
        for mut candidate in reductions(&current) {
            if runs >= budget {
                break 'outer;
            }
            fill_expectations(&mut candidate);
            runs += 1;
            if fails(&candidate) {
                current = candidate;
                continue 'outer;
            }
        }
        break;
    }
    (current, runs)
}

fn run_one(case: &Case, profile: &str, spec: &AdapterSpec) -> Option<CaseResult> {
    run_adapter_cases(&[case], profile, spec, RunOptions::default())
        .into_iter()
        .next()
}

/// Shrinks a failing scenario against `spec` and makes its bundle.
pub fn bundle_failure(
    case: &Case,
    seed: Option<u64>,
    reference: &Profile,
    spec: &AdapterSpec,
    budget: usize,
) -> Bundle {
    let profile = reference.name.as_str();
    // A candidate counts only if the reference still passes it (so shrinking cannot make a
    // case no implementation could pass, such as awaiting a close that no longer happens)
    // and the adapter still fails it, twice in a row for a live case (whose failures can
    // hang on timing), so that the bundle replays.
    let confirmations = match case.mode {
        Mode::Subscribe => 2,
        _ => 1,
    };
    let (small, runs) = shrink(case, budget, |c| {
        let outcome = run_reference(c, reference, None);
        !crate::verdict::judge(c, profile, &outcome, crate::verdict::Strictness::ItemsOnly)
            .is_failure()
            && (0..confirmations)
                .all(|_| run_one(c, profile, spec).is_some_and(|r| r.verdict.is_failure()))
    });
    let observed = run_one(&small, profile, spec);
    let expected = run_reference(&small, reference, None);
    let (mismatches, transcript) = match &observed {
        Some(CaseResult {
            verdict: Verdict::Fail { mismatches },
            outcome,
            ..
        }) => (mismatches.clone(), transcript_of(outcome)),
        Some(r) => (
            vec![format!("did not fail again ({:?})", r.verdict)],
            Vec::new(),
        ),
        None => (vec!["not applicable to this profile".into()], Vec::new()),
    };
    Bundle {
        format: BUNDLE_FORMAT,
        suite: env!("CARGO_PKG_VERSION").into(),
        profile: profile.into(),
        seed,
        adapter: spec.argv.clone(),
        transcript,
        expected: serde_json::to_value(expected).unwrap_or_default(),
        observed: serde_json::to_value(observed.map(|r| r.outcome)).unwrap_or_default(),
        mismatches,
        shrink: ShrinkStats {
            size_before: size(case),
            size_after: size(&small),
            runs,
        },
        case: small,
    }
}

fn transcript_of(outcome: &Outcome) -> Vec<String> {
    match outcome {
        Outcome::Subscribe { transcript, .. } | Outcome::Produce { transcript, .. } => {
            transcript.clone()
        }
        _ => Vec::new(),
    }
}

/// Where two runs of the same scenario part ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Difference {
    /// Same requests, same outcome.
    None,
    /// The same request got a different response: the simulator is not deterministic.
    Simulator { detail: String },
    /// The implementation asked differently, or ended differently from the same exchanges.
    Implementation { detail: String },
}

/// A transcript line without what legitimately varies: the exchange number and the cursor.
fn normalized(line: &str) -> String {
    let line = line.split_once(' ').map_or(line, |(_, rest)| rest);
    match line.find("&cursor=") {
        Some(at) => {
            let end = line[at + 1..]
                .find(['&', ' '])
                .map_or(line.len(), |e| at + 1 + e);
            format!("{}{}", &line[..at], &line[end..])
        }
        None => line.to_owned(),
    }
}

/// What of an outcome must be equal between two runs (not timing, not transcripts).
fn observable(outcome: &Outcome) -> Value {
    let mut v = serde_json::to_value(outcome).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        // Which generated fault rules fired before the end depends on timing.
        o.remove("transcript");
        o.remove("unfired");
    }
    if let Some(cps) = v.get_mut("checkpoints").and_then(Value::as_array_mut) {
        for cp in cps {
            if let Some(a) = cp.get_mut("answer").and_then(Value::as_object_mut) {
                a.remove("upToDate");
            }
        }
    }
    v
}

/// Compares two runs of one scenario: equal outcomes are deterministic (how many polls it
/// took may differ); otherwise the first differing exchange says who differed.
pub fn compare_runs(a: &Outcome, b: &Outcome) -> Difference {
    if observable(a) == observable(b) {
        return Difference::None;
    }
    let (ta, tb) = (transcript_of(a), transcript_of(b));
    for (x, y) in ta.iter().zip(&tb) {
        let (x, y) = (normalized(x), normalized(y));
        if x != y {
            let request = |l: &str| l.split(" -> ").next().unwrap_or_default().to_owned();
            return match request(&x) == request(&y) {
                true => Difference::Simulator {
                    detail: format!("`{x}` then `{y}`"),
                },
                false => Difference::Implementation {
                    detail: format!("it asked `{}` then `{}`", request(&x), request(&y)),
                },
            };
        }
    }
    Difference::Implementation {
        detail: format!(
            "the same exchanges ended in different outcomes ({})",
            first_difference(&observable(a), &observable(b), "")
        ),
    }
}

/// The JSON pointer of the first place two values differ, with both values.
fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter()
                .find(|k| x.get(*k) != y.get(*k))
                .map(|k| {
                    let null = Value::Null;
                    first_difference(
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        &format!("{at}/{k}"),
                    )
                })
                .unwrap_or_default()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find(|(_, (p, q))| p != q)
            .map(|(i, (p, q))| first_difference(p, q, &format!("{at}/{i}")))
            .unwrap_or_default(),
        _ => format!("{at}: {a} then {b}"),
    }
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
    pub replayed: bool,
}

impl GeneratedCatch {
    pub fn ok(&self) -> bool {
        self.caught_by.is_some() && self.replayed
    }
}

/// Runs `count` scenarios of `seed` under `profile` against each mutant's adapter (from
/// `adapter_for`), stopping at its first failure, which is shrunk, written to `dir` and
/// replayed from the bundle alone. Mutants run `jobs` at a time.
pub fn generated_self_test(
    seed: u64,
    count: u64,
    profile: &str,
    dir: &Path,
    jobs: usize,
    adapter_for: &(dyn Fn(state_reference::Mutant) -> AdapterSpec + Sync),
) -> Vec<GeneratedCatch> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let cases = scenarios(seed, count);
    let refs: Vec<&Case> = cases.iter().collect();
    let Ok(reference) = Profile::preset(profile) else {
        return Vec::new();
    };
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                while let Some(&mutant) =
                    state_reference::Mutant::ALL.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    let spec = adapter_for(mutant);
                    let options = RunOptions {
                        jobs: 4,
                        fail_fast: true,
                        on_result: None,
                    };
                    let results = run_adapter_cases(&refs, profile, &spec, options);
                    let first = results.iter().find(|r| r.verdict.is_failure());
                    let mut catch = GeneratedCatch {
                        mutant,
                        caught_by: first.map(|r| format!("{}@{}", r.case, r.profile)),
                        bundle: None,
                        shrink: ShrinkStats::default(),
                        replayed: false,
                    };
                    if let Some(case) = first.and_then(|r| cases.iter().find(|c| c.id == r.case)) {
                        let seed = case
                            .id
                            .strip_prefix("gen-")
                            .and_then(|h| u64::from_str_radix(h, 16).ok());
                        let bundle = bundle_failure(case, seed, &reference, &spec, 300);
                        catch.shrink = bundle.shrink;
                        if let Ok(path) = bundle.write(&dir.join(mutant.name())) {
                            catch.replayed = Bundle::load(&path).is_ok_and(|b| {
                                run_one(&b.case, &b.profile, &spec)
                                    .is_some_and(|r| r.verdict.is_failure())
                            });
                            catch.bundle = Some(path);
                        }
                    }
                    out.lock().unwrap_or_else(|p| p.into_inner()).push(catch);
                }
            });
        }
    });
    let mut out = out.into_inner().unwrap_or_else(|p| p.into_inner());
    out.sort_by_key(|c| {
        state_reference::Mutant::ALL
            .iter()
            .position(|m| *m == c.mutant)
    });
    out
}
