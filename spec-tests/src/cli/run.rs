//! `run`, `replay` and `self-test`: parse into a library config, call, print, pick the exit.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use spec_tests::adapter::AdapterSpec;
use spec_tests::campaign::Bundle;
use spec_tests::corpus::Suite;
use spec_tests::judge::CaseResult;
use spec_tests::judge::Expectations;
use spec_tests::pipeline::{self, Campaign, RunConfig};
use spec_tests::report;
use spec_tests::report::Progress;
use spec_tests::run::{MutantReport, RunOptions, run_adapter_cases, self_test_adapters};
use state_reference::{Mutant, Profile};
use std::io::IsTerminal;

use super::args::RunArgs;
use super::{Exit, filter, mutant_named, profile_named};

pub fn run(suite: &Suite, args: RunArgs, program: &str) -> Result<Exit> {
    // Output paths are checked before anything runs: a long run must not end in "cannot write".
    for path in [
        &args.report_json,
        &args.junit,
        &args.markdown,
        &args.write_expectations,
    ]
    .into_iter()
    .flatten()
    {
        ensure_writable(path)?;
    }
    let named_profiles: Vec<String> = args
        .profiles
        .iter()
        .filter(|p| *p != "all")
        .cloned()
        .collect();
    let profiles: Vec<Profile> = if args.profiles.iter().any(|p| p == "all") {
        Profile::presets()
    } else {
        named_profiles
            .iter()
            .map(|p| profile_named(p))
            .collect::<Result<_>>()?
    };
    for name in &named_profiles {
        profile_named(name)?;
    }
    let mutant = args.mutant.as_deref().map(mutant_named).transpose()?;
    let timeout = Duration::from_millis(args.adapter_timeout_ms);
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
    let campaign = args.random.map(|count| Campaign {
        count,
        seed: args.seed,
        with_corpus: args.with_corpus,
        check_determinism: args.check_determinism,
        bundles: args.bundles.clone(),
        shrink_budget: args.shrink_budget,
        max_bundles: args.max_bundles,
    });
    let mut progress = live_view(args.no_progress, args.progress_every);
    let on_planned = |runs: usize| progress.planned(runs);
    let on_result = |r: &CaseResult| progress.finished(r);
    let output = pipeline::run(
        suite,
        RunConfig {
            profiles,
            named_profiles,
            adapter,
            mutant,
            filter: filter(&args.filter),
            campaign,
            shard: args.shard,
            jobs: usize::from(args.jobs),
            fail_fast: args.fail_fast,
            standard: args.standard.into(),
            expectations,
            on_planned: Some(&on_planned),
            on_result: Some(&on_result),
            rerun_program: program.to_owned(),
        },
    )?;
    progress.finish();
    if let Some(differed) = &output.nondeterministic {
        for (case, profile, difference) in differed {
            println!("NONDETERMINISTIC {case} [{profile}]: {difference:?}");
        }
    }
    for b in &output.bundles {
        println!(
            "shrunk {} [{}] from size {} to {} in {} runs: {program} replay {}",
            b.case,
            b.profile,
            b.size_before,
            b.size_after,
            b.runs,
            spec_tests::pipeline::shell_words(&[b.path.display().to_string()])
        );
    }
    if output.bundles_skipped {
        println!(
            "(further failing scenarios not shrunk: --max-bundles {})",
            args.max_bundles
        );
    }
    let report = &output.report;
    // A closed stdout ends the listing quietly (the CLI exits on the next write).
    let _ = report::write_grouped(&mut std::io::stdout().lock(), report, args.verbose);
    write_file(args.report_json.as_deref(), || report.to_json())?;
    write_file(args.junit.as_deref(), || report.to_junit())?;
    write_file(args.markdown.as_deref(), || report.to_markdown())?;
    if let Some(path) = &args.write_expectations {
        let results: Vec<CaseResult> = report.results.iter().map(|r| r.result.clone()).collect();
        let found = Expectations::from_failures(&results);
        // A file that is there already is merged into, not replaced: a run of a subset keeps
        // the entries of the case runs it did not make.
        let file = match path.exists() {
            true => {
                let (merged, merge) = Expectations::load(path)?.merged(&found, &results);
                eprintln!(
                    "{}: {} added, {} removed, {} kept",
                    path.display(),
                    merge.added.len(),
                    merge.removed.len(),
                    merge.kept
                );
                for (what, ids) in [("added", &merge.added), ("removed", &merge.removed)] {
                    for id in ids {
                        eprintln!("  {what} {id}");
                    }
                }
                merged
            }
            false => found,
        };
        write_file(Some(path), || file.to_toml())?;
    }
    let _ = report::write_summary(&mut std::io::stdout().lock(), report, output.cases_selected);
    if !output.bundles.is_empty() {
        println!(
            "{} repro bundle(s) in {}",
            output.bundles.len(),
            args.bundles.display()
        );
    }
    if let Some(differed) = &output.nondeterministic {
        println!(
            "{} scenario run(s) differed between two runs",
            differed.len()
        );
    }
    Ok(Exit::when_ok(output.ok()))
}

