#!/usr/bin/env python3
"""The upstream Python state layer (`durable_streams_state`) behind the adapter protocol.

    adapter.py materialized-state   MaterializedState: materialize
    adapter.py stream-db            StreamDB (a reader thread): subscribe
    adapter.py async-stream-db      AsyncStreamDB (asyncio): subscribe

The adapter only translates: every decision about a message is the package's own, and the
reads are the PyPI `durable-streams` client's, as StreamDB makes them. Where the package has
no notion the protocol asks about, the adapter supplies the least it can, and
docs/findings/python-state.md says so:

- MaterializedState keeps no txids and no offset: the answer has no txids and the offset of
  the last batch applied; an exception from `apply` is reported as that item's rejection.
- StreamDB has no public offset, up-to-date flag, stop reason or list of seen txids. The
  adapter hands StreamDB a stream handle of its own that passes every call to the client's
  and watches the reads: the offset reported is the one at which StreamDB last committed
  (it commits at up-to-date only), the stop reason is the exception that ended StreamDB's
  read, and the txids are those of the items it read that `utils.await_txid` confirms.
- A value schema of the case becomes a Pydantic model (strict fields, extra fields kept),
  for the keywords the corpus uses: type, required, properties, minLength. Anything else is
  left unchecked, with a line on stderr.

    adapters/python-state/install.sh     (once: the package from ../shared, deps pinned)
    state-conformance run -- adapters/python-state/.venv/bin/python \\
        adapters/python-state/adapter.py stream-db
"""

import asyncio
import importlib.metadata
import json
import sys
import threading
import time
from typing import Annotated, Any, Optional

from durable_streams import AsyncDurableStream, DurableStream
from durable_streams_state import (
    AsyncStreamDB,
    CollectionDefinition,
    MaterializedState,
    StreamDB,
    create_state_schema,
)
from pydantic import BaseModel, ConfigDict, Field, create_model

IMPLEMENTATIONS = {
    "materialized-state": ["materialize"],
    "stream-db": ["subscribe"],
    "async-stream-db": ["subscribe"],
}

# The client's `live="long-poll"` starts long-polling at -1 with no catch-up read; its "auto"
# (catch up, then long-poll: StreamDB's default) is the reader the protocol describes.
LIVE = {"long-poll": "auto", "sse": "sse", "auto": "auto", False: False, "false": False}

# How often an await looks again at where the reader is.
POLL_S = 0.01


# -- value schemas as Pydantic models --------------------------------------------------------

JSON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict,
              "array": list, "null": type(None)}
UNDERSTOOD = {"type", "required", "properties", "minLength"}


def field_type(schema, where):
    """The Python type a JSON Schema (the corpus's keywords) stands for."""
    for keyword in set(schema) - UNDERSTOOD:
        print("python-state: %s: JSON Schema keyword %r left unchecked" % (where, keyword),
              file=sys.stderr)
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        return model_for(schema, where)
    base = JSON_TYPES.get(kind, Any)
    if kind == "string" and "minLength" in schema:
        return Annotated[str, Field(min_length=schema["minLength"], strict=True)]
    if base is Any:
        return Any
    return Annotated[base, Field(strict=True)]


def model_for(schema, where):
    """A Pydantic model for an object schema: its properties typed, the others kept."""
    required = set(schema.get("required", []))
    fields = {}
    for name, sub in schema.get("properties", {}).items():
        t = field_type(sub, "%s.%s" % (where, name))
        fields[name] = (t, ...) if name in required else (Optional[t], None)
    for name in required - set(fields):
        fields[name] = (Any, ...)
    return create_model(
        "Value_" + "".join(c if c.isalnum() else "_" for c in where),
        __config__=ConfigDict(extra="allow"),
        **fields,
    )


def value_model(collection):
    schema = collection.get("schema")
    if schema is None:
        return dict[str, Any]
    if schema.get("type") == "object":
        return model_for(schema, collection["name"])
    return field_type(schema, collection["name"])


