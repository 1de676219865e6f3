"""Writes schemathesis.toml for one generated server, from palisade's
resolved model (stdin): the two peers for the object-level authorization
check, and, only where the contract makes a schema-valid request
unanswerable with 2xx, 422 as an expected answer to positive data:
- a list's `cursor` is opaque: a well-formed string the server did not
  issue is refused with 422;
- a `ref` field must name a row the caller may read: a well-formed id of
  a missing row or of another owner's row is refused with 422, by design
  indistinguishable from each other;
- a field rule (`write:`) lets only some callers set a field: the body
  schema is the one of every caller, so a field the tokens' caller may
  not set is schema-valid and refused with 422 naming it.
Everything else keeps schemathesis's defaults."""
import json
import sys

model = json.load(sys.stdin)
auth_path = sys.argv[1]
lines = [
    "[auth.wfc]",
    f'path = "{auth_path}"',
    'peers = ["alice", "bob"]',
    "",
]
accepted = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]


def refuses_fields(op):
    """Whether some caller of `op` may not set a field another may."""
    body = set().union(*(v["writes"] for v in op["views"]))
    return any(set(v["writes"]) != body for v in op["views"])


for resource in model["resources"]:
    has_refs = any(c["ty"]["type"] == "ref" for c in resource["columns"])
    for op in resource["operations"]:
        kind = op["kind"]
        if kind == "list" or (kind in ("create", "update") and (has_refs or refuses_fields(op))):
            lines += [
                "[[operations]]",
                f'include-operation-id = "{kind}_{resource["name"]}"',
                "[operations.checks.positive_data_acceptance]",
                f"expected-statuses = {json.dumps(accepted)}",
                "",
            ]
print("\n".join(lines))
