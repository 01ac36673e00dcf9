#!/usr/bin/env python3
"""A minimal State Protocol consumer behind the adapter protocol (docs/adapter-protocol.md).

It is the example an implementer starts from: the standard library only, spec-1.0 positions,
value schemas checked for the few JSON Schema keywords the corpus uses (type, required,
properties, minLength), and the profile the runner names is ignored. Its known gaps are
listed, with reasons, in expectations.toml beside it, which CI runs it against:

    state-conformance run --profile spec-1.0 --profile spec-1.0-strict --profile ts-compat \\
        --expectations adapters/python-minimal/expectations.toml \\
        -- python3 adapters/python-minimal/adapter.py
"""

import json
import sys

OPERATIONS = ("insert", "update", "delete")
CONTROLS = ("snapshot-start", "snapshot-end", "reset")


def problem(m):
    """Why message m is malformed, or None when it is a well-formed message (STATE-PROTOCOL 5)."""
    if not isinstance(m, dict):
        return "a message must be a JSON object"
    headers = m.get("headers")
    if not isinstance(headers, dict):
        return "headers must be an object"
    if ("operation" in headers) == ("control" in headers):
        return "headers need exactly one of operation and control"
    if "control" in headers:
        if headers["control"] not in CONTROLS:
            return "unknown control"
        offset = headers.get("offset")
        if offset is not None and (not isinstance(offset, str) or offset == ""):
            return "offset must be a non-empty string"
        return None
    if headers["operation"] not in OPERATIONS:
        return "unknown operation"
    for field in ("type", "key"):
        if not isinstance(m.get(field), str) or m[field] == "":
            return field + " must be a non-empty string"
    if headers["operation"] != "delete" and "value" not in m:
        return "insert and update need a value"
    for field in ("txid", "timestamp"):
        if field in headers and not isinstance(headers[field], str):
            return field + " must be a string"
    return None


JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def schema_problem(value, schema):
    """Why value breaks schema (type, required, properties, minLength only), or None."""
    kind = schema.get("type")
    if kind in ("integer", "number"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and kind == "integer":
            ok = float(value).is_integer()
    else:
        ok = kind is None or isinstance(value, JSON_TYPES.get(kind, object))
    if not ok:
        return "value is not of type %s" % kind
    if isinstance(value, dict):
        for field in schema.get("required", []):
            if field not in value:
                return "value lacks required field %s" % field
        for field, sub in schema.get("properties", {}).items():
            if field in value:
                why = schema_problem(value[field], sub)
                if why:
                    return field + ": " + why
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        return "value is shorter than %d" % schema["minLength"]
    return None


class Consumer:
    def __init__(self, collections):
        self.types = None if collections is None else {c["type"] for c in collections}
        self.schemas = {c["type"]: c["schema"] for c in collections or [] if "schema" in c}
        self.state, self.txids, self.offset = {}, set(), None

    def apply(self, items, offset):
        rejected = []
        for i, m in enumerate(items):
            why = problem(m)
            if why is None and "type" in m and self.types is not None and m["type"] not in self.types:
                why = "undeclared entity type"
            schema = self.schemas.get(m.get("type")) if why is None else None
            if schema is not None and m["headers"]["operation"] != "delete":
                why = schema_problem(m["value"], schema)
            if why:
                rejected.append({"index": i, "reason": why})
                continue
            headers = m["headers"]
            if headers.get("control") == "reset":
                self.state, self.txids = {}, set()
                if "offset" in headers:  # restart reading there: the rest of the batch comes again
                    self.offset = headers["offset"]
                    return rejected
            elif "operation" in headers:
                entities = self.state.setdefault(m["type"], {})
                if headers["operation"] == "delete":
                    entities.pop(m["key"], None)
                else:
                    entities[m["key"]] = m["value"]
                if "txid" in headers:
                    self.txids.add(headers["txid"])
        self.offset = offset
        return rejected

    def report(self):
        state = {t: e for t, e in self.state.items() if e}
        return {"state": state, "txids": sorted(self.txids), "offset": self.offset, "halted": False}


def main():
    consumer = Consumer(None)
    for line in sys.stdin:
        command = json.loads(line)
        cmd = command["cmd"]
        answer = {"cmd": cmd, "ok": True}
        if cmd == "hello":
            answer.update(protocol=1, implementation={"name": "python-minimal", "version": "0.1"},
                          capabilities=["materialize", "validate"], profiles=["spec-1.0"])
        elif cmd == "open":
            consumer = Consumer(command.get("collections"))
        elif cmd == "apply":
            answer["rejected"] = consumer.apply(command["items"], command["offset"])
        elif cmd == "state":
            answer.update(consumer.report())
        elif cmd == "validate":
            if "raw" in command:
                try:
                    message = json.loads(command["raw"])
                except (ValueError, RecursionError) as e:
                    message, why = None, "not JSON: %s" % e
                else:
                    why = problem(message)
            else:
                why = problem(command.get("message"))
            answer.update(valid=why is None, reason=why)
        print(json.dumps(answer), flush=True)
        if cmd == "bye":
            break


if __name__ == "__main__":
    main()
