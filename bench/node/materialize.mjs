// Benchmark harness for bench/materialize.sh (not a test): the upstream MaterializedState
// on the same file as the Rust reference. Reads the file first, then times JSON.parse plus
// applyBatch, and prints the same lines as bench/src/bin/materialize_bench.rs.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { MaterializedState } from "@durable-streams/state";

const file = process.argv[2];
if (!file) {
  console.error("usage: node materialize.mjs FILE");
  process.exit(2);
}
const text = readFileSync(file, "utf8");
const start = performance.now();
const events = JSON.parse(text);
const state = new MaterializedState();
state.applyBatch(events);
const seconds = (performance.now() - start) / 1000;
const counts = state.types
  .slice()
  .sort()
  .map((t) => `${t}=${state.getType(t).size}`)
  .filter((c) => !c.endsWith("=0"));
console.log(`events ${events.length}`);
console.log(`seconds ${seconds.toFixed(4)}`);
console.log(`events_per_second ${Math.round(events.length / seconds)}`);
console.log(`entities ${counts.join(" ")}`);
