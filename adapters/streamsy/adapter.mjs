// streamsy's @streamsy/state behind the adapter protocol, as a `validate` implementation: its
// State Protocol codec checks every message appended to a Durable State stream, so a message is
// valid when an append of it to a fresh stream of the core's in-memory store is accepted, and
// invalid when the codec throws (its message is the reason).
//
//   adapters/streamsy/install.sh        (bundles the package from ../shared into build/)
//   state-conformance run -- node adapters/streamsy/adapter.mjs
//
// What the adapter supplies, because the implementation needs it and the protocol does not:
// - streamsy refuses a change to a type its protocol was not given a collection for; the
//   adapter gives it one collection, for the message's own `type` (when that is a non-empty
//   string), whose value schema accepts any JSON value. So streamsy is never asked about
//   unknown types, and value schemas are not exercised.
// - streamsy validates parsed values, not text: a `raw` text is parsed with JSON.parse first,
//   and text that is not JSON is invalid by the adapter's verdict.

import { serve } from "../lib/serve.mjs";
import { createDurableStateProtocol, createMemoryStorageAdapter, createStreamProtocol } from "./build/streamsy.mjs";

const anyValue = { encode: (value) => value, decode: (value) => value };
let streams = 0;

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function validate(command) {
  let message = command.message ?? null;
  if ("raw" in command) {
    try {
      message = JSON.parse(command.raw);
    } catch (e) {
      return { valid: false, reason: `not JSON (the adapter's verdict): ${e.message}` };
    }
  }
  const type = isObject(message) && typeof message.type === "string" && message.type !== "" ? message.type : null;
  const collections = type === null ? {} : { [type]: { schema: anyValue, primaryKey: "key" } };
  const storage = createMemoryStorageAdapter();
  const protocol = createDurableStateProtocol(createStreamProtocol({ storage: { adapter: storage } }), collections);
  const created = await protocol.create(`case-${++streams}`);
  if (created.status !== "created") throw new Error(`creating the stream: ${created.status}`);
  try {
    const appended = await created.stream.append(message);
    return appended.status === "appended"
      ? { valid: true }
      : { valid: false, reason: `the append answered ${appended.status}` };
  } catch (e) {
    return { valid: false, reason: String(e?.message ?? e) };
  }
}

async function handle(command) {
  switch (command.cmd) {
    case "hello":
      return {
        protocol: 1,
        implementation: { name: "@streamsy/state", version: "0.2.0 (gingerhendrix/streamsy@7e6e66e)" },
        capabilities: ["validate"],
        profiles: ["spec-1.0"],
      };
    case "open":
    case "bye":
      return {};
    case "validate":
      return validate(command);
    default:
      throw new Error(`not supported by this adapter: ${command.cmd}`);
  }
}

await serve(handle);
process.exit(0);
