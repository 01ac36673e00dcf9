//! The command line: [`args`] (clap types), one function per subcommand ([`run`],
//! [`inspect`], [`fixtures`]), and the exit codes. Everything these do beyond parsing and
//! printing is a library call.

mod args;
mod fixtures;
mod inspect;
mod run;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use spec_tests::corpus::{self, Filter, Suite};
use state_reference::{Mutant, Profile};

use args::{Cli, Command, FilterArgs};

/// The exit codes, for every subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every required case passed, or failed as listed in an expectations file.
    Pass = 0,
    /// An unexpected failure, an error, a stale expectation, an escaped mutant, an
    /// uncovered requirement, an invalid message, a reproduced bundle.
    Fail = 1,
    /// Bad usage or unreadable input.
    Usage = 2,
}

impl Exit {
    fn when_ok(ok: bool) -> Exit {
        if ok { Exit::Pass } else { Exit::Fail }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("state-conformance: {e:#}");
            Exit::Usage.into()
        }
    }
}

fn dispatch(cli: Cli) -> Result<Exit> {
    let fixtures = cli.fixtures.unwrap_or_else(corpus::default_fixtures_dir);
    let load = || Suite::load(&fixtures).context("cannot load the fixtures");
    match cli.command {
        Command::Run(args) => run::run(&load()?, *args),
        Command::List(f) => inspect::list(&load()?, &filter(&f)),
        Command::Show { id } => inspect::show(&load()?, &id),
        Command::Coverage { all } => inspect::coverage(&load()?, all),
        Command::SelfTest {
            random: Some(count),
            seed,
            bundles,
            jobs,
        } => run::generated_self_test(seed, count, &bundles, jobs),
        Command::SelfTest { jobs, .. } => run::self_test(&load()?, jobs),
        Command::Replay {
            bundle,
            adapter_from_bundle,
            adapter,
        } => run::replay(&bundle, adapter_from_bundle, adapter),
        Command::Fixtures(command) => fixtures::dispatch(&fixtures, command),
        Command::Matrix { reports } => inspect::matrix(&reports),
        Command::Check {
            target,
            profile,
            timeout_ms,
        } => inspect::check(
            &target,
            &profile_named(&profile)?,
            std::time::Duration::from_millis(timeout_ms),
        ),
        Command::Materialize { file, profile } => {
            inspect::materialize(&file, &profile_named(&profile)?)
        }
        Command::Validate { file, profile } => inspect::validate(&file, &profile_named(&profile)?),
        Command::ReferenceAdapter { mutant } => {
            let mutant = mutant.as_deref().map(mutant_named).transpose()?;
            spec_tests::reference_adapter::serve(mutant);
            Ok(Exit::Pass)
        }
    }
}

fn filter(f: &FilterArgs) -> Filter {
    Filter {
        case_globs: f.cases.clone(),
        tags: f.tags.clone(),
        levels: f.levels.clone(),
    }
}

fn profile_named(name: &str) -> Result<Profile> {
    Ok(Profile::preset(name)?)
}

fn mutant_named(name: &str) -> Result<Mutant> {
    Mutant::from_name(name).with_context(|| {
        let known: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        format!("unknown mutant `{name}` (known: {})", known.join(", "))
    })
}