def plain(value):
    """A row as JSON: a model's fields, the extra ones included, exactly as held."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    return value


# -- materialize: MaterializedState ----------------------------------------------------------

class Materialized:
    def __init__(self):
        self.state = MaterializedState()
        self.offset = None

    def apply(self, items, offset):
        rejected = []
        for index, item in enumerate(items):
            try:
                self.state.apply(item)
            except Exception as e:  # what a caller of apply() would see
                rejected.append({"index": index, "reason": "%s: %s" % (type(e).__name__, e)})
        self.offset = offset
        return {"rejected": rejected}

    def report(self):
        state = {t: self.state.get_type(t) for t in self.state.types}
        state = {t: rows for t, rows in state.items() if rows}
        return {"state": state, "txids": [], "offset": self.offset, "halted": False}


# -- subscribe: StreamDB and AsyncStreamDB, through a watched stream handle --------------------

class Watch:
    """What the adapter learns from StreamDB's reads, behind one lock StreamDB holds while it
    dispatches and commits a batch, so an answer never sees half a batch."""

    def __init__(self):
        self.lock = threading.Lock()
        self.committed_offset = None
        self.up_to_date = False
        self.response = None  # the client's response being read
        self.candidates = []  # txids of items read, in order
        self.stop_reason = None

    def read(self, batch):
        for item in batch:
            headers = item.get("headers") if isinstance(item, dict) else None
            txid = headers.get("txid") if isinstance(headers, dict) else None
            if isinstance(txid, str) and txid not in self.candidates:
                self.candidates.append(txid)

    def settled(self, response):
        """StreamDB asked for the next batch: the last one is dispatched (and committed if
        the read was up to date, which is when StreamDB commits)."""
        self.up_to_date = bool(response.up_to_date)
        if self.up_to_date:
            self.committed_offset = response.offset

    def ended(self, error, live):
        if error is not None:
            self.stop_reason = "%s: %s" % (type(error).__name__, error)
        elif live is not False:
            self.stop_reason = "StreamDB's read ended"


class WatchedResponse:
    """The client's response as StreamDB sees it; batches pass through unchanged."""

    def __init__(self, session, watch, live):
        # What `stream()` returned; entering it gives the response that is read.
        self.session, self.watch, self.live = session, watch, live
        self.inner = session

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __enter__(self):
        self.inner = self.watch.response = self.session.__enter__()
        return self

    def __exit__(self, kind, error, tb):
        self.watch.ended(error, self.live)
        return self.session.__exit__(kind, error, tb)

    async def __aenter__(self):
        self.inner = self.watch.response = await self.session.__aenter__()
        return self

    async def __aexit__(self, kind, error, tb):
        self.watch.ended(error, self.live)
        return await self.session.__aexit__(kind, error, tb)

    def iter_json_batches(self, *args, **kwargs):
        batches = self.inner.iter_json_batches(*args, **kwargs)
        if hasattr(batches, "__anext__"):
            return self._async(batches)
        return self._sync(batches)

    def _sync(self, batches):
        for batch in batches:
            self.watch.lock.acquire()
            try:
                self.watch.read(batch)
                yield batch  # StreamDB dispatches it; it asks for the next when done
                self.watch.settled(self.inner)
            finally:
                self.watch.lock.release()

    async def _async(self, batches):
        async for batch in batches:
            self.watch.lock.acquire()
            try:
                self.watch.read(batch)
                yield batch
                self.watch.settled(self.inner)
            finally:
                self.watch.lock.release()


class WatchedHandle:
    """The client's stream handle, with each read StreamDB opens watched."""

    def __init__(self, inner, watch):
        self.inner, self.watch = inner, watch

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def stream(self, *, live="auto", **kwargs):
        return WatchedResponse(self.inner.stream(live=live, **kwargs), self.watch, live)


