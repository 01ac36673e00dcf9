//! `fixtures export|generate|verify|promote`.

use anyhow::{Context, Result, bail};
use spec_tests::campaign::Bundle;
use spec_tests::corpus::Case;
use spec_tests::corpus::load_tombstones;
use spec_tests::corpus::{Fixtures, Suite};
use spec_tests::export as io;

use super::Exit;
use super::args::FixturesCommand;

/// An export goes into a new or empty directory, or over an earlier export (whose case,
/// transcript, schema and profile files are removed first, so no case of it lingers).
fn clear_previous_export(dir: &std::path::Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    if entries.next().is_none() {
        return Ok(());
    }
    if !dir.join("index.json").is_file() {
        bail!(
            "{} is neither empty nor an earlier export (no index.json): name a new directory",
            dir.display()
        );
    }
    for sub in ["cases", "derived", "transcripts", "schemas", "profiles"] {
        let path = dir.join(sub);
        if path.is_dir() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot clear {}", path.display()))?;
        }
    }
    Ok(())
}

pub fn dispatch(fixtures: &Fixtures, command: FixturesCommand) -> Result<Exit> {
    match command {
        FixturesCommand::Export { dir } => {
            let suite = Suite::load(fixtures).with_context(|| format!("cannot load {fixtures}"))?;
            let cases: Vec<&Case> = suite.corpus.cases.iter().collect();
            clear_previous_export(&dir)?;
            let written = io::write(&dir, &cases)?;
            let package = io::package_files(
                &fixtures.read("requirements.json")?.text,
                &fixtures.read("tombstones.json")?.text,
                &fixtures.read("case.schema.json")?.text,
            );
            let bytes = io::write_package(&dir, &package, written)?;
            let cut = match written.cut_transcripts {
                0 => String::new(),
                n => format!(" ({n} cut at {} exchanges)", io::TRANSCRIPT_EXCHANGES),
            };
            println!(
                "{} cases ({} hand-written, {} derived), {} transcripts{cut}, the catalogue, \
                 schemas, profiles, README and manifest: {:.1} MB written to {}",
                written.cases,
                written.cases - written.derived,
                written.derived,
                written.transcripts,
                bytes as f64 / 1e6,
                dir.display()
            );
        }
        FixturesCommand::Generate { seed, count, out } => {
            let cases = spec_tests::campaign::scenarios(seed, count);
            let refs: Vec<&Case> = cases.iter().collect();
            let written = io::write(&out, &refs)?;
            println!(
                "{} generated cases written to {}",
                written.cases,
                out.display()
            );
        }
        FixturesCommand::Verify { dir } => {
            let cases = io::read(&dir)?;
            let problems = io::verify(&cases);
            for p in &problems {
                println!("DISAGREES {p}");
            }
            println!(
                "{} cases in {}: {} disagreement(s) with the reference",
                cases.len(),
                dir.display(),
                problems.len()
            );
            return Ok(Exit::when_ok(problems.is_empty()));
        }
        FixturesCommand::Promote { bundle, id } => {
            let Some(dir) = fixtures.dir() else {
                bail!(
                    "promote writes a case into a fixtures directory: name it with --fixtures DIR \
                     (or ${})",
                    spec_tests::corpus::FIXTURES_ENV
                );
            };
            let bundle = Bundle::load(&bundle)?;
            let tombstones = load_tombstones(&fixtures.read("tombstones.json")?)?;
            let path = io::promote(&bundle, &id, &dir.join("cases"), &tombstones)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(Exit::Pass)
}
