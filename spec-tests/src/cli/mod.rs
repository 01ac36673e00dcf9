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
use spec_tests::corpus::{Filter, Fixtures, Suite};
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
    end_quietly_when_stdout_closes();
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("state-conformance: {e:#}");
            Exit::Usage.into()
        }
    }
}

/// `state-conformance show X | head`: once the reader has gone, `println!` panics on the
/// broken pipe. Rust ignores SIGPIPE (and must, or an adapter closing its stdin would kill
/// the runner), so the panic is caught here instead: the process ends at once, silently,
/// with the status a shell reports for a process killed by SIGPIPE (128 + 13).
fn end_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout")
            && message.to_ascii_lowercase().contains("broken pipe")
        {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn dispatch(cli: Cli) -> Result<Exit> {
    let fixtures = Fixtures::chosen(cli.fixtures);
    let load = || Suite::load(&fixtures).with_context(|| format!("cannot load {fixtures}"));
    match cli.command {
        Command::Run(args) => run::run(&load()?, *args, &program(&fixtures)),
        Command::List(l) => inspect::list(&load()?, &filter(&l.filter), l.list_tags),
        Command::Show { id, profile } => inspect::show(&load()?, &id, &profile),
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
        Command::Diff { old, new, markdown } => inspect::diff(&old, &new, markdown.as_deref()),
        Command::Check {
            target,
            profile,
            timeout_ms,
            cacert,
            insecure,
            deadline_ms,
            all,
        } => {
            let options = spec_tests::lint::ReadOptions {
                timeout: std::time::Duration::from_millis(timeout_ms),
                ca_certificates: cacert.as_deref().map(spec_tests::input::read).transpose()?,
                insecure,
                deadline: std::time::Duration::from_millis(deadline_ms),
            };
            inspect::check(&target, &profile_from(&profile)?, &options, all)
        }
        Command::Materialize { file, profile } => {
            inspect::materialize(&file, &profile_from(&profile)?)
        }
        Command::Validate { file, profile } => inspect::validate(&file, &profile_from(&profile)?),
        Command::Serve(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start a runtime")?;
            runtime.block_on(stream_simulator::standalone::serve(args))?;
            Ok(Exit::Pass)
        }
        Command::ReferenceAdapter { mutant, listen } => {
            let mutant = mutant.as_deref().map(mutant_named).transpose()?;
            match listen {
                Some(address) => spec_tests::reference_adapter::listen(mutant, &address)
                    .with_context(|| format!("cannot listen on {address}"))?,
                None => spec_tests::reference_adapter::serve(mutant),
            }
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

/// This program as it was invoked (and `--fixtures DIR` when given), shell-quoted: how
/// printed commands (`re-run:`, `replay`) start, so they work as printed.
fn program(fixtures: &Fixtures) -> String {
    let argv0 = std::env::args()
        .next()
        .unwrap_or_else(|| "state-conformance".into());
    let mut words = vec![argv0];
    if let Some(dir) = fixtures.dir() {
        words.extend(["--fixtures".into(), dir.display().to_string()]);
    }
    spec_tests::pipeline::shell_words(&words)
}

/// A preset by name, or (for `materialize`, `validate` and `check`) a profile from a JSON
/// file in the presets' format (`docs/profiles.md`).
fn profile_from(name_or_file: &str) -> Result<Profile> {
    if Profile::preset_names().contains(&name_or_file) || !is_profile_file(name_or_file) {
        return Ok(Profile::preset(name_or_file)?);
    }
    let path = std::path::Path::new(name_or_file);
    let text = spec_tests::input::read_text(path)?;
    Profile::from_json(&text).with_context(|| format!("{} is not a profile", path.display()))
}

/// A preset by name only: what `run` and `replay` take, since adapters know profiles by the
/// names their `hello` lists.
fn profile_named(name: &str) -> Result<Profile> {
    if is_profile_file(name) && !Profile::preset_names().contains(&name) {
        anyhow::bail!(
            "`run` takes preset names ({}): adapters know profiles by name; a profile file \
             works with materialize, validate and check",
            Profile::preset_names().join(", ")
        );
    }
    Ok(Profile::preset(name)?)
}

fn is_profile_file(name: &str) -> bool {
    name.ends_with(".json") || std::path::Path::new(name).is_file()
}

fn mutant_named(name: &str) -> Result<Mutant> {
    Mutant::from_name(name).with_context(|| {
        let every = Mutant::ALL.iter().chain(&Mutant::POSITIONS);
        let known: Vec<&str> = every.map(|m| m.name()).collect();
        format!("unknown mutant `{name}` (known: {})", known.join(", "))
    })
}