class Loop:
    """An asyncio loop on a thread of its own, for AsyncStreamDB."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coroutine, timeout=None):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


class Subscribed:
    def __init__(self, collections, asynchronous):
        self.collections = collections or []
        self.asynchronous = asynchronous
        self.watch = Watch()
        self.seen = set()  # txids await_txid confirmed (StreamDB never forgets one)
        self.db = None
        self.loop = Loop() if asynchronous else None

    def subscribe(self, url, live):
        schema = create_state_schema({
            c["name"]: CollectionDefinition(model=value_model(c), type=c["type"],
                                            primary_key=c["primaryKey"])
            for c in self.collections
        })
        mode = LIVE.get(live, "auto")
        if self.asynchronous:
            async def start():
                handle = WatchedHandle(AsyncDurableStream(url, content_type="application/json"),
                                       self.watch)
                self.db = AsyncStreamDB(stream=handle, state=schema, live=mode)
                # preload() returns at the first up-to-date; the read goes on in its task.
                asyncio.ensure_future(self.db.preload()).add_done_callback(self.preloaded)
            self.loop.run(start())
        else:
            handle = WatchedHandle(DurableStream(url, content_type="application/json"),
                                   self.watch)
            self.db = StreamDB(stream=handle, state=schema, live=mode)
            threading.Thread(target=self.preload, daemon=True).start()

    def preload(self):
        try:
            self.db.preload()
        except Exception as e:
            self.failed(e)

    def preloaded(self, future):
        if not future.cancelled() and future.exception() is not None:
            self.failed(future.exception())

    def failed(self, error):
        if self.watch.stop_reason is None:
            self.watch.stop_reason = "%s: %s" % (type(error).__name__, error)

    def confirmed(self, txid, timeout):
        """Whether StreamDB's own `utils.await_txid` says `txid` was seen within `timeout`."""
        if txid in self.seen:
            return True
        try:
            if self.asynchronous:
                self.loop.run(self.db.utils.await_txid(txid, timeout=timeout))
            else:
                self.db.utils.await_txid(txid, timeout=timeout)
        except Exception:  # TimeoutError, or the error that ended the read
            return False
        self.seen.add(txid)
        return True

    def report(self):
        with self.watch.lock:
            state = {}
            for c in self.collections:
                rows = {str(k): plain(v) for k, v in self.db.collections[c["name"]].items()}
                if rows:
                    state[c["type"]] = rows
            candidates = list(self.watch.candidates)
            answer = {
                "state": state,
                "offset": self.watch.committed_offset,
                "upToDate": self.watch.up_to_date,
                "closed": False,  # the client does not say when a stream is closed
                "halted": False,
            }
        answer["txids"] = sorted(t for t in candidates if self.confirmed(t, 0))
        if self.watch.stop_reason is not None:
            answer["stopReason"] = self.watch.stop_reason
        return answer

    def reached(self, command):
        until = command["until"]
        if until == "up-to-date":
            want = command.get("offset")
            with self.watch.lock:
                at = self.watch.committed_offset
                res = self.watch.response
                # A 204 long-poll tells up-to-date without a batch for StreamDB to commit.
                up = self.watch.up_to_date or (res is not None and res.up_to_date
                                               and res.offset == at)
            return up and (want is None or (at is not None and at >= want))
        if until == "txid":
            return self.confirmed(command["txid"], POLL_S)
        if until == "stopped":
            return self.watch.stop_reason is not None
        return False  # closed: the client does not say when a stream is closed

    def wait(self, command):
        if self.db is None:
            raise RuntimeError("await needs a subscription")
        deadline = time.monotonic() + command.get("timeoutMs", 5000) / 1000
        while not self.reached(command) and self.watch.stop_reason is None:
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
        return dict(reached=self.reached(command), **self.report())

    def close(self):
        if self.db is None:
            return
        if self.asynchronous:
            try:
                self.loop.run(self.db.aclose(), timeout=2)
            except Exception:
                pass
            self.loop.loop.call_soon_threadsafe(self.loop.loop.stop)
        else:
            self.db.close()


def main():
    impl = sys.argv[1] if len(sys.argv) > 1 else None
    if impl not in IMPLEMENTATIONS:
        print("usage: adapter.py %s" % "|".join(IMPLEMENTATIONS), file=sys.stderr)
        sys.exit(2)
    session = None
    for line in sys.stdin:
        command = json.loads(line)
        cmd = command["cmd"]
        answer = {"cmd": cmd, "ok": True}
        try:
            if cmd == "hello":
                answer.update(
                    protocol=1,
                    implementation={
                        "name": "durable-streams-state %s" % impl,
                        "version": importlib.metadata.version("durable-streams-state"),
                    },
                    capabilities=IMPLEMENTATIONS[impl],
                    profiles=["ts-compat"],
                )
            elif cmd == "open":
                if isinstance(session, Subscribed):
                    session.close()
                if impl == "materialized-state":
                    session = Materialized()
                else:
                    session = Subscribed(command.get("collections"), impl == "async-stream-db")
            elif cmd == "apply" and isinstance(session, Materialized):
                answer.update(session.apply(command["items"], command.get("offset")))
            elif cmd == "state" and session is not None:
                answer.update(session.report())
            elif cmd == "subscribe" and isinstance(session, Subscribed):
                session.subscribe(command["url"], command.get("live", "auto"))
            elif cmd == "await" and isinstance(session, Subscribed):
                answer.update(session.wait(command))
            elif cmd == "bye":
                if isinstance(session, Subscribed):
                    session.close()
            else:
                answer = {"cmd": cmd, "ok": False, "error": "not supported by this adapter"}
        except Exception as e:
            answer = {"cmd": cmd, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(answer), flush=True)
        if cmd == "bye":
            break


if __name__ == "__main__":
    main()
