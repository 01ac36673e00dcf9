//! One verdict source: a position on an open question gets the same class in the corpus and
//! in generated scenarios. Each position variant of the reference (`Mutant::POSITIONS`) is
//! run through both; neither may fail a required case, and the corpus records the position
//! (informational) where it shows. A defect mutant is the control: both fail it.

use spec_tests::campaign::scenarios;
use spec_tests::corpus::Case;
use spec_tests::corpus::{Filter, Suite};
use spec_tests::judge::{CaseResult, Standard, Verdict};
use spec_tests::run::{RunOptions, run_reference_cases};
use state_reference::{Mutant, Profile};

fn run(cases: &[&Case], mutant: Mutant, standard: Standard) -> Vec<CaseResult> {
    let options = RunOptions {
        jobs: 8,
        standard,
        ..RunOptions::default()
    };
    Profile::presets()
        .iter()
        .flat_map(|p| run_reference_cases(cases, p, Some(mutant), options))
        .collect()
}

fn failed(results: &[CaseResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.verdict.is_failure())
        .map(|r| format!("{}@{}: {:?}", r.case, r.profile, r.verdict.mismatches()))
        .collect()
}

fn recorded(results: &[CaseResult], question: &str) -> usize {
    results
        .iter()
        .filter(|r| matches!(&r.verdict, Verdict::Informational { mismatches } if mismatches.iter().any(|m| m.contains(question))))
        .count()
}

/// The issue's own campaign: `run --random 200 --seed 5`.
fn campaign() -> Vec<Case> {
    scenarios(5, 200)
}

#[test]
fn a_position_fails_no_required_case_in_the_corpus_nor_in_a_campaign() {
    let suite = Suite::embedded();
    let corpus = suite.select(&Filter::default());
    let generated = campaign();
    let generated: Vec<&Case> = generated.iter().collect();
    for mutant in Mutant::POSITIONS {
        let question = mutant.breaks();
        let in_corpus = run(&corpus, mutant, Standard::Spec);
        assert_eq!(
            failed(&in_corpus),
            Vec::<String>::new(),
            "{mutant} in the corpus"
        );
        assert!(
            recorded(&in_corpus, question) > 0
                || in_corpus
                    .iter()
                    .any(|r| matches!(r.verdict, Verdict::Informational { .. })),
            "{mutant}: the corpus records nothing"
        );
        let in_campaign = run(&generated, mutant, Standard::Spec);
        assert_eq!(
            failed(&in_campaign),
            Vec::<String>::new(),
            "{mutant} in the campaign"
        );
        assert!(
            recorded(&in_campaign, question) > 0,
            "{mutant}: no generated scenario shows the position ({question})"
        );
    }
}

#[test]
fn at_the_upstream_client_level_giving_up_on_server_errors_fails_in_both() {
    let suite = Suite::embedded();
    let corpus = suite.select(&Filter::default());
    let generated = campaign();
    let generated: Vec<&Case> = generated.iter().collect();
    let mutant = Mutant::GivesUpOnServerErrors;
    let in_corpus = run(&corpus, mutant, Standard::UpstreamClient);
    assert!(
        !failed(&in_corpus).is_empty(),
        "the corpus does not fail it"
    );
    let in_campaign = run(&generated, mutant, Standard::UpstreamClient);
    assert!(
        !failed(&in_campaign).is_empty(),
        "the campaign does not fail it"
    );
    // Keeping txids across a reset is not a question the standard answers.
    let kept = run(
        &generated,
        Mutant::KeepsTxidsAcrossReset,
        Standard::UpstreamClient,
    );
    assert_eq!(failed(&kept), Vec::<String>::new());
}

#[test]
fn a_defect_fails_in_both() {
    let suite = Suite::embedded();
    let corpus = suite.select(&Filter::default());
    let generated = campaign();
    let generated: Vec<&Case> = generated.iter().collect();
    for mutant in [Mutant::ResetIgnored, Mutant::GivesUpOnTransportErrors] {
        assert!(
            !failed(&run(&corpus, mutant, Standard::Spec)).is_empty(),
            "{mutant}"
        );
        assert!(
            !failed(&run(&generated, mutant, Standard::Spec)).is_empty(),
            "{mutant}"
        );
    }
}