/// A bar on a terminal (unless `no_bar`); streamed lines on stderr otherwise.
pub fn live_view(no_bar: bool, every_secs: u64) -> Progress {
    match !no_bar && std::io::stderr().is_terminal() {
        true => Progress::bar(),
        false => Progress::lines(Box::new(std::io::stderr()), Duration::from_secs(every_secs)),
    }
}

/// Fails, naming the path, unless `path` can be opened for writing; a file created by the
/// check is removed again.
fn ensure_writable(path: &Path) -> Result<()> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if !existed {
        std::fs::remove_file(path).ok();
    }
    Ok(())
}

fn write_file(path: Option<&Path>, render: impl FnOnce() -> String) -> Result<()> {
    match path {
        Some(p) => {
            std::fs::write(p, render()).with_context(|| format!("cannot write {}", p.display()))
        }
        None => Ok(()),
    }
}

/// Replays a bundle: against the adapter after `--`, the bundle's own command when asked
/// (`--adapter-from-bundle`), or else the bundled reference. An adapter that cannot start or
/// answer `hello` is an error (exit 2), never a reproduction.
pub fn replay(path: &Path, from_bundle: bool, argv: Vec<String>) -> Result<Exit> {
    let bundle = Bundle::load(path)?;
    let profile = profile_named(&bundle.profile)?;
    let mut adapter = AdapterSpec::bundled_reference(None)?;
    let recorded_reference = AdapterSpec::is_bundled_reference(&bundle.adapter);
    if !argv.is_empty() {
        adapter.argv = argv;
    } else if recorded_reference {
        // The bundled reference (or a mutant of it) of whatever machine wrote the bundle:
        // this binary's own, which is safe to run without asking.
        adapter.argv.extend(bundle.adapter.iter().skip(2).cloned());
    } else if from_bundle {
        adapter.argv.clone_from(&bundle.adapter);
    } else {
        eprintln!(
            "note: the bundle was recorded against `{}`; replaying against the bundled \
             reference (give --adapter-from-bundle to run the recorded command, or an adapter \
             after --)",
            bundle.adapter.join(" ")
        );
    }
    adapter
        .probe()
        .map_err(|e| anyhow::anyhow!("cannot replay against `{}`: {e}", adapter.argv.join(" ")))?;
    let result = run_adapter_cases(&[&bundle.case], &profile, &adapter, RunOptions::default());
    let Some(r) = result.first() else {
        bail!("the bundle's case does not apply to {}", bundle.profile);
    };
    println!(
        "case {} [{}] against {}",
        bundle.case.id,
        bundle.profile,
        adapter.argv.join(" ")
    );
    if r.verdict.is_failure() {
        println!("reproduced:");
        for m in r.verdict.mismatches() {
            println!("  {m}");
        }
        Ok(Exit::Fail)
    } else {
        println!("did not reproduce: {:?}", r.verdict);
        Ok(Exit::Pass)
    }
}

/// Each mutant's line is printed as that mutant is done (a self-test takes minutes), the
/// count at the end.
pub fn self_test(suite: &Suite, jobs: usize) -> Result<Exit> {
    let print = |r: &MutantReport| match r.caught_by.first() {
        Some(first) => {
            let more = r.caught_by.len() - 1;
            println!(
                "caught   {:<28} breaks {:<26} by {first} (+{more} more)",
                r.mutant.name(),
                r.breaks
            );
        }
        None => println!(
            "ESCAPED  {:<28} breaks {:<26} no required case fails",
            r.mutant.name(),
            r.breaks
        ),
    };
    let reports = self_test_adapters(suite, jobs, &print)?;
    let escaped = reports.iter().filter(|r| r.caught_by.is_empty()).count();
    println!("{} passed, {escaped} failed", reports.len() - escaped);
    Ok(Exit::when_ok(escaped == 0))
}

pub fn generated_self_test(seed: u64, count: u64, dir: &Path, jobs: usize) -> Result<Exit> {
    // This binary's own path must be known before any mutant's adapter is made from it.
    AdapterSpec::bundled_reference(None)?;
    let adapter_for = |m: Mutant| {
        AdapterSpec::bundled_reference(Some(m)).expect("this binary's own path was just read")
    };
    let print = |c: &spec_tests::campaign::GeneratedCatch| {
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
            match c.replayed {
                Some(1) => "reproduced".to_owned(),
                Some(k) => format!("reproduced on attempt {k}"),
                None => "not reproduced".to_owned(),
            }
        );
    };
    // Each mutant's line as it is done; the count at the end.
    let catches = spec_tests::campaign::generated_self_test(
        seed,
        count,
        state_reference::profile::DEFAULT_PROFILE,
        dir,
        jobs,
        &adapter_for,
        &print,
    );
    let failed = catches.iter().filter(|c| !c.ok()).count();
    println!(
        "{} passed, {failed} failed ({count} scenarios of seed {seed})",
        catches.len() - failed
    );
    Ok(Exit::when_ok(failed == 0))
}
