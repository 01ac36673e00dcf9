// The adapter-protocol adapter for the upstream TypeScript packages.
//
//   node adapter.mjs materialized-state   MaterializedState (main entry): materialize
//   node adapter.mjs stream-db            createStreamDB (the /db entry, TanStack DB and
//                                         @durable-streams/client): subscribe and produce
//
// The adapter only translates: every decision about a message is the package's own. Where
// the package has no notion the protocol asks about (MaterializedState keeps no txids and no
// offset), the adapter reports what a user of the package would see, and docs/findings says so.

import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import { MaterializedState, createStateSchema } from "@durable-streams/state";
import { createStreamDB } from "@durable-streams/state/db";
import { DurableStream } from "@durable-streams/client";

// stdout carries answers only: library logging goes to stderr with the rest.
console.log = console.info = console.warn = console.debug = console.error;

const IMPLEMENTATIONS = {
  "materialized-state": ["materialize"],
  "stream-db": ["subscribe", "produce"],
};
const impl = process.argv[2];
if (!(impl in IMPLEMENTATIONS)) {
  console.error(`usage: node adapter.mjs ${Object.keys(IMPLEMENTATIONS).join("|")}`);
  process.exit(2);
}
const version = JSON.parse(
  readFileSync(new URL("./node_modules/@durable-streams/state/package.json", import.meta.url)),
).version;

// Errors the package raises outside any call we await (a background read failing).
let backgroundError = null;
process.on("unhandledRejection", (e) => {
  backgroundError = message(e);
  console.error("unhandled rejection:", e);
});

function message(e) {
  return e && e.message ? e.message : String(e);
}

// A Standard Schema that accepts every value: value schemas are not what these cases test.
const anyValue = {
  "~standard": { version: 1, vendor: "state-conformance", validate: (value) => ({ value }) },
};

function stateSchema(collections) {
  return createStateSchema(
    Object.fromEntries(
      (collections ?? []).map((c) => [
        c.name,
        { schema: anyValue, type: c.type, primaryKey: c.primaryKey },
      ]),
    ),
  );
}

// JSON cannot say `undefined`: a value the package stored as undefined is reported as null.
const defined = (v) => (v === undefined ? null : v);

// TanStack DB rows carry virtual `$` properties (row metadata, not data), and StreamDB adds a
// `_seq` field to every row (docs/findings/typescript.md, TS-ROW-SEQ). Both are removed so the
// other findings show; TS_ADAPTER_RAW_ROWS=1 reports rows exactly as the collection holds them.
const RAW_ROWS = process.env.TS_ADAPTER_RAW_ROWS === "1";
function row(v) {
  if (RAW_ROWS || v === null || typeof v !== "object" || Array.isArray(v)) return defined(v);
  return Object.fromEntries(
    Object.entries(v).filter(([k]) => !k.startsWith("$") && k !== "_seq"),
  );
}

let session = null;

