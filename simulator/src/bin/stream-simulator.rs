//! `stream-simulator`: the simulator as a standalone server (loopback by default). The same
//! server, with the same options, is `state-conformance serve`.

use clap::Parser;
use stream_simulator::standalone::{ServeArgs, serve};

#[derive(Parser)]
#[command(
    name = "stream-simulator",
    version,
    about = "A Durable Streams server for conformance testing"
)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

#[tokio::main]
async fn main() {
    if let Err(e) = serve(Cli::parse().args).await {
        eprintln!("stream-simulator: {e}");
        std::process::exit(2);
    }
}
