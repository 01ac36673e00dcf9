//! The corpus is well-formed, complete, and its two oracles agree.

use spec_tests::corpus::{self as suite, Filter, Suite};
use spec_tests::corpus::{Mode, Weight};
use spec_tests::judge::{Standard, Strictness, mismatches};
use spec_tests::run::run_reference;
use state_reference::Profile;

fn suite() -> Suite {
    Suite::embedded()
}

/// Oracle 1 (hand-written expectations) and oracle 2 (the reference under the profile)
/// must agree on every case under every profile it applies to, informational ones included.
#[test]
fn hand_written_expectations_agree_with_the_reference() {
    let suite = suite();
    let mut disagreements = Vec::new();
    let mut runs = 0;
    for case in suite.select(&Filter::default()) {
        for profile_name in case.profiles.keys() {
            let profile = Profile::preset(profile_name).unwrap();
            let outcome = run_reference(case, &profile, None);
            runs += 1;
            for m in mismatches(
                case,
                &profile,
                &outcome,
                Strictness::WithRequirementIds,
                Standard::Spec,
            ) {
                disagreements.push(format!("{} [{profile_name}]: {m}", case.id));
            }
        }
    }
    assert!(runs >= 200, "only {runs} case/profile runs");
    assert!(
        disagreements.is_empty(),
        "oracles disagree:\n{}",
        disagreements.join("\n")
    );
}

#[test]
fn every_must_and_should_has_a_case() {
    let uncovered = suite::uncovered(&suite());
    assert!(
        uncovered.is_empty(),
        "MUST/SHOULD requirements without a case: {}",
        uncovered.join(", ")
    );
}

#[test]
fn every_open_question_records_the_default_profiles_position() {
    let suite = suite();
    let missing: Vec<&str> = suite
        .catalogue
        .iter()
        .filter(|r| r.level == "silent")
        .filter(|r| {
            !suite
                .corpus
                .cases
                .iter()
                .any(|c| c.requirements.contains(&r.id) && c.profiles.contains_key("spec-1.0"))
        })
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "open questions with no spec-1.0 case: {missing:?}"
    );
}

#[test]
fn corpus_is_large_enough_and_every_case_cites_requirements() {
    let suite = suite();
    let cases = &suite.corpus.cases;
    assert!(cases.len() >= 80, "{} cases", cases.len());
    assert!(cases.iter().filter(|c| c.mode == Mode::Validate).count() >= 20);
    assert!(cases.iter().filter(|c| c.mode == Mode::Materialize).count() >= 40);
    assert!(cases.iter().all(|c| !c.requirements.is_empty()));
}

/// A case about a silent question must not fail anyone; a required case must cite at least
/// one requirement that is not an open question.
#[test]
fn weights_follow_the_requirement_levels() {
    let suite = suite();
    for case in &suite.corpus.cases {
        let normative = case
            .requirements
            .iter()
            .any(|id| suite.catalogue.get(id).is_some_and(|r| r.level != "silent"));
        if case.profiles.values().any(|w| *w == Weight::Required) {
            assert!(
                normative,
                "{} is required somewhere but cites only open questions",
                case.id
            );
        }
    }
}

#[test]
fn requirement_ids_cited_by_the_reference_exist_in_the_catalogue() {
    let suite = suite();
    let source = include_str!("../../reference/src/requirement.rs");
    let ids: Vec<&str> = source
        .lines()
        .filter_map(|l| {
            l.split_once("&str = \"")
                .map(|(_, rest)| rest.trim_end_matches("\";"))
        })
        .collect();
    assert!(ids.len() >= 25, "parsed only {} ids", ids.len());
    for id in ids {
        assert!(
            suite.catalogue.get(id).is_some(),
            "{id} is cited by the reference but not catalogued"
        );
    }
    for m in state_reference::Mutant::ALL {
        assert!(
            suite.catalogue.get(m.breaks()).is_some(),
            "mutant {m} breaks unknown {}",
            m.breaks()
        );
    }
}

