//! `state-conformance`: the Durable Streams State Protocol conformance runner.
//!
//! Exit codes: 0 every required case passed; 1 a required case failed (or a self-test or
//! coverage check did); 2 bad usage or unreadable inputs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use spec_tests::case::Case;
use spec_tests::expectations::Expectations;
use spec_tests::report::{ReportedResult, RunReport};
use spec_tests::suite::{self, AdapterSpec, Filter, Suite};
use spec_tests::verdict::Verdict;
use state_reference::{Batch, Materializer, Message, Mutant, ParseRules, Profile};

use spec_tests::check;

#[derive(Parser)]
#[command(
    name = "state-conformance",
    version,
    about = "Conformance suite for the Durable Streams State Protocol"
)]
struct Cli {
    /// The fixtures directory (requirements, case schema, cases).
    #[arg(long, global = true, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the corpus against the bundled reference implementation.
    Run(Box<RunArgs>),
    /// List the cases a filter selects.
    List(FilterArgs),
    /// Show one case as JSON, with the reference's outcome under each of its profiles.
    Show { id: String },
    /// Which cases cover each requirement; fails if a MUST or SHOULD has none.
    Coverage {
        /// Print every requirement, not only the uncovered ones.
        #[arg(long)]
        all: bool,
    },
    /// Run the corpus against every mutant of the reference; fails unless each is caught.
    SelfTest {
        /// Mutants run at once (live cases mostly wait on the network, so more than cores).
        #[arg(long, default_value_t = 18)]
        jobs: usize,
        /// Use N generated scenarios (of --seed) instead of the corpus: each mutant must be
        /// caught, shrunk to a bundle (under --bundles), and reproduced by replaying it.
        #[arg(long, value_name = "N")]
        random: Option<u64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_name = "DIR", default_value = "repro/self-test")]
        bundles: PathBuf,
    },
    /// Lint a stream: every message of a stream URL (read from its beginning) or of a JSON
    /// dump (an array of messages), judged as written and as served (with the
    /// `headers.offset` servers add to change messages).
    Check {
        /// `http(s)://...` (a stream) or a file.
        target: String,
        #[arg(long, default_value = "spec-1.0-strict")]
        profile: String,
    },
    /// Materialize a file and print the canonical state: a case file, or a JSON array of messages.
    Materialize {
        file: PathBuf,
        #[arg(long, default_value = state_reference::profile::DEFAULT_PROFILE)]
        profile: String,
    },
    /// Validate a message file (one message, or a JSON array of messages, each judged).
    Validate {
        file: PathBuf,
        #[arg(long, default_value = state_reference::profile::DEFAULT_PROFILE)]
        profile: String,
    },
    /// Render implementations x case groups (Markdown) from saved `run --report-json` files.
    Matrix {
        /// NAME=REPORT.json, one per implementation (a column per profile in each report).
        #[arg(required = true, value_name = "NAME=REPORT")]
        reports: Vec<String>,
    },
    /// Re-drive an implementation from a repro bundle alone (exit 1 if it still fails).
    Replay {
        bundle: PathBuf,
        /// The adapter command, after `--`; the one recorded in the bundle when absent.
        #[arg(last = true, value_name = "ADAPTER")]
        adapter: Vec<String>,
    },
    /// Corpora as standalone JSON: export, generate, verify, promote.
    #[command(subcommand)]
    Fixtures(FixturesCommand),
    /// Serve the bundled reference adapter on stdin/stdout (what `run` starts by default).
    #[command(hide = true)]
    ReferenceAdapter {
        #[arg(long, value_name = "NAME")]
        mutant: Option<String>,
    },
}

