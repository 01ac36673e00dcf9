#!/usr/bin/env bash
# Builds the Rust client adapter (its own Cargo project: src/main.rs) against the Durable
# Streams authors' Rust client in ../shared/third-party/durable-streams-client-rust, every
# crates.io dependency pinned by Cargo.lock here (`--locked`). Idempotent: cargo rebuilds only
# what changed. Its target directory is its own (target/ here).
#
# Without ../shared (a clone on its own) there is nothing to build: it says so, exits 0, and
# run.sh skips the implementation the same way.
set -euo pipefail
cd "$(dirname "$0")"
source ../lib/shared-source.sh
shared_source rust-client durable-streams-client-rust src/lib.rs
cargo build --release --locked --quiet
