//! Every mutant of the reference is caught by at least one required case.

use spec_tests::corpus::Suite;
use spec_tests::run::{run_reference_cases, self_test};

#[test]
fn every_mutant_is_caught_by_a_required_case() {
    let suite = Suite::embedded();
    let reports = self_test(&suite, 18);
    assert!(reports.len() >= 12, "only {} mutants", reports.len());
    let mut escaped = Vec::new();
    for r in &reports {
        match r.caught_by.first() {
            Some(case) => println!(
                "{:<28} caught by {case} ({} in all)",
                r.mutant.name(),
                r.caught_by.len()
            ),
            None => escaped.push(r.mutant.name()),
        }
    }
    assert!(
        escaped.is_empty(),
        "mutants no required case catches: {escaped:?}"
    );
}

#[test]
fn the_unmutated_reference_passes_every_required_case() {
    let suite = Suite::embedded();
    let cases = suite.select(&Default::default());
    for name in state_reference::Profile::preset_names() {
        let profile = state_reference::Profile::preset(name).unwrap();
        let failures: Vec<String> = run_reference_cases(&cases, &profile, None, Default::default())
            .into_iter()
            .filter(|r| r.verdict.is_failure())
            .map(|r| r.case)
            .collect();
        assert!(failures.is_empty(), "{name}: {failures:?}");
    }
}
