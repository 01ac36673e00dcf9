//! The subcommands that look at things: `list`, `show`, `coverage`, `check`, `materialize`,
//! `validate` and `matrix`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use spec_tests::corpus::{self, Filter, Suite};
use spec_tests::corpus::{BatchInput, Case};
use spec_tests::run::run_reference;
use state_reference::{Batch, Materializer, Message, ParseRules, Profile};

use super::{Exit, profile_named};

pub fn list(suite: &Suite, filter: &Filter, tags: bool) -> Result<Exit> {
    if tags {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for case in suite.select(filter) {
            for tag in &case.tags {
                *counts.entry(tag.as_str()).or_default() += 1;
            }
        }
        for (tag, n) in counts {
            println!("{tag:<24} {n:>4} case(s)");
        }
        return Ok(Exit::Pass);
    }
    for case in suite.select(filter) {
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
    Ok(Exit::Pass)
}

pub fn show(suite: &Suite, id: &str, profiles: &[String]) -> Result<Exit> {
    let Some(case) = suite.corpus.get(id) else {
        bail!(
            "no case with id `{id}`{}",
            spec_tests::corpus::did_you_mean(&suite.similar_ids(id))
        );
    };
    let names: Vec<&String> = match profiles.is_empty() {
        true => case.profiles.keys().collect(),
        false => profiles.iter().collect(),
    };
    // Profiles whose outcomes are the same share one entry (compared as JSON).
    #[derive(serde::Serialize)]
    struct Group<'a> {
        profiles: Vec<&'a String>,
        outcome: spec_tests::judge::Outcome,
    }
    #[derive(serde::Serialize)]
    struct Shown<'a> {
        case: &'a Case,
        reference: Vec<Group<'a>>,
    }
    let mut groups: Vec<(Value, Group)> = Vec::new();
    for name in names {
        if !case.profiles.contains_key(name) {
            let under: Vec<&str> = case.profiles.keys().map(String::as_str).collect();
            bail!(
                "`{id}` does not run under `{name}` (it runs under {})",
                under.join(", ")
            );
        }
        let outcome = run_reference(case, &profile_named(name)?, None);
        let value = serde_json::to_value(&outcome)?;
        match groups.iter_mut().find(|(v, _)| *v == value) {
            Some((_, group)) => group.profiles.push(name),
            None => groups.push((
                value,
                Group {
                    profiles: vec![name],
                    outcome,
                },
            )),
        }
    }
    let shown = Shown {
        case,
        reference: groups.into_iter().map(|(_, g)| g).collect(),
    };
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(Exit::Pass)
}

pub fn coverage(suite: &Suite, all: bool) -> Result<Exit> {
    let rows = corpus::coverage(suite);
    for row in &rows {
        if all || row.cases.is_empty() {
            println!(
                "{:<32} {:<10} {:>3} case(s) ({} in process, {} over the wire) {}",
                row.id,
                row.level,
                row.cases.len(),
                row.in_process,
                row.over_the_wire,
                row.cases.join(" ")
            );
        }
    }
    let uncovered = corpus::uncovered(suite);
    let covered = rows.iter().filter(|r| !r.cases.is_empty()).count();
    let wire = rows.iter().filter(|r| r.over_the_wire > 0).count();
    println!(
        "{covered} of {} requirements have a case; {wire} of them a case over the wire",
        rows.len()
    );
    if uncovered.is_empty() {
        println!("every MUST and SHOULD has a case");
        Ok(Exit::Pass)
    } else {
        println!(
            "MUST/SHOULD requirements without a case: {}",
            uncovered.join(", ")
        );
        Ok(Exit::Fail)
    }
}

