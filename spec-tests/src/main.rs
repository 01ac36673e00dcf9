//! `state-conformance`: the Durable Streams State Protocol conformance runner.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
