//! Corpora as standalone JSON, for harnesses that do not run this binary: `fixtures export`
//! (the corpus), `fixtures generate` (seeded scenarios), `fixtures verify` (re-check any such
//! directory with the reference) and `fixtures promote` (a repro bundle into the corpus).
//!
//! An exported directory holds `index.json` (format, suite version, one entry per case),
//! `cases/ID.json` (the case, expectations included; cases derived at load time under
//! `derived/`) and, for subscribe and produce cases, `transcripts/ID.json`: the exchanges of
//! a reference run, per connection, so a small mock server can replay what the stream
//! served (at most [`TRANSCRIPT_EXCHANGES`]). `fixtures export` adds the package around them
//! ([`write_package`]): catalogue, tombstones, schemas, profiles, a README and a manifest, so the
//! directory is also a fixtures directory `--fixtures` loads.

mod package;

pub use package::{PackageFile, package_files, write_package};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::Profile;

use crate::adapter::Implementation;
use crate::campaign::bundle::Bundle;
use crate::corpus::case::{Case, Mode};
use crate::corpus::load::check_case_value;
use crate::judge::{Standard, Strictness, mismatches};
use crate::reference_adapter::Reference;
use crate::run::execute::run_reference;
use crate::run::live::run_recorded;

/// Version of the exported directory format. Format 2 put derived cases under `derived/`,
/// bounded transcripts, and added the package (catalogue, schemas, profiles, README,
/// manifest); format 1 still reads.
pub const EXPORT_FORMAT: u32 = 2;
const OLDEST_READABLE_EXPORT: u32 = 1;

/// The most exchanges a transcript keeps: a reference run that reconnects far more than
/// that is cut here, and its index entry says how many there were.
pub const TRANSCRIPT_EXCHANGES: usize = 1_000;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Index {
    pub format: u32,
    pub suite: String,
    pub cases: Vec<IndexEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexEntry {
    pub id: String,
    pub mode: Mode,
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// How many exchanges the reference run made, when the transcript keeps fewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_cut_from: Option<usize>,
    /// Derived from another case when a corpus is loaded (`derived/`): a fixtures directory
    /// needs only `cases/`, the binary derives the rest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub derived: bool,
}

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub cases: usize,
    pub derived: usize,
    pub transcripts: usize,
    pub cut_transcripts: usize,
}

/// Why a corpus could not be written, read or promoted: the file, and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("{case}: the reference run failed: {reason}")]
    ReferenceRun { case: String, reason: String },
    #[error("{0}")]
    Refused(String),
}

fn io(path: &Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// A case as pretty JSON text, newline-terminated.
fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// Writes `cases` under `dir` (see the module docs).
pub fn write(dir: &Path, cases: &[&Case]) -> Result<Written, ExportError> {
    for sub in ["cases", "derived", "transcripts"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| io(&dir.join(sub), e))?;
    }
    let mut entries = Vec::new();
    let mut written = Written::default();
    for case in cases {
        let derived = crate::corpus::is_derived(case) || crate::corpus::is_from_validate(case);
        let file = format!(
            "{}/{}.json",
            if derived { "derived" } else { "cases" },
            case.id
        );
        std::fs::write(dir.join(&file), pretty(case)).map_err(|e| io(&dir.join(&file), e))?;
        let transcript = match case.mode {
            Mode::Subscribe | Mode::Produce => {
                let profile = Profile::default_profile();
                let mut reference = Reference::in_process(None);
                let failed = |e: crate::adapter::process::AdapterFault| ExportError::ReferenceRun {
                    case: case.id.clone(),
                    reason: e.to_string(),
                };
                reference
                    .open(&case.id, &profile, case.collections.as_deref())
                    .map_err(failed)?;
                let (_, mut exchanges) =
                    run_recorded(case, &profile, &mut reference).map_err(failed)?;
                let made = exchanges.len();
                exchanges.truncate(TRANSCRIPT_EXCHANGES);
                let name = format!("transcripts/{}.json", case.id);
                std::fs::write(dir.join(&name), pretty(&exchanges))
                    .map_err(|e| io(&dir.join(&name), e))?;
                written.transcripts += 1;
                Some((name, (made > TRANSCRIPT_EXCHANGES).then_some(made)))
            }
            _ => None,
        };
        written.cases += 1;
        written.derived += usize::from(derived);
        let (transcript, transcript_cut_from) = transcript.unzip();
        let transcript_cut_from = transcript_cut_from.flatten();
        written.cut_transcripts += usize::from(transcript_cut_from.is_some());
        entries.push(IndexEntry {
            id: case.id.clone(),
            mode: case.mode,
            file,
            transcript,
            transcript_cut_from,
            derived,
        });
    }
    let index = Index {
        format: EXPORT_FORMAT,
        suite: env!("CARGO_PKG_VERSION").into(),
        cases: entries,
    };
    std::fs::write(dir.join("index.json"), pretty(&index))
        .map_err(|e| io(&dir.join("index.json"), e))?;
    Ok(written)
}

