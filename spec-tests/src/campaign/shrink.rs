//! Shrinking: greedy delta debugging over a case's batches, items, steps, fault rules and
//! ops, one removal at a time, keeping a candidate only while a predicate still holds.

use super::expect::fill_expectations;
use super::generate::{is_settled, settle_each_write};
use crate::corpus::case::{Case, Mode, Step};

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

/// Every case one removal smaller than `case`, larger removals first. A scenario that awaits
/// after its subscription and after each live write keeps doing so: without those awaits,
/// what a read carries depends on timing (where a cut lands; whether the catch-up already
/// holds a write, so that no long-poll ever answers with a cursor to echo), and the shrunk
/// case would not replay reliably.
fn reductions(case: &Case) -> Vec<Case> {
    let mut out = removals(case);
    if is_settled(&case.steps) {
        out.retain(|c| is_settled(&c.steps));
    }
    out
}

fn removals(case: &Case) -> Vec<Case> {
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
    // A subscribe scenario is first tried settled (an await after the subscription and after
    // each live write): when it still fails so, every smaller case stays settled and replays
    // alike on every run. One that fails only unsettled (a race) is shrunk as it is.
    if case.mode == Mode::Subscribe && !is_settled(&case.steps) && budget > 0 {
        let mut settled = case.clone();
        settle_each_write(&mut settled.steps);
        fill_expectations(&mut settled);
        runs += 1;
        if fails(&settled) {
            current = settled;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::generate::cuts_live_reads;
    use serde_json::json;

    #[test]
    fn a_settled_scenario_that_cuts_live_reads_stays_settled_when_shrunk() {
        let settled: Vec<Case> = crate::campaign::scenarios(7, 300)
            .into_iter()
            .filter(|c| cuts_live_reads(&c.steps) && is_settled(&c.steps))
            .take(5)
            .collect();
        assert!(!settled.is_empty());
        for case in settled {
            // "Fails" while a write and the cut remain: shrinking goes as far as the rules
            // allow around them.
            let needs = |c: &Case| {
                cuts_live_reads(&c.steps)
                    && c.steps.iter().any(|s| matches!(s, Step::Append { .. }))
            };
            if !needs(&case) {
                continue;
            }
            let (small, _) = shrink(&case, 500, needs);
            assert!(size(&small) < size(&case), "{}", case.id);
            assert!(is_settled(&small.steps), "{}: {:?}", case.id, small.steps);
        }
    }

    #[test]
    fn shrinking_keeps_only_what_the_failure_needs_and_respects_the_budget() {
        let case = crate::campaign::scenarios(5, 40)
            .into_iter()
            .find(|c| {
                c.mode == Mode::Materialize
                    && c.batches.iter().map(|b| b.items.len()).sum::<usize>() > 3
            })
            .expect("a materialize scenario with a few items");
        let needle = case.batches[0]
            .items
            .first()
            .cloned()
            .unwrap_or(json!(null));
        let holds = |c: &Case| c.batches.iter().any(|b| b.items.contains(&needle));
        let (small, runs) = shrink(&case, 300, holds);
        assert!(holds(&small));
        assert_eq!(
            small.batches.iter().map(|b| b.items.len()).sum::<usize>(),
            1
        );
        assert!(size(&small) < size(&case) && runs <= 300);
        let (_, capped) = shrink(&case, 2, holds);
        assert_eq!(capped, 2);
        let (same, _) = shrink(&case, 300, |_| false);
        assert_eq!(
            size(&same),
            size(&case),
            "nothing is removed unless it still fails"
        );
    }
}
