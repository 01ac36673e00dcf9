//! `show` and "did you mean": one JSON document per case, profiles with the same reference
//! outcome together; a mistyped case ID answered with the IDs close to it.

mod common;

use common::{cli, text};
use serde_json::Value;

fn shown(args: &[&str]) -> Value {
    let o = cli(args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).expect("show prints one JSON document")
}

fn profiles(shown: &Value) -> Vec<Vec<String>> {
    shown["reference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| serde_json::from_value(g["profiles"].clone()).unwrap())
        .collect()
}

#[test]
fn show_prints_the_case_and_each_distinct_reference_outcome_once() {
    // A case every profile agrees on: one outcome, all three profiles.
    let same = shown(&["show", "mat-update-replaces-not-merges"]);
    assert_eq!(same["case"]["id"], "mat-update-replaces-not-merges");
    assert_eq!(
        profiles(&same),
        [["spec-1.0", "spec-1.0-strict", "ts-compat"]]
    );
    assert_eq!(same["reference"][0]["outcome"]["mode"], "materialize");
    // A case the profiles judge differently: one entry per distinct outcome.
    let split = shown(&["show", "val-control-extra-field"]);
    let groups = profiles(&split);
    assert!(groups.len() > 1, "{groups:?}");
    let outcomes: Vec<&Value> = split["reference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["outcome"])
        .collect();
    assert!(outcomes.windows(2).all(|w| w[0] != w[1]), "{outcomes:?}");
    // --profile keeps only the profiles named.
    let one = shown(&[
        "show",
        "mat-update-replaces-not-merges",
        "--profile",
        "ts-compat",
    ]);
    assert_eq!(profiles(&one), [["ts-compat"]]);
    let o = cli(&[
        "show",
        "mat-update-replaces-not-merges",
        "--profile",
        "spec-2",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("does not run under `spec-2`"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_mistyped_case_id_is_answered_with_the_ids_close_to_it() {
    let o = cli(&["show", "mat-update-replace-not-merges"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("(did you mean `mat-update-replaces-not-merges`"),
        "{}",
        text(&o)
    );
    let o = cli(&["run", "--case", "sub-lp-baselin"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("the filter selects no case (did you mean `sub-lp-baseline`?)"),
        "{}",
        text(&o)
    );
    // Nothing close, nothing offered.
    let o = cli(&["show", "zzz"]);
    assert!(!text(&o).contains("did you mean"), "{}", text(&o));
    let expectations = std::env::temp_dir().join(format!("sc-inspect-{}.toml", std::process::id()));
    std::fs::write(
        &expectations,
        "[[expected]]\ncase = \"mat-reset-mid-bach\"\nreason = \"typo\"\n",
    )
    .unwrap();
    let o = cli(&[
        "run",
        "--case",
        "mat-reset-*",
        "--expectations",
        expectations.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o)
            .contains("an unknown case `mat-reset-mid-bach` (did you mean `mat-reset-mid-batch`"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_file(&expectations);
}
