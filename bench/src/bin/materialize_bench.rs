//! Benchmark harness for `bench/materialize.sh` (not a test).
//!
//! `generate COUNT SEED OUT`: writes COUNT change events as one JSON array: inserts, updates
//! and deletes over five types and COUNT/10 keys each, small object values, a txid on one
//! event in ten. The same seed writes the same file on any machine.
//!
//! `run FILE`: reads FILE into memory, then times parsing and applying it as one JSON-mode
//! body with the reference (`Materializer::apply_json`, spec-1.0), and prints `events`, `seconds`, `events_per_second` and the
//! entity count per type (for a cross-check against the Node run).
//!
//! `floor FILE`: the parse floor: times reading FILE's JSON into `serde::de::IgnoredAny` on
//! one thread (syntax checked, nothing kept), and prints the same `events_per_second` line.

use std::io::Write;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use serde_json::json;
use state_reference::{Materializer, Profile};

const TYPES: [&str; 5] = ["user", "message", "reaction", "presence", "config"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate", count, seed, out] => generate(count.parse()?, seed.parse()?, out),
        ["run", file] => run(file),
        ["floor", file] => floor(file),
        _ => Err("usage: materialize_bench generate COUNT SEED OUT | run FILE | floor FILE".into()),
    }
}

fn generate(count: usize, seed: u64, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let keys = (count / 10).max(1);
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    w.write_all(b"[")?;
    for i in 0..count {
        let t = TYPES[rng.random_range(0..TYPES.len())];
        let key = format!("{t}:{}", rng.random_range(0..keys));
        let roll = rng.random_range(0..100);
        let op = match roll {
            0..50 => "insert",
            50..85 => "update",
            _ => "delete",
        };
        let mut headers = json!({"operation": op});
        if i % 10 == 0 {
            headers["txid"] = json!(format!("tx-{i}"));
        }
        let mut event = json!({"type": t, "key": key, "headers": headers});
        if op != "delete" {
            event["value"] = json!({
                "id": key,
                "name": format!("name-{}", rng.random_range(0..100_000)),
                "score": rng.random_range(0..1_000_000),
                "active": rng.random_bool(0.5),
            });
        }
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut w, &event)?;
    }
    w.write_all(b"]\n")?;
    w.flush()?;
    Ok(())
}

/// Items in the body's top-level array (counted outside the timed section).
fn count_items(body: &str) -> Result<usize, serde_json::Error> {
    Ok(serde_json::from_str::<Vec<&serde_json::value::RawValue>>(body)?.len())
}

fn run(file: &str) -> Result<(), Box<dyn std::error::Error>> {
    let body = std::fs::read_to_string(file)?;
    let start = Instant::now();
    let mut m = Materializer::new(Profile::default_profile());
    let rejected = m.apply_json(&body, None, true)?.len();
    let seconds = start.elapsed().as_secs_f64();
    let events = count_items(&body)?;
    let observed = m.observe();
    let counts: Vec<String> = observed
        .state
        .iter()
        .map(|(t, e)| format!("{t}={}", e.len()))
        .collect();
    println!("events {events}");
    println!("rejected {rejected}");
    println!("seconds {seconds:.4}");
    println!("events_per_second {:.0}", events as f64 / seconds);
    println!("entities {}", counts.join(" "));
    Ok(())
}

/// Reading the body and keeping nothing: what any serde_json-based reader pays at least.
fn floor(file: &str) -> Result<(), Box<dyn std::error::Error>> {
    let body = std::fs::read_to_string(file)?;
    let start = Instant::now();
    serde_json::from_str::<serde::de::IgnoredAny>(&body)?;
    let seconds = start.elapsed().as_secs_f64();
    let events = count_items(&body)?;
    println!("events {events}");
    println!("seconds {seconds:.4}");
    println!("events_per_second {:.0}", events as f64 / seconds);
    Ok(())
}
