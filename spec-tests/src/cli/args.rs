//! The command line: clap types only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "state-conformance",
    version,
    about = "Conformance suite for the Durable Streams State Protocol"
)]
pub struct Cli {
    /// A fixtures directory (requirements.json, tombstones.json, cases/) to use instead of
    /// the corpus embedded in this binary; also $STATE_CONFORMANCE_FIXTURES.
    #[arg(long, global = true, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the corpus against an implementation: the adapter after `--` (or at tcp:// or
    /// unix: address), the bundled reference adapter without one.
    Run(Box<RunArgs>),
    /// List the cases a filter selects (or, with --tags, the tags and how many cases carry each).
    List(ListArgs),
    /// Show one case and the reference's outcome, as one JSON document: `{"case", "reference":
    /// [{"profiles", "outcome"}]}`, profiles with the same outcome together.
    Show {
        /// The case ID (see `list`).
        id: String,
        /// Only under this profile (repeatable); by default every profile of the case.
        #[arg(long, value_name = "NAME")]
        profile: Vec<String>,
    },
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
        /// The seed of the generated scenarios (with --random).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where the shrunk bundles of a generated self-test are written.
        #[arg(long, value_name = "DIR", default_value = "repro/self-test")]
        bundles: PathBuf,
    },
    /// Lint a stream: every message of a stream URL (read from its beginning) or of a dump
    /// (a JSON array of messages, or one per line), judged as written and as served (with
    /// the `headers.offset` servers add to change messages), in memory bounded by the
    /// largest message or read.
    Check {
        /// `http(s)://...` (a stream) or a file.
        target: String,
        /// The profile to judge by: a preset name, or a profile file (JSON, the presets'
        /// format). `spec-1.0-strict` holds the stream to the schema's letter.
        #[arg(long, default_value = state_reference::profile::DEFAULT_PROFILE, value_name = "NAME|FILE")]
        profile: String,
        /// For a URL: the longest wait for a connection, and for each read to make progress.
        #[arg(long, default_value_t = 30_000, value_name = "MS")]
        timeout_ms: u64,
        /// For an https URL: trust the certificates in this PEM file (a private CA, a
        /// self-signed server) instead of the system's roots.
        #[arg(long, value_name = "PEM", conflicts_with = "insecure")]
        cacert: Option<PathBuf>,
        /// For an https URL: accept any certificate, unverified (test servers only).
        #[arg(long)]
        insecure: bool,
        /// For a URL: the longest the whole check may take.
        #[arg(long, default_value_t = 600_000, value_name = "MS")]
        deadline_ms: u64,
        /// Print every message's verdict, the valid ones too (by default only the invalid).
        #[arg(long)]
        all: bool,
    },
    /// Materialize a file and print the canonical state: a case file, or a JSON array of messages.
    Materialize {
        /// A case file, or a JSON array of messages (one batch).
        file: PathBuf,
        /// A preset name, or a profile file (JSON, the presets' format).
        #[arg(long, default_value = state_reference::profile::DEFAULT_PROFILE, value_name = "NAME|FILE")]
        profile: String,
    },
    /// Validate a message file (one message, or a JSON array of messages, each judged).
    Validate {
        /// One message, or a JSON array of messages.
        file: PathBuf,
        /// A preset name, or a profile file (JSON, the presets' format).
        #[arg(long, default_value = state_reference::profile::DEFAULT_PROFILE, value_name = "NAME|FILE")]
        profile: String,
    },
    /// Render implementations x case groups (Markdown) from saved `run --report-json` files.
    Matrix {
        /// NAME=REPORT.json, one per implementation (a column per profile in each report).
        #[arg(required = true, value_name = "NAME=REPORT")]
        reports: Vec<String>,
    },
    /// Compare two saved `run --report-json` reports (a pull request against main, or one
    /// suite version against the next): newly failing and passing results, new and removed
    /// cases, changed expected values and inputs. Exit 1 when a result fails that did not.
    Diff {
        /// The earlier report.
        old: PathBuf,
        /// The later report.
        new: PathBuf,
        /// Also write the comparison as Markdown (for a CI job summary) to PATH; `-` prints
        /// it instead of the text.
        #[arg(long, value_name = "PATH")]
        markdown: Option<PathBuf>,
    },
    /// Re-drive an implementation from a repro bundle alone (exit 1 if it still fails).
    Replay {
        /// A repro bundle (`repro/*.bundle.json`, written by a campaign).
        bundle: PathBuf,
        /// Run the adapter command recorded in the bundle (a bundle is a file someone sent
        /// you: its command runs only when you ask for it).
        #[arg(long, conflicts_with = "adapter")]
        adapter_from_bundle: bool,
        /// The adapter command, after `--`; without it (and without --adapter-from-bundle),
        /// the bundled reference.
        #[arg(last = true, value_name = "ADAPTER")]
        adapter: Vec<String>,
    },
    /// Corpora as standalone JSON: export, generate, verify, promote.
    #[command(subcommand)]
    Fixtures(FixturesCommand),
    /// Run the fault-injecting Durable Streams simulator as a server until interrupted (the
    /// same server and options as `stream-simulator`; docs/simulator.md). Prints its URL.
    Serve(stream_simulator::standalone::ServeArgs),
    /// Serve the bundled reference adapter on stdin/stdout (what `run` starts by default).
    #[command(hide = true)]
    ReferenceAdapter {
        /// Serve this mutant of the reference instead (see `self-test`).
        #[arg(long, value_name = "NAME")]
        mutant: Option<String>,
        /// Listen on HOST:PORT (port 0: any) and serve each connection in turn, instead of
        /// stdin/stdout; `run -- tcp://HOST:PORT` reaches it.
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum FixturesCommand {
    /// Write the corpus (cases, index, reference transcripts of live cases) to DIR.
    Export {
        /// The directory to write (created if absent).
        dir: PathBuf,
    },
    /// Write COUNT generated scenarios, expectations from the reference, to DIR.
    Generate {
        /// The seed: the same seed writes the same scenarios on any machine.
        #[arg(long)]
        seed: u64,
        /// How many scenarios.
        #[arg(long)]
        count: u64,
        /// The directory to write (created if absent).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Re-check an exported or generated directory with the reference (exit 1 on any
    /// disagreement).
    Verify {
        /// A directory written by `fixtures export` or `fixtures generate`.
        dir: PathBuf,
    },
    /// Turn a repro bundle into a named case of the corpus.
    Promote {
        /// The repro bundle.
        bundle: PathBuf,
        /// The new case's ID (a mode prefix such as `mat-`, never a tombstoned ID).
        #[arg(long)]
        id: String,
    },
}

#[derive(Args, Clone, Default)]
pub struct FilterArgs {
    /// Case ID glob (repeatable), e.g. 'mat-reset-*'.
    #[arg(long = "case", value_name = "GLOB")]
    pub cases: Vec<String>,
    /// Only cases with this tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only cases of this level (repeatable): MUST, SHOULD, MAY, silent, ...
    #[arg(long = "level")]
    pub levels: Vec<String>,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// List the tags of the selected cases instead, with how many cases carry each.
    #[arg(long = "tags")]
    pub list_tags: bool,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Profile to run under (repeatable; `all` for every preset).
    #[arg(long = "profile", default_value = state_reference::profile::DEFAULT_PROFILE, value_name = "NAME")]
    pub profiles: Vec<String>,
    /// Run a deliberately broken reference (see `self-test`).
    #[arg(long, value_name = "NAME")]
    pub mutant: Option<String>,
    /// Also print informational outcomes (where the spec is silent) and expected failures in
    /// full, not only counted.
    #[arg(long)]
    pub verbose: bool,
    /// Cases run at once, each job with its own adapter process.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Stop starting cases after the first unexpected failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// What beyond the spec to hold the implementation to: `spec` (open questions are
    /// recorded, never failed), or `upstream-client` (also what the upstream Durable Streams
    /// client conformance suite expects of every client: retrying 5xx and 429, stopping at
    /// a 404; see docs/profiles.md).
    #[arg(long, value_enum, default_value_t = StandardArg::Spec)]
    pub standard: StandardArg,
    /// Run only shard K of N (1-based): every Nth selected case, for splitting across CI jobs.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// No progress bar, even on a terminal: stream a line per failed or errored case run and
    /// a progress line instead, to stderr (what is shown without a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Without a progress bar: write a progress line every SECS seconds (0: none).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub progress_every: u64,
    /// Run N generated scenarios (seeded by --seed) instead of the corpus.
    #[arg(long, value_name = "N")]
    pub random: Option<u64>,
    /// The campaign's seed: the same seed makes the same scenarios on any machine.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With --random: run the corpus as well.
    #[arg(long, requires = "random")]
    pub with_corpus: bool,
    /// With --random: run every scenario twice and report any difference, and whether the
    /// simulator or the implementation caused it.
    #[arg(long, requires = "random")]
    pub check_determinism: bool,
    /// Where a failing generated scenario's repro bundle is written (after shrinking).
    #[arg(long, value_name = "DIR", default_value = "repro")]
    pub bundles: PathBuf,
    /// The most candidate runs shrinking one failure may take.
    #[arg(long, default_value_t = 300)]
    pub shrink_budget: usize,
    /// How many failing scenarios are shrunk into bundles (the first ones, in case order).
    #[arg(long, default_value_t = 3)]
    pub max_bundles: usize,
    /// Check every adapter answer against the protocol's JSON Schema.
    #[arg(long)]
    pub check_protocol: bool,
    /// The longest one adapter command may take, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub adapter_timeout_ms: u64,
    /// Write the result model (JSON) here.
    #[arg(long, value_name = "PATH")]
    pub report_json: Option<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Known failures (TOML); listed failures are expected, listed passes are stale.
    #[arg(long, value_name = "PATH")]
    pub expectations: Option<PathBuf>,
    /// Write the current failures as an expectations file; an existing file is merged into
    /// (entries for case runs not made are kept; what was added and removed is printed).
    #[arg(long, value_name = "PATH")]
    pub write_expectations: Option<PathBuf>,
    /// The adapter command (argv, no shell), after `--`; the bundled reference adapter when
    /// absent.
    #[arg(last = true, value_name = "ADAPTER")]
    pub adapter: Vec<String>,
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_line_is_well_formed_and_every_argument_has_help() {
        let command = Cli::command();
        command.clone().debug_assert();
        let mut undocumented = Vec::new();
        let mut stack = vec![(String::from("state-conformance"), command)];
        while let Some((path, command)) = stack.pop() {
            if command.get_about().is_none() && path != "state-conformance help" {
                undocumented.push(path.clone());
            }
            for arg in command.get_arguments() {
                if arg.get_help().is_none() {
                    undocumented.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                stack.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
        }
        assert!(
            undocumented.is_empty(),
            "without help text: {undocumented:?}"
        );
    }
}

/// `--standard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StandardArg {
    Spec,
    UpstreamClient,
}

impl From<StandardArg> for spec_tests::judge::Standard {
    fn from(l: StandardArg) -> Self {
        match l {
            StandardArg::Spec => spec_tests::judge::Standard::Spec,
            StandardArg::UpstreamClient => spec_tests::judge::Standard::UpstreamClient,
        }
    }
}