async function handle(cmd) {
  switch (cmd.cmd) {
    case "hello":
      return {
        protocol: 1,
        implementation: { name: `@durable-streams/state ${impl}`, version },
        capabilities: IMPLEMENTATIONS[impl],
        profiles: ["ts-compat"],
      };
    case "open":
      session?.db?.close();
      session = {
        collections: cmd.collections ?? null,
        state: new MaterializedState(),
        offset: null,
      };
      return {};
    case "apply": {
      const rejected = [];
      cmd.items.forEach((item, index) => {
        try {
          session.state.apply(item);
        } catch (e) {
          rejected.push({ index, reason: message(e) });
        }
      });
      session.offset = cmd.offset;
      return { rejected };
    }
    case "state": {
      // Object.fromEntries, not assignment: a type named __proto__ must stay a plain key.
      const state = Object.fromEntries(
        session.state.types
          .map((type) => [type, [...session.state.getType(type)].map(([k, v]) => [k, defined(v)])])
          .filter(([, entries]) => entries.length > 0)
          .map(([type, entries]) => [type, Object.fromEntries(entries)]),
      );
      return { state, txids: [], offset: session.offset, halted: false };
    }
    case "subscribe":
      return subscribe(cmd);
    case "await":
      return wait(cmd);
    case "produce":
      return produce(cmd);
    case "bye":
      session?.db?.close();
      return {};
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}

const LIVE = { "long-poll": "long-poll", sse: "sse", auto: true, false: false };

function subscribe(cmd) {
  const s = session;
  s.seen = new Set();
  s.last = { offset: null, upToDate: false, closed: false };
  s.stopReason = null;
  backgroundError = null;
  s.db = createStreamDB({
    streamOptions: { url: cmd.url, contentType: "application/json" },
    state: stateSchema(s.collections),
    live: LIVE[cmd.live],
    onEvent: (e) => {
      if (e.headers?.txid) s.seen.add(e.headers.txid);
    },
    onBatch: (b) => {
      s.last = { offset: b.offset, upToDate: b.upToDate, closed: b.streamClosed };
    },
  });
  s.db.preload().catch((e) => {
    s.stopReason = message(e);
  });
  return {};
}

function snapshot(s) {
  const state = Object.fromEntries(
    (s.collections ?? [])
      .map((c) => [c.type, [...s.db.collections[c.name].state].map(([k, v]) => [String(k), row(v)])])
      .filter(([, rows]) => rows.length > 0)
      .map(([type, rows]) => [type, Object.fromEntries(rows)]),
  );
  return {
    state,
    // Txids as the protocol reports them, strings: a package that records a numeric txid
    // shows it as its text, so the difference is judged rather than refused as malformed.
    txids: [...s.seen].map(String),
    offset: s.last.offset ?? null,
    upToDate: s.last.upToDate,
    closed: s.last.closed,
    halted: false,
    ...(stopped(s) ? { stopReason: stopped(s) } : {}),
  };
}

const stopped = (s) => s.stopReason ?? backgroundError;

function reached(s, cmd) {
  switch (cmd.until) {
    case "up-to-date":
      return (s.last.upToDate || s.last.closed) && (!cmd.offset || (s.last.offset ?? "") >= cmd.offset);
    case "txid":
      return s.seen.has(cmd.txid);
    case "closed":
      return s.last.closed;
    case "stopped":
      return stopped(s) !== null;
  }
  return false;
}

// The runner asks in short waits and decides itself when a reader that reported an error
// has settled (StreamDB may go on reading after preload() rejects), stalled or stopped: the
// wait only reports where the subscription is.
async function wait(cmd) {
  const s = session;
  if (!s?.db) throw new Error("await needs a subscription");
  const deadline = Date.now() + cmd.timeoutMs;
  while (!reached(s, cmd) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  return { reached: reached(s, cmd), ...snapshot(s) };
}

async function produce(cmd) {
  const schema = stateSchema(session.collections);
  const events = cmd.ops.map((op) => {
    const helpers = schema[op.collection];
    if (!helpers) throw new Error(`no collection named ${op.collection}`);
    const params = {};
    if (op.key !== undefined) params.key = op.key;
    if (op.value !== undefined) params.value = op.value;
    if (op.oldValue !== undefined) params.oldValue = op.oldValue;
    const headers = {};
    if (op.txid !== undefined) headers.txid = op.txid;
    if (op.timestamp !== undefined) headers.timestamp = op.timestamp;
    if (Object.keys(headers).length > 0) params.headers = headers;
    return helpers[op.op](params);
  });
  // One append per event, as the client's docs show for JSON streams (it batches appends
  // itself: a JSON array passed to append() lands as one message, an array).
  const stream = new DurableStream({ url: cmd.url, contentType: "application/json" });
  for (const event of events) await stream.append(JSON.stringify(event));
  return { written: events.length };
}

// One command at a time, answers in order.
for await (const line of createInterface({ input: process.stdin })) {
  let cmd;
  let answer;
  try {
    cmd = JSON.parse(line);
    answer = { cmd: cmd.cmd, ok: true, ...(await handle(cmd)) };
  } catch (e) {
    console.error(e);
    answer = { cmd: cmd?.cmd ?? "unknown", ok: false, error: message(e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
  if (cmd?.cmd === "bye") process.exit(0);
}
