// Prisma's local Durable Streams server (@prisma/streams-local 0.1.11) behind the adapter
// protocol, as a `validate` implementation: its `state-protocol` stream profile checks every
// appended message, so a message is valid when an append of it alone is accepted (2xx) and
// invalid when it is refused (400, whose message is the reason).
//
//   (cd adapters/prisma-streams && npm ci)       Node 22 comes from npm with the lock file
//   state-conformance run --profile spec-1.0 -- \
//     adapters/prisma-streams/node_modules/.bin/node adapters/prisma-streams/adapter.mjs
//
// One server per adapter process (its SQLite data in a fresh temporary directory), one stream
// per case, the profile installed through `POST /v1/stream/NAME/_profile`. A message is
// appended as a one-item JSON array, so the server's array flattening leaves exactly that
// message (an array message included); a `raw` text is appended as it is.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "../lib/serve.mjs";

const dataDir = mkdtempSync(join(tmpdir(), "sc-prisma-streams-"));
process.env.XDG_DATA_HOME = dataDir;
// The runtime warns on stderr that node:sqlite is experimental; the runner keeps stderr.
const { startLocalDurableStreamsServer } = await import("@prisma/streams-local");
const pkg = (await import("@prisma/streams-local/package.json", { with: { type: "json" } }))
  .default;

let server = null;
let stream = null;
let streams = 0;

async function start() {
  server ??= await startLocalDurableStreamsServer({
    name: `sc-${process.pid}`,
    hostname: "127.0.0.1",
    port: 0,
  });
  return server.exports.http.url;
}

async function openStream() {
  const base = await start();
  const url = `${base}/v1/stream/case-${++streams}`;
  const created = await fetch(url, {
    method: "PUT",
    headers: { "content-type": "application/json" },
  });
  if (!created.ok) throw new Error(`creating the stream answered ${created.status}`);
  const profile = await fetch(`${url}/_profile`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ profile: { kind: "state-protocol" } }),
  });
  if (!profile.ok) {
    throw new Error(`installing the profile answered ${profile.status}: ${await profile.text()}`);
  }
  return url;
}

async function validate(command) {
  stream ??= await openStream();
  const body = "raw" in command ? command.raw : JSON.stringify([command.message ?? null]);
  const r = await fetch(stream, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  const text = await r.text();
  if (r.ok) return { valid: true };
  let reason = `${r.status}`;
  try {
    reason = JSON.parse(text)?.error?.message ?? reason;
  } catch {
    reason = `${r.status} ${text.slice(0, 200)}`;
  }
  return { valid: false, reason };
}

async function handle(command) {
  switch (command.cmd) {
    case "hello":
      return {
        protocol: 1,
        implementation: { name: "@prisma/streams-local", version: pkg.version },
        capabilities: ["validate"],
        profiles: ["spec-1.0"],
      };
    case "open":
      stream = null; // a fresh stream for the case, made on its first message
      return {};
    case "validate":
      return validate(command);
    case "bye":
      return {};
    default:
      throw new Error(`not supported by this adapter: ${command.cmd}`);
  }
}

await serve(handle);
await server?.close();
rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
