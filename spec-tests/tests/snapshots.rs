//! The reference's full outcome per case and profile, recorded with insta, so any change of
//! behaviour shows up in review as a snapshot diff.

use std::collections::BTreeMap;

use spec_tests::corpus::is_derived;
use spec_tests::corpus::is_from_validate;
use spec_tests::corpus::{Filter, Suite};
use spec_tests::judge::Outcome;
use spec_tests::run::run_reference;
use state_reference::Profile;

#[test]
fn reference_outcomes_are_stable() {
    let suite = Suite::embedded();
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots");
    settings.bind(|| {
        // Derived cases are held to their source case instead (tests/corpus.rs).
        let cases = suite.select(&Filter::default());
        let derived = |c: &&spec_tests::corpus::Case| is_derived(c) || is_from_validate(c);
        for case in cases.into_iter().filter(|c| !derived(c)) {
            let outcomes: BTreeMap<&String, _> = case
                .profiles
                .keys()
                .map(|p| {
                    let outcome = run_reference(case, &Profile::preset(p).unwrap(), None);
                    (p, stable_part(outcome))
                })
                .collect();
            insta::assert_json_snapshot!(case.id.as_str(), outcomes);
        }
    });
}

/// A live case's outcome without what timing decides: the transcript (how many polls, which
/// sequence numbers) and whether the reader was still up to date when a txid was seen.
fn stable_part(mut outcome: Outcome) -> Outcome {
    match &mut outcome {
        Outcome::Subscribe {
            checkpoints,
            transcript,
            ..
        } => {
            transcript.clear();
            for c in checkpoints {
                c.answer.progress.up_to_date = false;
            }
        }
        Outcome::Produce { transcript, .. } => transcript.clear(),
        _ => {}
    }
    outcome
}