pub fn matrix(reports: &[String]) -> Result<Exit> {
    let mut inputs = Vec::new();
    for arg in reports {
        // REPORT.json (named by the implementation it records), or NAME=REPORT.json.
        let (name, path) = match arg.split_once('=') {
            Some((name, path)) if !Path::new(arg).is_file() => (Some(name.to_owned()), path),
            _ => (None, arg.as_str()),
        };
        let text = spec_tests::input::read_text(Path::new(path))
            .with_context(|| format!("`{arg}` is neither REPORT.json nor NAME=REPORT.json"))?;
        let fallback = Path::new(path)
            .file_stem()
            .map_or_else(|| path.to_owned(), |s| s.to_string_lossy().into_owned());
        inputs.push(spec_tests::report::MatrixInput {
            text,
            name,
            fallback,
        });
    }
    print!("{}", spec_tests::report::render_matrix(&inputs)?);
    Ok(Exit::Pass)
}

/// Compares two saved reports; fails when the new one has a failure the old did not.
pub fn diff(old: &Path, new: &Path, markdown: Option<&Path>) -> Result<Exit> {
    let read = |path: &Path| -> Result<spec_tests::report::RunReport> {
        let text = spec_tests::input::read_text(path)?;
        spec_tests::report::RunReport::from_json(&text)
            .with_context(|| format!("{} is not a `run --report-json` report", path.display()))
    };
    let diff = spec_tests::report::RunDiff::of(&read(old)?, &read(new)?);
    match markdown {
        Some(path) if path == Path::new("-") => print!("{}", diff.markdown()),
        Some(path) => {
            print!("{}", diff.text());
            std::fs::write(path, diff.markdown())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => print!("{}", diff.text()),
    }
    Ok(Exit::when_ok(!diff.has_new_failures()))
}

/// Lints a stream URL or a dump; fails when a message is invalid as written. Prints each
/// invalid message as it is judged (every message with `all`), then the counts.
pub fn check(
    target: &str,
    profile: &Profile,
    options: &spec_tests::lint::ReadOptions,
    all: bool,
) -> Result<Exit> {
    use spec_tests::lint::{Linted, Place};
    let show = |v: &Option<String>| {
        v.as_ref()
            .map_or("valid".to_owned(), |r| format!("invalid: {r}"))
    };
    let mut print = |l: Linted| {
        if !all && l.as_written.is_none() && l.as_served.is_none() {
            return;
        }
        let place = match &l.place {
            Place::Dump => String::new(),
            Place::Read { offset, item } => {
                format!(" (the read from offset {offset}, item {item})")
            }
        };
        // One line when both readings agree; two when serving changes the verdict.
        match l.as_written == l.as_served {
            true => println!("#{}{place} {}", l.index, show(&l.as_written)),
            false => println!(
                "#{}{place}\n  as written: {}\n  as served:  {}",
                l.index,
                show(&l.as_written),
                show(&l.as_served)
            ),
        }
    };
    let tally = spec_tests::lint::lint(target, profile, options, &mut print)?;
    println!(
        "{} messages under {}: {} invalid as written, {} invalid as served",
        tally.messages, profile.name, tally.invalid_as_written, tally.invalid_as_served
    );
    Ok(Exit::when_ok(tally.invalid_as_written == 0))
}

fn read_json(file: &Path) -> Result<Value> {
    let text = spec_tests::input::read(file)?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not valid JSON", file.display()))
}

pub fn materialize(file: &Path, profile: &Profile) -> Result<Exit> {
    let value = read_json(file)?;
    let mut m = Materializer::new(profile.clone());
    let batches = match value {
        Value::Array(items) => vec![Batch::whole(items)],
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
            case.batches.iter().map(BatchInput::to_batch).collect()
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
    Ok(Exit::Pass)
}

pub fn validate(file: &Path, profile: &Profile) -> Result<Exit> {
    let rules = ParseRules::from_profile(profile);
    let (mut index, mut invalid) = (0usize, 0usize);
    // Judged as read: memory holds one message at a time, whatever the file's size.
    spec_tests::lint::each_message(file, &mut |message| {
        match Message::parse(message, &rules) {
            Ok(_) => println!("#{index}: valid"),
            Err(r) => {
                invalid += 1;
                println!("#{index}: invalid: {r}");
            }
        }
        index += 1;
    })?;
    Ok(Exit::when_ok(invalid == 0))
}
