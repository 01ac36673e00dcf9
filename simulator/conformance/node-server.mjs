// Starts the upstream Node reference server on an ephemeral loopback port and prints its URL.
import { DurableStreamTestServer } from "@durable-streams/server";

const server = new DurableStreamTestServer({ port: 0, host: "127.0.0.1", longPollTimeout: 1000, webhooks: true });
const url = await server.start();
console.log(url);
const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