#[derive(Subcommand)]
enum FixturesCommand {
    /// Write the corpus (cases, index, reference transcripts of live cases) to DIR.
    Export { dir: PathBuf },
    /// Write COUNT generated scenarios, expectations from the reference, to DIR.
    Generate {
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        count: u64,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Re-check an exported or generated directory with the reference (exit 1 on any
    /// disagreement).
    Verify { dir: PathBuf },
    /// Turn a repro bundle into a named case of the corpus.
    Promote {
        bundle: PathBuf,
        #[arg(long)]
        id: String,
    },
}

#[derive(Args, Clone, Default)]
struct FilterArgs {
    /// Case ID glob (repeatable), e.g. 'mat-reset-*'.
    #[arg(long = "case", value_name = "GLOB")]
    cases: Vec<String>,
    /// Only cases with this tag (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Only cases of this level (repeatable): MUST, SHOULD, MAY, silent, ...
    #[arg(long = "level")]
    levels: Vec<String>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// Profile to run under (repeatable; `all` for every preset).
    #[arg(long = "profile", default_value = state_reference::profile::DEFAULT_PROFILE)]
    profiles: Vec<String>,
    /// Run a deliberately broken reference (see `self-test`).
    #[arg(long, value_name = "NAME")]
    mutant: Option<String>,
    /// Also print informational outcomes (where the spec is silent).
    #[arg(long)]
    verbose: bool,
    /// Cases run at once, each job with its own adapter process.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Stop starting cases after the first unexpected failure.
    #[arg(long)]
    fail_fast: bool,
    /// Run only shard K of N (1-based): every Nth selected case, for splitting across CI jobs.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// No progress bar (it is shown only on a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// Run N generated scenarios (seeded by --seed) instead of the corpus.
    #[arg(long, value_name = "N")]
    random: Option<u64>,
    /// The campaign's seed: the same seed makes the same scenarios on any machine.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// With --random: run the corpus as well.
    #[arg(long, requires = "random")]
    with_corpus: bool,
    /// With --random: run every scenario twice and report any difference, and whether the
    /// simulator or the implementation caused it.
    #[arg(long, requires = "random")]
    check_determinism: bool,
    /// Where a failing generated scenario's repro bundle is written (after shrinking).
    #[arg(long, value_name = "DIR", default_value = "repro")]
    bundles: PathBuf,
    /// The most candidate runs shrinking one failure may take.
    #[arg(long, default_value_t = 300)]
    shrink_budget: usize,
    /// How many failing scenarios are shrunk into bundles (the first ones, in case order).
    #[arg(long, default_value_t = 3)]
    max_bundles: usize,
    /// Check every adapter answer against the protocol's JSON Schema.
    #[arg(long)]
    check_protocol: bool,
    /// The longest one adapter command may take, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    adapter_timeout_ms: u64,
    /// Write the result model (JSON) here.
    #[arg(long, value_name = "PATH")]
    report_json: Option<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "PATH")]
    markdown: Option<PathBuf>,
    /// Known failures (TOML); listed failures are expected, listed passes are stale.
    #[arg(long, value_name = "PATH")]
    expectations: Option<PathBuf>,
    /// Write the current failures as an expectations file.
    #[arg(long, value_name = "PATH")]
    write_expectations: Option<PathBuf>,
    /// The adapter command (argv, no shell), after `--`; the bundled reference adapter when
    /// absent.
    #[arg(last = true, value_name = "ADAPTER")]
    adapter: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("state-conformance: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    let fixtures = cli.fixtures.unwrap_or_else(suite::default_fixtures_dir);
    let load = || Suite::load(&fixtures).context("cannot load the fixtures");
    match cli.command {
        Command::Run(args) => run(&load()?, *args),
        Command::List(f) => {
            let suite = load()?;
            for case in suite.select(&filter(&f)) {
                let profiles: Vec<&str> = case.profiles.keys().map(String::as_str).collect();
                println!(
                    "{:<48} {:<11} {:<10} {}  [{}]",
                    case.id,
                    case.mode.name(),
                    case.level,
                    case.title,
                    profiles.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id } => show(&load()?, &id),
        Command::Coverage { all } => coverage(&load()?, all),
        Command::SelfTest {
            random: Some(count),
            seed,
            bundles,
            jobs,
        } => generated_self_test(seed, count, &bundles, jobs),
        Command::SelfTest { jobs, .. } => self_test(&load()?, jobs),
        Command::Replay { bundle, adapter } => replay(&bundle, adapter),
        Command::Fixtures(command) => fixtures_command(&fixtures, command),
        Command::Matrix { reports } => {
            let mut inputs = Vec::new();
            for arg in reports {
                let (name, path) = arg
                    .split_once('=')
                    .with_context(|| format!("`{arg}` is not NAME=REPORT.json"))?;
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
                inputs.push((name.to_owned(), text));
            }
            print!(
                "{}",
                spec_tests::matrix::render(&inputs).map_err(anyhow::Error::msg)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { target, profile } => check::run(&target, &profile_named(&profile)?),
        Command::Materialize { file, profile } => {
            materialize_file(&file, &profile_named(&profile)?)
        }
        Command::Validate { file, profile } => validate_file(&file, &profile_named(&profile)?),
        Command::ReferenceAdapter { mutant } => {
            spec_tests::adapter::reference::serve(mutant.as_deref().map(mutant_named).transpose()?);
            Ok(ExitCode::SUCCESS)
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

fn run(suite: &Suite, args: RunArgs) -> Result<ExitCode> {
    let profiles: Vec<Profile> = if args.profiles.iter().any(|p| p == "all") {
        Profile::preset_names()
            .into_iter()
            .map(profile_named)
            .collect::<Result<_>>()?
    } else {
        args.profiles
            .iter()
            .map(|p| profile_named(p))
            .collect::<Result<_>>()?
    };
    let mutant = args.mutant.as_deref().map(mutant_named).transpose()?;
    let timeout = std::time::Duration::from_millis(args.adapter_timeout_ms);
    let adapter = match (args.adapter.is_empty(), mutant) {
        (true, m) => AdapterSpec {
            timeout,
            check_protocol: args.check_protocol,
            ..AdapterSpec::bundled_reference(m)?
        },
        (false, None) => AdapterSpec {
            argv: args.adapter.clone(),
            timeout,
            check_protocol: args.check_protocol,
        },
        (false, Some(_)) => bail!("--mutant applies to the bundled reference adapter only"),
    };
    let expectations = args
        .expectations
        .as_deref()
        .map(Expectations::load)
        .transpose()?;
    let generated = match args.random {
        Some(n) => spec_tests::campaign::scenarios(args.seed, n),
        None => Vec::new(),
    };
    let selection = filter(&args.filter);
    let mut cases = match args.random.is_none() || args.with_corpus {
        true => suite.select(&selection),
        false => Vec::new(),
    };
    cases.extend(generated.iter().filter(|c| selection.matches(c)));
    if let Some((k, n)) = args.shard {
        cases = cases
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k - 1)
            .map(|(_, c)| c)
            .collect();
    }
    if cases.is_empty() {
        bail!("the filter selects no case");
    }
    let campaign_flags = match args.random {
        Some(n) => format!(" --seed {} --random {n}", args.seed),
        None => String::new(),
    };
    let rerun_suffix = match (&args.mutant, args.adapter.is_empty()) {
        (Some(m), _) => format!("{campaign_flags} --mutant {m}"),
        (None, false) => format!("{campaign_flags} -- {}", args.adapter.join(" ")),
        (None, true) => campaign_flags,
    };
    let runs: usize = profiles
        .iter()
        .map(|p| cases.iter().filter(|c| c.weight(&p.name).is_some()).count())
        .sum();
    let bar = progress_bar(runs as u64, args.no_progress);
    let on_result = |r: &suite::CaseResult| {
        bar.inc(1);
        if r.verdict.fails_run() {
            bar.set_message(format!("last failure: {}", r.case));
        }
    };
    let options = suite::RunOptions {
        jobs: usize::from(args.jobs),
        fail_fast: args.fail_fast,
        on_result: Some(&on_result),
    };
    let mut results = Vec::new();
    for profile in &profiles {
        results.extend(suite::run_adapter_cases(
            &cases,
            &profile.name,
            &adapter,
            options,
        ));
        if args.fail_fast && results.iter().any(|r| r.verdict.fails_run()) {
            break;
        }
    }
    bar.finish_and_clear();
    let nondeterministic = match args.check_determinism {
        true => check_determinism(&cases, &results, &adapter, usize::from(args.jobs)),
        false => 0,
    };
    let bundles = bundle_failures(
        &cases,
        &results,
        &adapter,
        &args.bundles,
        (args.shrink_budget, args.max_bundles),
    )?;
    if let Some(e) = &expectations {
        e.apply(&mut results);
    }
    let names: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
    let report = RunReport::new(
        &cases,
        adapter.argv.clone(),
        names.clone(),
        results,
        &rerun_suffix,
    );
    print_grouped(&report, args.verbose);
    write_report(args.report_json.as_deref(), || report.to_json())?;
    write_report(args.junit.as_deref(), || report.to_junit())?;
    write_report(args.markdown.as_deref(), || report.to_markdown())?;
    if let Some(path) = &args.write_expectations {
        let results: Vec<_> = report.results.iter().map(|r| r.result.clone()).collect();
        write_report(Some(path), || {
            Expectations::from_failures(&results).to_toml()
        })?;
    }
    let s = &report.summary;
    println!("adapter: {}", adapter.argv.join(" "));
    println!(
        "profiles: {}; cases selected: {}",
        names.join(", "),
        cases.len()
    );
    println!(
        "{} passed, {} failed, {} informational, {} not applicable, {} expected failures, {} stale expectations",
        s.passed,
        s.failed,
        s.informational,
        s.not_applicable,
        s.expected_failures,
        s.stale_expectations
    );
    if bundles > 0 {
        println!("{bundles} repro bundle(s) in {}", args.bundles.display());
    }
    if args.check_determinism {
        println!("{nondeterministic} scenario run(s) differed between two runs");
    }
    Ok(if s.ok() && nondeterministic == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The seed a generated case was made from (its ID is `gen-SEEDHEX`).
fn generated_seed(case: &Case) -> Option<u64> {
    let hex = case.id.strip_prefix("gen-")?;
    u64::from_str_radix(hex, 16).ok()
}

/// Shrinks each failed generated scenario and writes its bundle; returns how many.
fn bundle_failures(
    cases: &[&Case],
    results: &[suite::CaseResult],
    adapter: &AdapterSpec,
    dir: &Path,
    (budget, max): (usize, usize),
) -> Result<usize> {
    let mut written = 0;
    for r in results.iter().filter(|r| r.verdict.is_failure()) {
        if written == max {
            println!("(further failing scenarios not shrunk: --max-bundles {max})");
            break;
        }
        let Some(case) = cases.iter().find(|c| c.id == r.case) else {
            continue;
        };
        let Some(seed) = generated_seed(case) else {
            continue;
        };
        let profile = profile_named(&r.profile)?;
        let bundle =
            spec_tests::campaign::bundle_failure(case, Some(seed), &profile, adapter, budget);
        let path = bundle
            .write(dir)
            .with_context(|| format!("cannot write a bundle to {}", dir.display()))?;
        println!(
            "shrunk {} [{}] from size {} to {} in {} runs: state-conformance replay {}",
            r.case,
            r.profile,
            bundle.shrink.size_before,
            bundle.shrink.size_after,
            bundle.shrink.runs,
            path.display()
        );
        written += 1;
    }
    Ok(written)
}

/// Runs the generated cases a second time and compares; returns how many runs differed.
fn check_determinism(
    cases: &[&Case],
    first: &[suite::CaseResult],
    adapter: &AdapterSpec,
    jobs: usize,
) -> usize {
    let generated: Vec<&Case> = cases
        .iter()
        .copied()
        .filter(|c| generated_seed(c).is_some())
        .collect();
    let options = suite::RunOptions {
        jobs,
        ..Default::default()
    };
    let mut differed = 0;
    let profiles: std::collections::BTreeSet<&str> =
        first.iter().map(|r| r.profile.as_str()).collect();
    for profile in profiles {
        for again in suite::run_adapter_cases(&generated, profile, adapter, options) {
            let Some(before) = first
                .iter()
                .find(|r| r.case == again.case && r.profile == again.profile)
            else {
                continue;
            };
            let difference = spec_tests::campaign::compare_runs(&before.outcome, &again.outcome);
            if difference != spec_tests::campaign::Difference::None {
                differed += 1;
                println!(
                    "NONDETERMINISTIC {} [{profile}]: {difference:?}",
                    again.case
                );
            }
        }
    }
    differed
}

fn replay(path: &Path, argv: Vec<String>) -> Result<ExitCode> {
    let bundle = spec_tests::campaign::Bundle::load(path)?;
    let reference_argv = |a: &[String]| a.get(1).is_some_and(|x| x == "reference-adapter");
    let mut adapter = match (argv.is_empty(), reference_argv(&bundle.adapter)) {
        (false, _) => AdapterSpec {
            argv,
            ..AdapterSpec::bundled_reference(None)?
        },
        // The bundled reference (or a mutant of it) of whatever machine wrote the bundle:
        // this binary's own.
        (true, true) => {
            let mut spec = AdapterSpec::bundled_reference(None)?;
            spec.argv.extend(bundle.adapter.iter().skip(2).cloned());
            spec
        }
        (true, false) => AdapterSpec {
            argv: bundle.adapter.clone(),
            ..AdapterSpec::bundled_reference(None)?
        },
    };
    adapter.check_protocol = false;
    let result = suite::run_adapter_cases(
        &[&bundle.case],
        &bundle.profile,
        &adapter,
        suite::RunOptions::default(),
    );
    let Some(r) = result.first() else {
        bail!("the bundle's case does not apply to {}", bundle.profile);
    };
    println!(
        "case {} [{}] against {}",
        bundle.case.id,
        bundle.profile,
        adapter.argv.join(" ")
    );
    match &r.verdict {
        Verdict::Fail { mismatches } => {
            println!("reproduced:");
            for m in mismatches {
                println!("  {m}");
            }
            Ok(ExitCode::from(1))
        }
        other => {
            println!("did not reproduce: {other:?}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn fixtures_command(fixtures: &Path, command: FixturesCommand) -> Result<ExitCode> {
    use spec_tests::fixtures as io;
    match command {
        FixturesCommand::Export { dir } => {
            let suite = Suite::load(fixtures).context("cannot load the fixtures")?;
            let cases: Vec<&Case> = suite.corpus.cases.iter().collect();
            let n = io::write(&dir, &cases).map_err(anyhow::Error::msg)?;
            println!("{n} cases written to {}", dir.display());
        }
        FixturesCommand::Generate { seed, count, out } => {
            let cases = spec_tests::campaign::scenarios(seed, count);
            let refs: Vec<&Case> = cases.iter().collect();
            let n = io::write(&out, &refs).map_err(anyhow::Error::msg)?;
            println!("{n} generated cases written to {}", out.display());
        }
        FixturesCommand::Verify { dir } => {
            let cases = io::read(&dir).map_err(anyhow::Error::msg)?;
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
            return Ok(match problems.is_empty() {
                true => ExitCode::SUCCESS,
                false => ExitCode::from(1),
            });
        }
        FixturesCommand::Promote { bundle, id } => {
            let bundle = spec_tests::campaign::Bundle::load(&bundle)?;
            let tombstones = spec_tests::case::load_tombstones(&fixtures.join("tombstones.json"))?;
            let path = io::promote(&bundle, &id, &fixtures.join("cases"), &tombstones)
                .map_err(anyhow::Error::msg)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_report(path: Option<&Path>, render: impl FnOnce() -> String) -> Result<()> {
    match path {
        Some(p) => {
            std::fs::write(p, render()).with_context(|| format!("cannot write {}", p.display()))
        }
        None => Ok(()),
    }
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let parsed = text
        .split_once('/')
        .and_then(|(k, n)| Some((k.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    match parsed {
        Some((k, n)) if (1..=n).contains(&k) => Ok((k, n)),
        _ => Err(format!("`{text}` is not K/N with 1 <= K <= N (e.g. 2/4)")),
    }
}

/// A bar on stderr when it is a terminal (hidden otherwise, or when asked).
fn progress_bar(len: u64, hidden: bool) -> indicatif::ProgressBar {
    if hidden {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} case runs {elapsed} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// Failures (and with `verbose`, informational and expected outcomes), one block per case:
/// the profiles it failed under share a block when they failed the same way.
fn print_grouped(report: &RunReport, verbose: bool) {
    let mut blocks: Vec<(&str, &ReportedResult, Vec<String>, Vec<&str>)> = Vec::new();
    for r in &report.results {
        let (label, lines) = match &r.result.verdict {
            Verdict::Fail { mismatches } => ("FAIL", mismatches.clone()),
            Verdict::StaleExpectation { reason } => (
                "STALE",
                vec![format!("listed as failing ({reason}) but passed")],
            ),
            Verdict::Informational { mismatches } if verbose => ("INFO", mismatches.clone()),
            Verdict::ExpectedFailure { reason, mismatches } if verbose => (
                "XFAIL",
                std::iter::once(format!("expected: {reason}"))
                    .chain(mismatches.iter().cloned())
                    .collect(),
            ),
            _ => continue,
        };
        let lines = [lines, transcript_tail(&r.result.outcome)].concat();
        match blocks
            .iter_mut()
            .find(|b| b.0 == label && b.1.result.case == r.result.case && b.2 == lines)
        {
            Some(block) => block.3.push(&r.result.profile),
            None => blocks.push((label, r, lines, vec![&r.result.profile])),
        }
    }
    if blocks.iter().any(|b| b.0 == "FAIL" || b.0 == "STALE") {
        println!("failures:\n");
    }
    for (label, r, lines, profiles) in blocks {
        println!(
            "{label} {} [{}] {}",
            r.result.case,
            profiles.join(", "),
            r.title
        );
        println!("     requirements: {}", r.requirements.join(", "));
        for line in lines {
            for (i, part) in line.lines().enumerate() {
                println!("     {}{part}", if i == 0 { "" } else { "  " });
            }
        }
        println!("     re-run: {}", r.rerun);
        println!();
    }
}

/// For a failed live case: the simulator's last exchanges, which show the faults that fired.
fn transcript_tail(outcome: &spec_tests::execute::Outcome) -> Vec<String> {
    use spec_tests::execute::Outcome;
    let transcript = match outcome {
        Outcome::Subscribe { transcript, .. } | Outcome::Produce { transcript, .. } => transcript,
        _ => return Vec::new(),
    };
    let skip = transcript.len().saturating_sub(8);
    let mut lines = vec!["simulator transcript (last exchanges):".to_owned()];
    lines.extend(transcript[skip..].iter().map(|l| format!("  {l}")));
    lines
}

fn show(suite: &Suite, id: &str) -> Result<ExitCode> {
    let case = suite
        .corpus
        .get(id)
        .with_context(|| format!("no case with id `{id}`"))?;
    println!("{}", serde_json::to_string_pretty(case)?);
    for profile in case.profiles.keys() {
        let p = profile_named(profile)?;
        let outcome = spec_tests::execute::run_reference(case, &p, None);
        println!(
            "\nreference outcome under {profile}:\n{}",
            serde_json::to_string_pretty(&outcome)?
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn coverage(suite: &Suite, all: bool) -> Result<ExitCode> {
    let rows = suite::coverage(suite);
    for row in &rows {
        if all || row.cases.is_empty() {
            println!(
                "{:<32} {:<10} {:>3} case(s) {}",
                row.id,
                row.level,
                row.cases.len(),
                row.cases.join(" ")
            );
        }
    }
    let uncovered = suite::uncovered(suite);
    let covered = rows.iter().filter(|r| !r.cases.is_empty()).count();
    println!("{covered} of {} requirements have a case", rows.len());
    if uncovered.is_empty() {
        println!("every MUST and SHOULD has a case");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "MUST/SHOULD requirements without a case: {}",
            uncovered.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

fn self_test(suite: &Suite, jobs: usize) -> Result<ExitCode> {
    let reports = suite::self_test_adapters(suite, jobs)?;
    let mut escaped = 0;
    for r in &reports {
        match r.caught_by.first() {
            Some(first) => {
                let more = r.caught_by.len() - 1;
                println!(
                    "caught   {:<28} breaks {:<26} by {first} (+{more} more)",
                    r.mutant.name(),
                    r.breaks
                );
            }
            None => {
                escaped += 1;
                println!(
                    "ESCAPED  {:<28} breaks {:<26} no required case fails",
                    r.mutant.name(),
                    r.breaks
                );
            }
        }
    }
    println!("{} passed, {escaped} failed", reports.len() - escaped);
    Ok(if escaped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn generated_self_test(seed: u64, count: u64, dir: &Path, jobs: usize) -> Result<ExitCode> {
    let adapter_for = |m: Mutant| {
        AdapterSpec::bundled_reference(Some(m)).expect("this binary's own path is known")
    };
    AdapterSpec::bundled_reference(None)?;
    let catches = spec_tests::campaign::generated_self_test(
        seed,
        count,
        state_reference::profile::DEFAULT_PROFILE,
        dir,
        jobs,
        &adapter_for,
    );
    let mut failed = 0;
    for c in &catches {
        failed += usize::from(!c.ok());
        println!(
            "{} {:<28} by {} (shrunk {} -> {} in {} runs; replay {}: {})",
            if c.ok() { "caught  " } else { "ESCAPED " },
            c.mutant.name(),
            c.caught_by.as_deref().unwrap_or("no scenario"),
            c.shrink.size_before,
            c.shrink.size_after,
            c.shrink.runs,
            c.bundle
                .as_ref()
                .map_or("-".into(), |p| p.display().to_string()),
            if c.replayed {
                "reproduced"
            } else {
                "not reproduced"
            }
        );
    }
    println!(
        "{} passed, {failed} failed ({count} scenarios of seed {seed})",
        catches.len() - failed
    );
    Ok(match failed {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

fn read_json(file: &Path) -> Result<Value> {
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not valid JSON", file.display()))
}

fn materialize_file(file: &Path, profile: &Profile) -> Result<ExitCode> {
    let value = read_json(file)?;
    let mut m = Materializer::new(profile.clone());
    let batches = match value {
        Value::Array(items) => vec![Batch {
            items,
            offset: None,
            up_to_date: true,
        }],
        Value::Object(_) => {
            let case: Case = serde_json::from_value(value).with_context(|| {
                format!(
                    "{} is neither a case file nor a JSON array of messages",
                    file.display()
                )
            })?;
            if let Some(collections) = &case.collections {
                m = m.with_collections(collections)?;
            }
            case.batches
                .into_iter()
                .map(|b| Batch {
                    items: b.items,
                    offset: Some(b.offset),
                    up_to_date: b.up_to_date,
                })
                .collect()
        }
        _ => bail!(
            "{}: expected a case file or a JSON array of messages",
            file.display()
        ),
    };
    for batch in batches {
        m.apply_batch(batch);
    }
    for d in m.diagnostics() {
        eprintln!(
            "rejected batch {} item {}: {} at {}: {}",
            d.batch, d.index, d.requirement, d.path, d.reason
        );
    }
    println!("{}", serde_json::to_string_pretty(&m.observe())?);
    Ok(ExitCode::SUCCESS)
}

fn validate_file(file: &Path, profile: &Profile) -> Result<ExitCode> {
    let rules = ParseRules::from_profile(profile);
    let messages = match read_json(file)? {
        Value::Array(items) => items,
        one => vec![one],
    };
    let mut invalid = 0;
    for (i, message) in messages.into_iter().enumerate() {
        match Message::parse(message, &rules) {
            Ok(_) => println!("#{i}: valid"),
            Err(r) => {
                invalid += 1;
                println!("#{i}: invalid: {r}");
            }
        }
    }
    Ok(if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
