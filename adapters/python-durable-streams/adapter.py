#!/usr/bin/env python3
"""The PyPI `durable-streams` client (0.1.0) behind the adapter protocol, as a subscriber.

Transport is the client under test, used as its README shows: `stream(url, offset=...,
live=...)` and `iter_events(mode="json")`, each event a read's items with `next_offset` and
`up_to_date`, default error handling (no `on_error` hook). State is the consumer of
`adapters/python-minimal/adapter.py` (this repository's own, about 60 lines: spec-1.0
positions, no value schemas), the smallest state layer that passes the materialize corpus
under spec-1.0 but for value schemas. The glue does what the protocol asks of a consumer and
nothing the client should do itself: a reset naming an offset makes it read again from
there (the client cannot know that rule); when the client's iteration ends or raises, the
subscription has stopped, and the reason is the client's.

    adapters/python-durable-streams/install.sh     (once: the pinned client in .venv)
    state-conformance run -- adapters/python-durable-streams/.venv/bin/python \\
        adapters/python-durable-streams/adapter.py
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python-minimal"))

from adapter import Consumer  # noqa: E402  (python-minimal's consumer)
import durable_streams  # noqa: E402
from durable_streams import stream  # noqa: E402

# The client's `live="long-poll"` starts long-polling at -1 with no catch-up read; its "auto"
# (catch up, then long-poll) is the reader the protocol describes, so long-poll cases use it.
LIVE = {"long-poll": "auto", "sse": "sse", "auto": "auto", False: False, "false": False}


class Subscription:
    """One open case: the consumer's state and what the client reported, behind one lock."""

    def __init__(self, collections):
        self.consumer = Consumer(collections)
        self.cond = threading.Condition()
        self.up_to_date = False
        self.stop_reason = None
        self.cancelled = False
        # The client's current response: its `up_to_date` and `offset` also change on reads
        # that yield no event (a 204 long-poll).
        self.res = None

    def run(self, url, live):
        offset = "-1"
        try:
            while not self.cancelled:
                restart = None
                with stream(url, offset=offset, live=live) as res:
                    self.res = res
                    for event in res.iter_events(mode="json"):
                        if self.cancelled:
                            return
                        items = event.data if isinstance(event.data, list) else [event.data]
                        with self.cond:
                            self.consumer.apply(items, event.next_offset)
                            if self.consumer.offset != event.next_offset:
                                # A reset named an offset: read again from there.
                                restart = self.consumer.offset
                                self.up_to_date = False
                            else:
                                self.up_to_date = bool(event.up_to_date)
                            self.cond.notify_all()
                        if restart is not None:
                            break
                if restart is None:
                    if live is not False:
                        self.stopped("the client's iteration ended")
                    return
                offset = restart
        except Exception as e:  # the client's own error ends the subscription
            self.stopped("%s: %s" % (type(e).__name__, e))

    def stopped(self, reason):
        with self.cond:
            if not self.cancelled:
                self.stop_reason = reason
            self.cond.notify_all()

    def reached(self, command):
        until = command["until"]
        if until == "up-to-date":
            want = command.get("offset")
            at = self.consumer.offset
            res = self.res
            up = self.up_to_date or (res is not None and res.up_to_date and res.offset == at)
            return up and (want is None or (at is not None and at >= want))
        if until == "txid":
            return command["txid"] in self.consumer.txids
        if until == "stopped":
            return self.stop_reason is not None
        return False  # closed: the client does not say when a stream is closed

    def wait(self, command):
        deadline = time.monotonic() + command.get("timeoutMs", 5000) / 1000
        with self.cond:
            while not self.reached(command) and self.stop_reason is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.05))
            report = self.consumer.report()
            answer = {
                "reached": self.reached(command),
                "state": report["state"],
                "txids": report["txids"],
                "offset": report["offset"],
                "upToDate": self.up_to_date,
                "closed": False,
                "halted": False,
            }
            if self.stop_reason is not None:
                answer["stopReason"] = self.stop_reason
            return answer


def main():
    session = None
    for line in sys.stdin:
        command = json.loads(line)
        cmd = command["cmd"]
        answer = {"cmd": cmd, "ok": True}
        if cmd == "hello":
            version = getattr(durable_streams, "__version__", "0.1.0")
            answer.update(protocol=1,
                          implementation={"name": "durable-streams (PyPI)", "version": version},
                          capabilities=["subscribe"], profiles=["spec-1.0"])
        elif cmd == "open":
            if session is not None:
                session.cancelled = True
            session = Subscription(command.get("collections"))
        elif cmd == "subscribe":
            live = LIVE.get(command.get("live", "auto"), "auto")
            threading.Thread(target=session.run, args=(command["url"], live), daemon=True).start()
        elif cmd == "await":
            answer.update(session.wait(command))
        elif cmd == "state":
            answer.update(session.consumer.report())
        elif cmd != "bye":
            answer = {"cmd": cmd, "ok": False, "error": "not supported by this adapter"}
        print(json.dumps(answer), flush=True)
        if cmd == "bye":
            break


if __name__ == "__main__":
    main()