/// Reads an exported directory completely (index, every case checked against the case
/// schema) before anything runs.
pub fn read(dir: &Path) -> Result<Vec<Case>, ExportError> {
    let index_path = dir.join("index.json");
    let text = crate::input::read_text(&index_path).map_err(|e| io(&index_path, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| io(&index_path, e))?;
    match value.get("format").and_then(Value::as_u64) {
        Some(f) if (u64::from(OLDEST_READABLE_EXPORT)..=u64::from(EXPORT_FORMAT)).contains(&f) => {}
        other => {
            return Err(io(
                &index_path,
                format!(
                    "format {other:?}; this binary reads formats {OLDEST_READABLE_EXPORT} to {EXPORT_FORMAT}"
                ),
            ));
        }
    }
    let index: Index = serde_json::from_value(value).map_err(|e| io(&index_path, e))?;
    let mut cases = Vec::with_capacity(index.cases.len());
    for entry in &index.cases {
        let path = crate::input::confined(dir, &entry.file, &index_path)
            .map_err(|e| io(&index_path, e))?;
        let text = crate::input::read_text(&path).map_err(|e| io(&path, e))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| io(&path, format!("not JSON: {e}")))?;
        let case = check_case_value(&value).map_err(|e| io(&path, e))?;
        if case.id != entry.id || case.mode != entry.mode {
            return Err(io(&path, "does not match its index entry"));
        }
        cases.push(case);
    }
    Ok(cases)
}

/// Runs every case of `cases` with the reference under each of its profiles and lists every
/// disagreement with its expectations.
pub fn verify(cases: &[Case]) -> Vec<String> {
    let mut out = Vec::new();
    for case in cases {
        for name in case.profiles.keys() {
            let Ok(profile) = Profile::preset(name) else {
                out.push(format!("{} [{name}]: unknown profile", case.id));
                continue;
            };
            let outcome = run_reference(case, &profile, None);
            for m in mismatches(
                case,
                &profile,
                &outcome,
                Strictness::WithRequirementIds,
                Standard::Spec,
            ) {
                out.push(format!("{} [{name}]: {m}", case.id));
            }
        }
    }
    out
}

/// Turns a bundle's case into a named corpus case `id` under `cases_dir`; refuses an ID that
/// is malformed, taken or tombstoned.
pub fn promote(
    bundle: &Bundle,
    id: &str,
    cases_dir: &Path,
    tombstones: &BTreeSet<String>,
) -> Result<PathBuf, ExportError> {
    let well_formed = id.split('-').all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }) && id.starts_with(|c: char| c.is_ascii_lowercase());
    if !well_formed {
        return Err(ExportError::Refused(format!(
            "`{id}` is not a case ID (lower-case words joined by `-`)"
        )));
    }
    if tombstones.contains(id) {
        return Err(ExportError::Refused(format!(
            "`{id}` is tombstoned and may not be reused"
        )));
    }
    let path = cases_dir.join(format!("{id}.json"));
    if path.exists() {
        return Err(ExportError::Refused(format!(
            "{} exists already",
            path.display()
        )));
    }
    let mut case = bundle.case.clone();
    case.title = format!(
        "Promoted from a repro bundle ({}, seed {})",
        case.title,
        bundle.seed.map_or("none".into(), |s| s.to_string())
    );
    case.id = id.to_owned();
    if !case.tags.iter().any(|t| t == "promoted") {
        case.tags.push("promoted".into());
    }
    let value = serde_json::to_value(&case).map_err(|e| io(&path, e))?;
    check_case_value(&value).map_err(|e| io(&path, e))?;
    std::fs::write(&path, pretty(&case)).map_err(|e| io(&path, e))?;
    Ok(path)
}
