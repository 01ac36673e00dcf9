//! Generated scenarios: determinism, the fault-free property, the generated self-test,
//! bundles, replay, promotion, export and verify.

mod common;

use common::{cli, text};

use proptest::prelude::*;
use spec_tests::adapter::AdapterSpec;
use spec_tests::campaign::{self, Bundle};
use spec_tests::campaign::{scenario, scenario_seed};
use spec_tests::corpus::Mode;
use spec_tests::judge::{Standard, Strictness, judge};
use spec_tests::run::run_reference;
use state_reference::Profile;

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sc-gen-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_same_seed_makes_the_same_scenario() {
    for i in 0..50 {
        let seed = scenario_seed(42, i);
        let (a, b) = (scenario(seed), scenario(seed));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_ne!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&scenario(seed + 1)).unwrap()
        );
    }
    // Every mode comes up.
    let modes: std::collections::BTreeSet<Mode> =
        campaign::scenarios(1, 100).iter().map(|c| c.mode).collect();
    assert_eq!(modes.len(), 4, "{modes:?}");
}

fn generated_cases() -> u32 {
    std::env::var("GENERATED_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: generated_cases(), ..ProptestConfig::default() })]

    /// The reference client, reading through the simulator while the scenario's faults fire,
    /// ends each checkpoint with the reference materializer's state on the stream as written
    /// (fault-free), under every preset.
    #[test]
    fn the_reference_client_converges_under_any_fault_plan(seed in any::<u64>()) {
        let case = scenario(seed);
        prop_assume!(case.mode == Mode::Subscribe);
        for name in Profile::preset_names() {
            let profile = Profile::preset(name).unwrap();
            let outcome = run_reference(&case, &profile, None);
            let verdict = judge(&case, &profile, &outcome, Strictness::WithRequirementIds, Standard::Spec);
            prop_assert!(!verdict.is_failure(), "seed {seed} [{name}]: {verdict:?}");
        }
    }
}

#[test]
fn every_mutant_is_caught_by_a_generated_campaign_and_its_bundle_replays() {
    let dir = temp("self-test");
    let adapter_for = |m: state_reference::Mutant| AdapterSpec {
        argv: vec![
            env!("CARGO_BIN_EXE_state-conformance").to_owned(),
            "reference-adapter".to_owned(),
            "--mutant".to_owned(),
            m.name().to_owned(),
        ],
        timeout: std::time::Duration::from_secs(10),
        check_protocol: false,
    };
    let catches = campaign::generated_self_test(7, 300, "spec-1.0", &dir, 6, &adapter_for, &|_| {});
    assert_eq!(catches.len(), state_reference::Mutant::ALL.len());
    for c in &catches {
        assert!(c.ok(), "{c:?}");
        assert!(c.shrink.size_after <= c.shrink.size_before, "{c:?}");
    }
    // A bundle replays through the CLI: exit 1, the failure reproduced.
    let bundle = catches[0].bundle.as_ref().unwrap();
    let o = cli(&["replay", bundle.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("reproduced"), "{}", text(&o));
    // Against the unmutated reference it does not reproduce.
    let o = cli(&[
        "replay",
        bundle.to_str().unwrap(),
        "--",
        env!("CARGO_BIN_EXE_state-conformance"),
        "reference-adapter",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Promotion makes it a corpus case that loads.
    let fixtures = temp("promote");
    std::fs::create_dir_all(fixtures.join("cases")).unwrap();
    for f in ["requirements.json", "tombstones.json"] {
        std::fs::copy(format!("../fixtures/{f}"), fixtures.join(f)).unwrap();
    }
    let promote = || {
        cli(&[
            "--fixtures",
            fixtures.to_str().unwrap(),
            "fixtures",
            "promote",
            bundle.to_str().unwrap(),
            "--id",
            "mat-promoted-example",
        ])
    };
    let o = promote();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let suite =
        spec_tests::corpus::Suite::load(&spec_tests::corpus::Fixtures::Dir(fixtures.clone()))
            .unwrap();
    assert_eq!(suite.corpus.cases[0].id, "mat-promoted-example");
    let again = promote();
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("exists already"));
}

#[test]
fn bad_bundles_exit_two_with_the_path_and_the_reason() {
    let dir = temp("bad-bundles");
    std::fs::create_dir_all(&dir).unwrap();
    let case = scenario(scenario_seed(3, 0));
    let good = Bundle {
        format: spec_tests::campaign::BUNDLE_FORMAT,
        suite: "0".into(),
        profile: "spec-1.0".into(),
        seed: None,
        adapter: vec![],
        case,
        transcript: vec![],
        expected: spec_tests::judge::Outcome::SetupError { reason: "-".into() },
        observed: None,
        mismatches: vec![],
        shrink: Default::default(),
    };
    let text_of = serde_json::to_string(&good).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text_of).unwrap();
    value["format"] = 99.into();
    let inconsistent = {
        let mut v: serde_json::Value = serde_json::from_str(&text_of).unwrap();
        v["profile"] = "no-such-profile".into();
        v
    };
    for (name, body, needle) in [
        (
            "truncated",
            text_of[..text_of.len() / 2].to_owned(),
            "not JSON",
        ),
        ("version", value.to_string(), "bundle format 99"),
        ("inconsistent", inconsistent.to_string(), "unknown profile"),
    ] {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, body).unwrap();
        let o = cli(&["replay", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(
            text(&o).contains(needle) && text(&o).contains(path.to_str().unwrap()),
            "{name}: {}",
            text(&o)
        );
    }
}

/// Issue #13: a bundle is input from someone else; its command runs only when asked, and an
/// adapter that cannot start is an error, never a reproduction.
#[test]
fn replay_runs_a_bundles_command_only_when_asked() {
    let dir = temp("bundle-command");
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("ran");
    let bundle = Bundle {
        format: spec_tests::campaign::BUNDLE_FORMAT,
        suite: "0".into(),
        profile: "spec-1.0".into(),
        seed: None,
        adapter: vec!["touch".into(), marker.to_string_lossy().into_owned()],
        case: scenario(scenario_seed(3, 0)),
        transcript: vec![],
        expected: spec_tests::judge::Outcome::SetupError { reason: "-".into() },
        observed: None,
        mismatches: vec![],
        shrink: Default::default(),
    };
    let path = dir.join("bundle.json");
    std::fs::write(&path, serde_json::to_string(&bundle).unwrap()).unwrap();
    let path = path.to_str().unwrap();

    let o = cli(&["replay", path]);
    assert!(!marker.exists(), "the bundle's command ran unasked");
    assert!(text(&o).contains("--adapter-from-bundle"), "{}", text(&o));
    assert_ne!(o.status.code(), Some(2), "{}", text(&o));

    let o = cli(&["replay", path, "--adapter-from-bundle"]);
    assert!(marker.exists(), "asked for, it ran");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("cannot replay against `touch"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("reproduced"), "{}", text(&o));

    let o = cli(&["replay", path, "--", "/nonexistent/adapter"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("could not be started"), "{}", text(&o));
}

#[test]
fn exported_and_generated_corpora_verify_and_tampering_is_caught() {
    let dir = temp("export");
    let o = cli(&["fixtures", "export", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(" MB written to "), "{}", text(&o));
    assert!(dir.join("transcripts/sub-lp-baseline.json").is_file());
    // The package: derived cases apart, and a manifest whose sizes and digests are the files'.
    assert!(dir.join("cases/mat-delete-removes.json").is_file());
    assert!(dir.join("derived/wire-lp-delete-removes.json").is_file());
    for file in [
        "README.md",
        "requirements.json",
        "tombstones.json",
        "schemas/case.schema.json",
        "schemas/state-protocol.schema.json",
        "profiles/ts-compat.json",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(manifest["format"], 2);
    assert!(files.len() > 700, "{}", files.len());
    for entry in files.iter().step_by(97) {
        let bytes = std::fs::read(dir.join(entry["path"].as_str().unwrap())).unwrap();
        assert_eq!(entry["bytes"], bytes.len());
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(entry["sha256"], hex.as_str(), "{entry}");
    }
    // It is a fixtures directory: run from it, the cases (derived ones derived again) are
    // judged as the embedded corpus's.
    let (embedded, exported) = (
        dir.join("embedded.report.json"),
        dir.join("exported.report.json"),
    );
    for (report, fixtures) in [(&embedded, None), (&exported, Some(&dir))] {
        let mut args = vec![
            "run",
            "--case",
            "mat-reset-*",
            "--case",
            "wire-*-reset-*",
            "--report-json",
            report.to_str().unwrap(),
        ];
        if let Some(dir) = fixtures {
            args.extend(["--fixtures", dir.to_str().unwrap()]);
        }
        let o = cli(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let o = cli(&[
        "diff",
        embedded.to_str().unwrap(),
        exported.to_str().unwrap(),
    ]);
    assert!(text(&o).contains(": no change"), "{}", text(&o));
    std::fs::remove_file(&embedded).unwrap();
    std::fs::remove_file(&exported).unwrap();
    // Over an earlier export, nothing of it lingers; a directory of other files is refused.
    std::fs::write(dir.join("cases/mat-gone.json"), "{}").unwrap();
    let o = cli(&["fixtures", "export", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!dir.join("cases/mat-gone.json").exists());
    let other = temp("not-an-export");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let o = cli(&["fixtures", "export", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("neither empty nor an earlier export"),
        "{}",
        text(&o)
    );
    let o = cli(&["fixtures", "verify", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("0 disagreement"), "{}", text(&o));
    // A wrong expectation is a disagreement.
    let path = dir.join("cases/mat-delete-removes.json");
    let mut tampered: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    tampered["expect"]["state"] = serde_json::json!({"user": {"zz": 1}});
    std::fs::write(&path, tampered.to_string()).unwrap();
    let o = cli(&["fixtures", "verify", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("DISAGREES mat-delete-removes"),
        "{}",
        text(&o)
    );
    // A truncated index is bad input.
    std::fs::write(dir.join("index.json"), "{\"format\": 1, \"cases\": [").unwrap();
    let o = cli(&["fixtures", "verify", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("index.json"), "{}", text(&o));

    let generated = temp("generate");
    let o = cli(&[
        "fixtures",
        "generate",
        "--seed",
        "5",
        "--count",
        "40",
        "--out",
        generated.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = cli(&["fixtures", "verify", generated.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_campaign_is_deterministic_and_says_so() {
    let o = cli(&[
        "run",
        "--random",
        "60",
        "--seed",
        "11",
        "--jobs",
        "4",
        "--check-determinism",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("0 scenario run(s) differed"),
        "{}",
        text(&o)
    );
}
