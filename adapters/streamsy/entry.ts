// What the adapter takes from streamsy, bundled into build/streamsy.mjs by install.sh: the
// State Protocol layer and the core's in-memory stream store it validates appends into.
export { createDurableStateProtocol } from "@streamsy/state";
export { createMemoryStorageAdapter, createStreamProtocol } from "@streamsy/core";
