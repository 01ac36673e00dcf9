//! Seeded scenarios: from a seed, a case of any mode (messages over a few types and many keys,
//! batch boundaries, txids, resets and snapshots, malformed items, and for subscribe cases a
//! fault plan from the simulator's catalogue). The same seed gives the same case on any
//! machine: the only randomness is a ChaCha stream seeded from it.
//!
//! Expectations come from the reference (the oracle) under every preset, so a generated case
//! is a self-contained fixture; subscribe cases are judged at run time against the reference
//! at the offset the implementation reports, like hand-written ones.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use state_reference::Profile;

use super::expect::fill_expectations;
use crate::corpus::case::{Case, Expectation, Mode, Weight};

mod draw;
mod live;

use draw::Gen;
#[cfg(test)]
pub(super) use live::cuts_live_reads;
pub(super) use live::{is_settled, settle_each_write};

pub use crate::corpus::case::GENERATED_TAG;

/// The seed of the `index`th scenario of a campaign seeded with `seed` (splitmix64), so a
/// scenario can be re-made from its own seed alone.
pub fn scenario_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The case a seed makes (expectations filled in by the reference).
pub fn scenario(seed: u64) -> Case {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        reset_offsets: false,
        // One scenario seed in sixteen (a multiplicative hash's top four bits).
        uncommitted_sse: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60 == 0,
    };
    let mode = match g.rng.random_range(0..10) {
        0 => Mode::Validate,
        1..=4 => Mode::Materialize,
        5..=8 => Mode::Subscribe,
        _ => Mode::Produce,
    };
    let mut case = Case {
        schema: None,
        id: format!("gen-{seed:016x}"),
        title: format!("generated {} scenario, seed {seed}", mode.name()),
        title_by_profile: BTreeMap::new(),
        description: None,
        requirements: vec![
            match mode {
                Mode::Validate => "SP-9.1-VALIDATE-FORMAT",
                Mode::Materialize => "SP-6-ORDER",
                Mode::Subscribe => "DS-8-NEXT-OFFSET",
                Mode::Produce => "SP-4.1-TYPE-REQUIRED",
            }
            .to_owned(),
        ],
        level: "MUST".into(),
        tags: vec![GENERATED_TAG.into()],
        mode,
        profiles: Profile::preset_names()
            .into_iter()
            .map(|p| (p.to_owned(), Weight::Required))
            .collect(),
        collections: None,
        batches: Vec::new(),
        message: None,
        raw: None,
        live: None,
        steps: Vec::new(),
        expect: Expectation::default(),
        expect_by_profile: BTreeMap::new(),
    };
    match mode {
        Mode::Validate => case.message = Some(g.validate_message()),
        Mode::Materialize => g.materialize(&mut case),
        Mode::Subscribe => g.subscribe(&mut case),
        Mode::Produce => g.produce(&mut case),
    }
    case.requirements = super::cite::requirements_of(&case);
    if super::cite::rests_on_open_question(&case) {
        case.level = "silent".into();
        case.profiles
            .values_mut()
            .for_each(|w| *w = Weight::Informational);
    }
    fill_expectations(&mut case);
    // A message the presets judge differently rests on a question the spec leaves open
    // (extra fields, empty txids, timestamps, upsert): a validator may take either side.
    if mode == Mode::Validate && !case.expect_by_profile.is_empty() {
        case.level = "silent".into();
        case.profiles
            .values_mut()
            .for_each(|w| *w = Weight::Informational);
    }
    case
}
