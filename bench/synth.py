#!/usr/bin/env python3
"""Synthetic specs for the compiler benchmark.

  synth.py palisade N            a Palisade spec of N resources (stdout)
  synth.py palisade N --add-field
                                 the same spec with one field more, `note`
                                 (an optional string), in resource r0: the
                                 spec change of the rebuild benchmark
  synth.py openapi3 OPENAPI.json the OpenAPI 3.1 document Palisade generated,
                                 rewritten as OpenAPI 3.0.3 (stdout)

The Palisade spec is the one of benches/compile.rs (`synthetic_spec`), byte
for byte: seven fields per resource (string, email with pii, integer,
number, enum with a default, write-once date) plus a ref to the previous
resource, two roles with list/get/delete and get grants, a filter, a sort
key and a per-operation create throttle. With --add-field, r0 also has
`note: { type: string, max_length: 200 }` after `due`; nothing else
differs.

The OpenAPI side is the same CRUD API: the document `palisade generate`
writes for that spec (every path, operation, schema and response code),
converted to 3.0.3 because openapi-generator's 3.1 support is partial:
`type: [T, "null"]` becomes `type: T, nullable: true`, and a null in an
enum is dropped (nullable says it).
"""
import json
import sys


def palisade(n: int, add_field: bool = False) -> str:
    s = [
        "palisade: 1\nservice: { name: synthetic }\nauth:\n"
        "  jwt: { algorithm: HS256, secret_env: JWT_SECRET, issuer: https://id.example.com, audience: api }\n"
        "  roles_claim: roles\nroles: [admin, support]\n"
        "cors: { origins: [https://app.example.com], credentials: true }\nresources:\n"
    ]
    for i in range(n):
        s.append(
            f"  r{i}:\n    owner: owner_id\n    fields:\n"
            "      name: { type: string, max_length: 120, required: true }\n"
            "      email: { type: email, pii: true }\n"
            "      amount: { type: integer, min: 0 }\n"
            "      ratio: { type: number, min: 0, max: 1 }\n"
            "      state: { type: string, enum: [a, b, c], default: a }\n"
            "      due: { type: date, write_once: true }\n"
        )
        if add_field and i == 0:
            s.append("      note: { type: string, max_length: 200 }\n")
        if i > 0:
            s.append(f"      parent: {{ type: ref, resource: r{i - 1} }}\n")
        s.append(
            "    access:\n      roles: { admin: [list, get, delete], support: [get] }\n"
            "    filters: [state]\n    sort: [amount]\n    throttle: { create: 30/minute }\n"
        )
    return "".join(s)


def to30(node):
    if isinstance(node, dict):
        out = {k: to30(v) for k, v in node.items()}
        t = out.get("type")
        if isinstance(t, list):
            rest = [x for x in t if x != "null"]
            out["type"] = rest[0] if len(rest) == 1 else rest
            if "null" in t:
                out["nullable"] = True
            if "enum" in out:
                out["enum"] = [x for x in out["enum"] if x is not None]
        return out
    if isinstance(node, list):
        return [to30(x) for x in node]
    return node


def main(argv):
    if len(argv) in (3, 4) and argv[1] == "palisade" and argv[3:] in ([], ["--add-field"]):
        sys.stdout.write(palisade(int(argv[2]), add_field=len(argv) == 4))
    elif len(argv) == 3 and argv[1] == "openapi3":
        doc = to30(json.load(open(argv[2])))
        doc["openapi"] = "3.0.3"
        doc.pop("jsonSchemaDialect", None)
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
