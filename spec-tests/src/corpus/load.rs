//! Loading a corpus: every case file checked against `fixtures/case.schema.json`, its file
//! name, the requirements catalogue, the known profiles and the tombstoned IDs.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;
use state_reference::Profile;

use super::case::Case;
use super::catalogue::Catalogue;
use super::source::CorpusFile;
use crate::error::LoadError;

const CASE_SCHEMA: &str = include_str!("../../fixtures/case.schema.json");

/// Every case of a corpus, sorted by ID.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub cases: Vec<Case>,
}

impl Corpus {
    /// Reads the case files, checking each against the case schema, its file name, the
    /// catalogue's requirement IDs, the known profiles and the tombstoned IDs.
    pub fn load(
        files: Vec<CorpusFile>,
        catalogue: &Catalogue,
        tombstones: &BTreeSet<String>,
    ) -> Result<Corpus, LoadError> {
        let schema = case_schema();
        let profiles = Profile::preset_names();
        let mut cases = Vec::with_capacity(files.len());
        for file in files {
            let path = &file.path;
            let case = load_case(&file, schema)?;
            for (i, id) in case.requirements.iter().enumerate() {
                if catalogue.get(id).is_none() {
                    return Err(LoadError::invalid(
                        path,
                        format!("/requirements/{i}"),
                        format!("unknown requirement {id}"),
                    ));
                }
            }
            for profile in case
                .profiles
                .keys()
                .chain(case.expect_by_profile.keys())
                .chain(case.title_by_profile.keys())
            {
                if !profiles.contains(&profile.as_str()) {
                    return Err(LoadError::invalid(
                        path,
                        "/profiles",
                        format!("unknown profile {profile}"),
                    ));
                }
            }
            if tombstones.contains(&case.id) {
                return Err(LoadError::invalid(
                    path,
                    "/id",
                    format!("{} is tombstoned and may not be reused", case.id),
                ));
            }
            cases.push(case);
        }
        Ok(Corpus { cases })
    }

    pub fn get(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }
}

/// The case schema, compiled.
fn case_schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json: Value = serde_json::from_str(CASE_SCHEMA).expect("embedded case schema is JSON");
        state_reference::schema::compile(&json).expect("embedded case schema compiles")
    })
}

/// A case from JSON that may come from anywhere (a bundle, an exported corpus): checked
/// against the case schema, then read.
pub fn check_case_value(value: &Value) -> Result<Case, CaseError> {
    if let Some(error) = case_schema().iter_errors(value).next() {
        return Err(CaseError::Schema {
            pointer: error.instance_path().to_string(),
            reason: error.to_string(),
        });
    }
    let case: Case = serde_json::from_value(value.clone()).map_err(CaseError::Json)?;
    match case.misplaced_fork() {
        Some((i, why)) => Err(CaseError::Schema {
            pointer: format!("/steps/{i}"),
            reason: why.to_owned(),
        }),
        None => Ok(case),
    }
}

/// Why a case that came from outside the corpus is not a case.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("at {pointer}: {reason}")]
    Schema { pointer: String, reason: String },
    #[error("{0}")]
    Json(serde_json::Error),
}

fn load_case(file: &CorpusFile, schema: &jsonschema::Validator) -> Result<Case, LoadError> {
    let path = &file.path;
    let value: Value = serde_json::from_str(&file.text).map_err(|e| LoadError::json(path, e))?;
    if let Some(error) = schema.iter_errors(&value).next() {
        return Err(LoadError::invalid(
            path,
            error.instance_path().to_string(),
            error.to_string(),
        ));
    }
    let case: Case = serde_json::from_value(value).map_err(|e| LoadError::json(path, e))?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if let Some((i, why)) = case.misplaced_fork() {
        return Err(LoadError::invalid(path, format!("/steps/{i}"), why));
    }
    if case.id != stem {
        return Err(LoadError::invalid(
            path,
            "/id",
            format!("id {:?} does not match the file name {stem:?}", case.id),
        ));
    }
    Ok(case)
}

/// Reads `fixtures/tombstones.json`: IDs of removed cases, never to be reused.
pub fn load_tombstones(file: &CorpusFile) -> Result<BTreeSet<String>, LoadError> {
    #[derive(Deserialize)]
    struct Tombstones {
        tombstones: Vec<Tombstone>,
    }
    #[derive(Deserialize)]
    struct Tombstone {
        id: String,
    }
    let parsed: Tombstones =
        serde_json::from_str(&file.text).map_err(|e| LoadError::json(&file.path, e))?;
    Ok(parsed.tombstones.into_iter().map(|t| t.id).collect())
}
