//! `fixtures export|generate|verify|promote`.

use anyhow::{Context, Result, bail};
use spec_tests::campaign::Bundle;
use spec_tests::corpus::Case;
use spec_tests::corpus::load_tombstones;
use spec_tests::corpus::{Fixtures, Suite};
use spec_tests::export as io;

use super::Exit;
use super::args::FixturesCommand;

pub fn dispatch(fixtures: &Fixtures, command: FixturesCommand) -> Result<Exit> {
    match command {
        FixturesCommand::Export { dir } => {
            let suite = Suite::load(fixtures).with_context(|| format!("cannot load {fixtures}"))?;
            let cases: Vec<&Case> = suite.corpus.cases.iter().collect();
            let n = io::write(&dir, &cases)?;
            println!("{n} cases written to {}", dir.display());
        }
        FixturesCommand::Generate { seed, count, out } => {
            let cases = spec_tests::campaign::scenarios(seed, count);
            let refs: Vec<&Case> = cases.iter().collect();
            let n = io::write(&out, &refs)?;
            println!("{n} generated cases written to {}", out.display());
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
