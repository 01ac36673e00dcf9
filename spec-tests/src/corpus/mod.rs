//! The corpus as loaded from a fixtures directory: the requirements catalogue, the cases,
//! selection by filter, and requirement coverage.

pub(crate) mod case;
pub(crate) mod catalogue;
pub(crate) mod derive;
pub(crate) mod load;
pub(crate) mod rejections;
pub(crate) mod source;

pub use case::{BatchInput, Case, Mode, Weight};
pub use derive::{PREFIXES, is_derived};
pub use load::{check_case_value, load_tombstones};
pub use rejections::{carried, is_from_validate, source_id};
pub use source::FIXTURES_ENV;

use std::collections::BTreeSet;

use serde::Serialize;
use wildmatch::WildMatch;

use crate::error::LoadError;
use catalogue::Catalogue;
use load::Corpus;
pub use source::Fixtures;

pub struct Suite {
    pub catalogue: Catalogue,
    pub corpus: Corpus,
}

impl Suite {
    pub fn load(fixtures: &Fixtures) -> Result<Suite, LoadError> {
        let catalogue = Catalogue::parse(&fixtures.read("requirements.json")?)?;
        let tombstones = load_tombstones(&fixtures.read("tombstones.json")?)?;
        let mut corpus = Corpus::load(fixtures.cases()?, &catalogue, &tombstones)?;
        let rejections = rejections::from_validate(&corpus.cases);
        corpus.cases.extend(rejections);
        let derived = derive::over_the_wire(&corpus.cases);
        corpus.cases.extend(derived);
        corpus.cases.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Suite { catalogue, corpus })
    }

    /// The corpus embedded in this binary (or `$STATE_CONFORMANCE_FIXTURES`): it was checked
    /// when built, so failing to load it is a bug, not an input error.
    pub fn embedded() -> Suite {
        Suite::load(&Fixtures::default()).expect("the embedded corpus loads")
    }

    /// Up to three case IDs close to `id` (a typo, a missing or extra word), closest first:
    /// what "did you mean" offers.
    pub fn similar_ids(&self, id: &str) -> Vec<&str> {
        similar(id, self.corpus.cases.iter().map(|c| c.id.as_str()))
    }

    /// Cases matching the filter, in ID order.
    pub fn select<'s>(&'s self, filter: &Filter) -> Vec<&'s Case> {
        self.corpus
            .cases
            .iter()
            .filter(|c| filter.matches(c))
            .collect()
    }
}

/// Which cases to run: ID globs, tags, requirement levels (all must match when given).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub case_globs: Vec<String>,
    pub tags: Vec<String>,
    pub levels: Vec<String>,
}

impl Filter {
    pub fn matches(&self, case: &Case) -> bool {
        (self.case_globs.is_empty()
            || self
                .case_globs
                .iter()
                .any(|g| WildMatch::new(g).matches(&case.id)))
            && (self.tags.is_empty() || self.tags.iter().any(|t| case.tags.contains(t)))
            && (self.levels.is_empty()
                || self
                    .levels
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(&case.level)))
    }
}

/// Requirement coverage: which cases cite each requirement.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub id: String,
    pub level: String,
    pub cases: Vec<String>,
    /// How many of `cases` run in process (materialize, validate) and how many over the
    /// wire (subscribe, produce; derived cases included).
    pub in_process: usize,
    pub over_the_wire: usize,
}

pub fn coverage(suite: &Suite) -> Vec<Coverage> {
    suite
        .catalogue
        .iter()
        .map(|r| {
            let citing: Vec<&Case> = suite
                .corpus
                .cases
                .iter()
                .filter(|c| c.requirements.contains(&r.id))
                .collect();
            let wire = citing
                .iter()
                .filter(|c| matches!(c.mode, case::Mode::Subscribe | case::Mode::Produce))
                .count();
            Coverage {
                id: r.id.clone(),
                level: r.level.clone(),
                cases: citing.iter().map(|c| c.id.clone()).collect(),
                in_process: citing.len() - wire,
                over_the_wire: wire,
            }
        })
        .collect()
}

/// MUST / SHOULD (and their negations) requirements that no case cites.
pub fn uncovered(suite: &Suite) -> Vec<String> {
    let covered: BTreeSet<&String> = suite
        .corpus
        .cases
        .iter()
        .flat_map(|c| &c.requirements)
        .collect();
    suite
        .catalogue
        .iter()
        .filter(|r| r.needs_case() && !covered.contains(&r.id))
        .map(|r| r.id.clone())
        .collect()
}

/// Up to three of `candidates` close to `id`, closest first.
pub fn similar<'c>(id: &str, candidates: impl Iterator<Item = &'c str>) -> Vec<&'c str> {
    let mut scored: Vec<(f64, &str)> = candidates
        .map(|c| (strsim::jaro_winkler(id, c), c))
        .filter(|(score, _)| *score >= 0.9)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// ` (did you mean `a`, `b`?)`, or nothing without a suggestion.
pub fn did_you_mean(similar: &[&str]) -> String {
    match similar.is_empty() {
        true => String::new(),
        false => {
            let quoted: Vec<String> = similar.iter().map(|s| format!("`{s}`")).collect();
            format!(" (did you mean {}?)", quoted.join(", "))
        }
    }
}
