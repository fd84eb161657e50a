#!/usr/bin/env python3
"""Validates every JSON document the tests kept (DIR/*.json, the command beside it in *.cmd) against
the schema its "schema" key names: "vdsokit.check/1" -> SCHEMAS/check.schema.json (Draft 2020-12).

usage: validate_json.py SCHEMAS DIR [--require-all] [--except ID,ID...]
--require-all: also fail when a schema in SCHEMAS validated no document (every output exercised),
except the ids listed with --except."""
import json
import os
import sys

from jsonschema import Draft202012Validator


def float_noise(node, path="", out=None):
    """Paths of numbers printed with more than three decimals (0.9600000000000001)."""
    out = [] if out is None else out
    if isinstance(node, dict):
        for k, v in node.items():
            float_noise(v, f"{path}/{k}", out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            float_noise(v, f"{path}/{i}", out)
    elif isinstance(node, float):
        text = repr(node)
        if "e" in text or ("." in text and len(text.split(".")[1]) > 3):
            out.append(f"{path}={text}")
    return out


def main():
    schemas_dir, out_dir = sys.argv[1], sys.argv[2]
    require_all = "--require-all" in sys.argv[3:]
    exempt = set()
    if "--except" in sys.argv[3:]:
        exempt = set(sys.argv[sys.argv.index("--except") + 1].split(","))
    loaded = {}
    for name in sorted(os.listdir(schemas_dir)):
        if not name.endswith(".schema.json"):
            continue
        with open(os.path.join(schemas_dir, name)) as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
        loaded[name] = schema
    # A "$ref" to another file ("unit-record.schema.json") is resolved here, never fetched: each schema is
    # validated under an absolute base ("https://vdsokit.invalid/schemas/<file>", as if the folder were
    # served) with every file of the folder in the resolver's store.
    base = "https://vdsokit.invalid/schemas/"
    store = {}
    for name, schema in loaded.items():
        store[base + name] = dict(schema, **{"$id": base + name})
    schemas = {}
    for name, schema in loaded.items():
        absolute = store[base + name]
        try:
            from referencing import Registry, Resource
            registry = Registry().with_resources((uri, Resource.from_contents(s)) for uri, s in store.items())
            validator = Draft202012Validator(absolute, registry=registry)
        except ImportError:   # Debian's python3-jsonschema 4.10: RefResolver with the same store
            from jsonschema import RefResolver
            validator = Draft202012Validator(absolute, resolver=RefResolver.from_schema(absolute, store=store))
        schemas[schema["$id"]] = (name, validator)
    seen = {sid: 0 for sid in schemas}
    failures = 0
    docs = sorted(n for n in os.listdir(out_dir) if n.endswith(".json")) if os.path.isdir(out_dir) else []
    for name in docs:
        path = os.path.join(out_dir, name)
        cmd_path = path[:-5] + ".cmd"
        cmd = open(cmd_path).read() if os.path.exists(cmd_path) else name
        try:
            with open(path) as f:
                doc = json.load(f)
        except ValueError as e:
            print(f"FAIL {cmd}: not JSON: {e}")
            failures += 1
            continue
        sid = doc.get("schema") if isinstance(doc, dict) else None
        if sid not in schemas:
            print(f"FAIL {cmd}: no schema for \"schema\": {sid!r} in {schemas_dir}")
            failures += 1
            continue
        errors = sorted(schemas[sid][1].iter_errors(doc), key=lambda e: [str(p) for p in e.path])
        seen[sid] += 1
        for e in errors[:5]:
            where = "/".join(str(p) for p in e.path)
            print(f"FAIL {cmd}: {schemas[sid][0]}: at /{where}: {e.message[:300]}")
        noise = float_noise(doc)
        for n in noise[:5]:
            print(f"FAIL {cmd}: float noise at {n}")
        failures += bool(errors) or bool(noise)
    print(f"{len(docs)} documents, {failures} failing; per schema: " +
          ", ".join(f"{schemas[s][0]} {n}" for s, n in sorted(seen.items())))
    if require_all:
        for sid, n in seen.items():
            if n == 0 and sid not in exempt:
                print(f"FAIL no document validated against {schemas[sid][0]}")
                failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