/// docs/profiles.md names every profile field and every open question, so it cannot drift.
#[test]
fn profiles_doc_covers_every_field_and_open_question() {
    let doc = include_str!("../../docs/profiles.md");
    let profile = serde_json::to_value(Profile::default_profile()).unwrap();
    for field in profile
        .as_object()
        .unwrap()
        .keys()
        .filter(|f| !["name", "description"].contains(&f.as_str()))
    {
        assert!(
            doc.contains(&format!("`{field}`")),
            "docs/profiles.md does not name field {field}"
        );
    }
    for r in suite().catalogue.iter().filter(|r| r.level == "silent") {
        assert!(
            doc.contains(&r.id),
            "docs/profiles.md does not answer {}",
            r.id
        );
    }
}

/// Every derived case tells, over the wire, what its materialize source tells in process:
/// the reference's state and txids after each non-empty batch are the same, under every
/// profile, and the reference's own client reaches each checkpoint at the stream's tail.
#[test]
fn derived_cases_agree_with_their_source_batch_by_batch() {
    use spec_tests::corpus::{PREFIXES, is_derived};
    use spec_tests::judge::Outcome;
    let suite = Suite::embedded();
    let derived: Vec<_> = suite
        .corpus
        .cases
        .iter()
        .filter(|c| is_derived(c))
        .collect();
    assert!(derived.len() >= 120, "only {} derived cases", derived.len());
    for case in derived {
        let name = PREFIXES
            .iter()
            .find_map(|(p, _)| case.id.strip_prefix(p))
            .unwrap();
        let source = suite.corpus.get(&format!("mat-{name}")).unwrap();
        for profile in case.profiles.keys() {
            let profile = state_reference::Profile::preset(profile).unwrap();
            let Outcome::Materialize { after_batch, .. } = run_reference(source, &profile, None)
            else {
                panic!("{}: not a materialize outcome", source.id)
            };
            let expected: Vec<_> = source
                .batches
                .iter()
                .zip(&after_batch)
                .filter(|(b, _)| !b.items.is_empty())
                .map(|(_, o)| (o.state.clone(), o.txids.clone()))
                .collect();
            let Outcome::Subscribe { checkpoints, .. } = run_reference(case, &profile, None) else {
                panic!("{}: not a subscribe outcome", case.id)
            };
            let observed: Vec<_> = checkpoints
                .iter()
                .map(|c| {
                    let r = c.reference.as_ref().unwrap();
                    assert_eq!(c.answer.progress.observation.offset, c.tail, "{}", case.id);
                    assert_eq!(c.answer.progress.observation.state, r.state, "{}", case.id);
                    (r.state.clone(), r.txids.clone())
                })
                .collect();
            assert_eq!(observed, expected, "{} under {}", case.id, profile.name);
        }
    }
}

/// Every case derived from a validate case is held to its source: it carries the source's
/// message (a txid added where one fits), and under each profile the reference rejects that
/// item, for the requirement the source names, exactly where the source calls the message
/// invalid, and keeps the valid changes around it unless the profile halts there.
#[test]
fn rejection_cases_are_held_to_their_validate_source() {
    use spec_tests::corpus::{carried, is_from_validate, source_id};
    let suite = Suite::embedded();
    let derived: Vec<_> = suite
        .corpus
        .cases
        .iter()
        .filter(|c| is_from_validate(c))
        .collect();
    let sources = suite
        .corpus
        .cases
        .iter()
        .filter(|c| c.mode == spec_tests::corpus::Mode::Validate && c.message.is_some())
        .filter(|c| c.profiles.keys().any(|p| !c.validate_expectation(p).valid))
        .count();
    assert_eq!(
        derived.len(),
        sources,
        "one derived case per invalid message"
    );
    assert!(derived.len() >= 30, "only {} derived cases", derived.len());
    for case in derived {
        let source = suite.corpus.get(&source_id(case).unwrap()).unwrap();
        let item = &case.batches[0].items[1];
        assert_eq!(
            item,
            &carried(source.message.as_ref().unwrap()),
            "{}",
            case.id
        );
        for profile in case.profiles.keys() {
            let want = source.validate_expectation(profile);
            let got = case.materialize_expectation(profile);
            let rejected: Vec<_> = got.rejected.iter().filter(|r| r.index == 1).collect();
            match want.valid {
                true => assert!(rejected.is_empty(), "{} under {profile}", case.id),
                false => {
                    assert_eq!(rejected.len(), 1, "{} under {profile}", case.id);
                    if let Some(req) = &want.requirement {
                        assert_eq!(&rejected[0].requirement, req, "{} under {profile}", case.id);
                    }
                    assert!(
                        !got.txids.iter().any(|t| t == "tx-rejected"),
                        "{} under {profile}: a rejected message's txid counted as seen",
                        case.id
                    );
                    // Skipped, the valid changes around it kept (a halting profile stops
                    // at it: the one before may stay, the one after is never applied).
                    let probes = got
                        .state
                        .get("probe")
                        .map_or(0, std::collections::BTreeMap::len);
                    assert!(
                        probes == 2 || (got.halted && probes <= 1),
                        "{} under {profile}: {probes} probe entities kept",
                        case.id
                    );
                }
            }
        }
    }
}

