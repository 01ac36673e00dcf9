// The adapter protocol's loop for Node adapters: one JSON command per line on stdin, one
// answer per line on stdout (`{cmd, ok, ...}`, or `{cmd, ok: false, error}` when `handle`
// throws), until `bye`. `handle` may be async.
import { createInterface } from "node:readline";

export async function serve(handle) {
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line);
    let answer;
    try {
      answer = { cmd: command.cmd, ok: true, ...(await handle(command)) };
    } catch (e) {
      answer = { cmd: command.cmd, ok: false, error: String(e?.message ?? e) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
    if (command.cmd === "bye") break;
  }
}
