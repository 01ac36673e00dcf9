// The official server conformance suite, pointed at $CONFORMANCE_BASE_URL.
import { runConformanceTests } from "@durable-streams/server-conformance-tests";

const baseUrl = process.env.CONFORMANCE_BASE_URL;
if (!baseUrl) throw new Error("set CONFORMANCE_BASE_URL");
runConformanceTests({ baseUrl, longPollTimeoutMs: 1000, subscriptions: true });