/// `--level upstream-client` holds implementations to exactly the open questions whose
/// catalogue entries cite upstream client conformance tests.
#[test]
fn the_upstream_client_level_is_the_catalogue_entries_citing_upstream_tests() {
    let suite = suite();
    let mut cited: Vec<&str> = suite
        .catalogue
        .iter()
        .filter(|r| !r.upstream_client_tests.is_empty())
        .map(|r| r.id.as_str())
        .collect();
    let mut held = Standard::UpstreamClient.requires().to_vec();
    cited.sort_unstable();
    held.sort_unstable();
    assert_eq!(cited, held);
    assert!(Standard::Spec.requires().is_empty());
}

/// Cases whose title names an order hold it on every run: the first SSE connection of
/// `sub-sse-live-close-before-commit` ends cleanly after the data event carrying t2 and
/// before its control event (the `requests` gate keeps the append from racing the reader's
/// connection). Run several times against the reference, from the recorded exchanges.
#[test]
fn the_close_before_commit_case_closes_before_the_commit_on_every_run() {
    use spec_tests::adapter::Implementation;
    use spec_tests::reference_adapter::Reference;
    use spec_tests::run::run_recorded;
    let suite = suite();
    let case = suite
        .corpus
        .get("sub-sse-live-close-before-commit")
        .unwrap();
    let profile = Profile::default_profile();
    for run in 0..5 {
        let mut reference = Reference::in_process(None);
        reference
            .open(&case.id, &profile, case.collections.as_deref())
            .unwrap();
        let (_, exchanges) = run_recorded(case, &profile, &mut reference).unwrap();
        let closed: Vec<_> = exchanges
            .iter()
            .filter(|x| x.cut.as_ref().is_some_and(|c| c.how == "sse-close"))
            .collect();
        assert_eq!(closed.len(), 1, "run {run}: {exchanges:?}");
        let body = &closed[0].response_body.text;
        let events: Vec<&str> = body
            .split("\n\n")
            .filter_map(|e| e.lines().next()?.strip_prefix("event:").map(str::trim))
            .collect();
        assert_eq!(events, ["control", "data"], "run {run}: {body}");
        assert!(
            body.contains("\"t2\""),
            "run {run}: the data event carries t2: {body}"
        );
    }
}

#[test]
fn a_fork_step_comes_once_and_before_the_subscription() {
    // The corpus's own fork cases load; a fork after `subscribe` (the reader would read the
    // source while the oracle reads the fork), or a second fork, is refused where it stands.
    let suite = Suite::embedded();
    let forks = suite.select(&Filter::default());
    let forks: Vec<_> = forks.iter().filter(|c| c.id.contains("-fork-")).collect();
    assert_eq!(
        forks.len(),
        4,
        "sub-{{lp,sse}}-fork-after-{{snapshot,reset}}"
    );
    let mut value = serde_json::to_value(forks[0]).unwrap();
    let steps = value["steps"].as_array_mut().unwrap();
    let fork = steps.iter().position(|s| s["step"] == "fork").unwrap();
    let subscribe = steps.iter().position(|s| s["step"] == "subscribe").unwrap();
    let moved = steps.remove(fork);
    steps.insert(subscribe, moved);
    let err = spec_tests::corpus::check_case_value(&value)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("/steps/{subscribe}")) && err.contains("before"),
        "{err}"
    );
    let mut twice = serde_json::to_value(forks[0]).unwrap();
    let steps = twice["steps"].as_array_mut().unwrap();
    steps.insert(fork, serde_json::json!({"step": "fork"}));
    let err = spec_tests::corpus::check_case_value(&twice)
        .unwrap_err()
        .to_string();
    assert!(err.contains("once"), "{err}");
}
