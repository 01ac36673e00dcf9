//! The package around an exported corpus (`fixtures export`): the catalogue and tombstones
//! (so the directory is a fixtures directory `--fixtures` loads), the case and message
//! schemas, the profiles, a README, and a manifest of every file with its size and digest.

use std::path::Path;

use serde::Serialize;
use state_reference::Profile;

use super::{EXPORT_FORMAT, ExportError, TRANSCRIPT_EXCHANGES, Written, io, pretty};

/// A file of the package: its path in the export and its text.
pub struct PackageFile {
    pub path: String,
    pub text: String,
}

/// The package's files, given the corpus's own catalogue, tombstones and case schema (the
/// fixtures directory's files of those names).
pub fn package_files(requirements: &str, tombstones: &str, case_schema: &str) -> Vec<PackageFile> {
    let file = |path: &str, text: &str| PackageFile {
        path: path.to_owned(),
        text: text.to_owned(),
    };
    let mut files = vec![
        file("requirements.json", requirements),
        file("tombstones.json", tombstones),
        file("schemas/case.schema.json", case_schema),
        file(
            "schemas/state-protocol.schema.json",
            state_reference::schema::SCHEMA_JSON,
        ),
        file(
            "README.md",
            &include_str!("README.md")
                .replace(
                    "{SUITE}",
                    &format!("state-conformance {}", env!("CARGO_PKG_VERSION")),
                )
                .replace("{TRANSCRIPT_EXCHANGES}", &TRANSCRIPT_EXCHANGES.to_string()),
        ),
    ];
    for profile in Profile::presets() {
        files.push(file(
            &format!("profiles/{}.json", profile.name),
            &pretty(&profile),
        ));
    }
    files
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    format: u32,
    suite: String,
    cases: usize,
    derived: usize,
    transcripts: usize,
    cut_transcripts: usize,
    profiles: Vec<&'static str>,
    files: Vec<ManifestEntry>,
}

#[derive(Serialize)]
struct ManifestEntry {
    path: String,
    bytes: u64,
    sha256: String,
}

/// Writes `files` under `dir`, then `manifest.json` listing every file of `dir` (the corpus
/// written before included); returns the bytes of the whole export.
pub fn write_package(
    dir: &Path,
    files: &[PackageFile],
    written: Written,
) -> Result<u64, ExportError> {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&path, &f.text).map_err(|e| io(&path, e))?;
    }
    let mut entries = Vec::new();
    list(dir, dir, &mut entries)?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let total: u64 = entries.iter().map(|e| e.bytes).sum();
    let manifest = Manifest {
        format: EXPORT_FORMAT,
        suite: env!("CARGO_PKG_VERSION").into(),
        cases: written.cases,
        derived: written.derived,
        transcripts: written.transcripts,
        cut_transcripts: written.cut_transcripts,
        profiles: Profile::preset_names(),
        files: entries,
    };
    let text = pretty(&manifest);
    let path = dir.join("manifest.json");
    std::fs::write(&path, &text).map_err(|e| io(&path, e))?;
    Ok(total + text.len() as u64)
}

/// Every file under `at`, as paths relative to `root` with `/`, but the manifest itself.
fn list(root: &Path, at: &Path, out: &mut Vec<ManifestEntry>) -> Result<(), ExportError> {
    for entry in std::fs::read_dir(at).map_err(|e| io(at, e))? {
        let path = entry.map_err(|e| io(at, e))?.path();
        if path.is_dir() {
            list(root, &path, out)?;
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let relative: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let relative = relative.join("/");
        if relative == "manifest.json" {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        out.push(ManifestEntry {
            path: relative,
            bytes: bytes.len() as u64,
            sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        });
    }
    Ok(())
}
