// fluent-firegrid's @firegrid/core state module behind the adapter protocol: its Effect Schema
// decoder (`ChangeMessage.decode`, which takes a JSON text) as a `validate` implementation,
// and decoder plus immutable materializer (`MaterializedState.empty().apply(message)`,
// `entries()`) as a `materialize` one.
//
//   adapters/fluent-firegrid/install.sh   (bundles the module from ../shared into build/)
//   state-conformance run -- node adapters/fluent-firegrid/adapter.mjs
//
// What the adapter supplies, because the implementation has no notion of it:
// - seen txids: the txids of the change messages the decoder accepted and the materializer
//   applied, cleared by a reset (as the reference reads STATE-PROTOCOL.md);
// - the committed offset: the offset of the last batch applied;
// - rejections: an item the decoder refuses is reported rejected (with the decoder's words)
//   and not applied; the materializer itself never refuses anything;
// - collections: the implementation has none, so `open`'s collections are ignored (every type
//   is materialized);
// - halted: never (nothing in the implementation stops).
// The state is `entries()` as it stands: an entity whose stored value is `undefined` (an
// update without `value`) is absent from it, as JSON has no undefined.

import { serve } from "../lib/serve.mjs";
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import { ChangeMessage, MaterializedState } from "./build/firegrid-state.mjs";

const pkg = { name: "@firegrid/core (state)", version: "0.0.0 (gurdasnijor/fluent-firegrid@484b2ce)" };

/** The decoder's verdict on a JSON text: the message, or its error in words. */
function decode(text) {
  const exit = Effect.runSyncExit(ChangeMessage.decode(text));
  return Exit.isSuccess(exit) ? { message: exit.value } : { error: String(exit.cause).slice(0, 500) };
}

let session = null;

function open() {
  session = { state: MaterializedState.empty(), txids: new Set(), offset: null };
  return {};
}

function apply(command) {
  const rejected = [];
  command.items.forEach((item, index) => {
    const decoded = decode(JSON.stringify(item));
    if (decoded.error !== undefined) {
      rejected.push({ index, reason: decoded.error });
      return;
    }
    const message = decoded.message;
    session.state.apply(message);
    if (ChangeMessage.isControl(message) && message.headers.control === "reset") session.txids.clear();
    if (ChangeMessage.isChange(message) && message.headers.txid !== undefined) session.txids.add(message.headers.txid);
  });
  session.offset = command.offset ?? session.offset;
  return { rejected };
}

function state() {
  // Objects without a prototype, so a type or key named `__proto__` is data, not a setter.
  const out = Object.create(null);
  for (const { type, key, value } of session.state.entries()) {
    if (value === undefined) continue;
    (out[type] ??= Object.create(null))[key] = value;
  }
  return { state: out, txids: [...session.txids], offset: session.offset, halted: false };
}

function validate(command) {
  const decoded = decode("raw" in command ? command.raw : JSON.stringify(command.message ?? null));
  return decoded.error === undefined ? { valid: true } : { valid: false, reason: decoded.error };
}

function handle(command) {
  switch (command.cmd) {
    case "hello":
      return { protocol: 1, implementation: pkg, capabilities: ["materialize", "validate"], profiles: ["spec-1.0"] };
    case "open":
      return open();
    case "apply":
      return apply(command);
    case "state":
      return state();
    case "validate":
      return validate(command);
    case "bye":
      return {};
    default:
      throw new Error(`not supported by this adapter: ${command.cmd}`);
  }
}

await serve(handle);
process.exit(0);
