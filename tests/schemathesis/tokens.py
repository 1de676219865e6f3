"""Mints the bearer tokens schemathesis sends: two users (alice, bob) in
two tenants, signed the way the spec's server verifies them (HS* with the
secret in the environment, ES256 or RS256 with the test keys of
tests/fixtures, under the kid of the key set run.sh published)."""
import json
import os
import sys
import time

import jwt

model = json.load(sys.stdin)
auth = model["auth"]
alg = auth["algorithms"][0]
here = os.path.dirname(os.path.abspath(__file__))
headers = {}
if alg.startswith("HS"):
    key = os.environ["PALISADE_TEST_SECRET"]
else:
    # Keys from a JWKS: the set run.sh published with the server's
    # `dev-jwks` for this test key; tokens name its kid.
    pem = "rs256-private.pem" if alg.startswith(("RS", "PS")) else "es256-private.pem"
    with open(os.path.join(here, "..", "fixtures", pem)) as f:
        key = f.read()
    if "PALISADE_TEST_JWKS" in os.environ:
        with open(os.environ["PALISADE_TEST_JWKS"]) as f:
            headers["kid"] = json.load(f)["keys"][0]["kid"]


def put(claims, path, value):
    """Sets a claim by name, or by JSON Pointer (RFC 6901) when it starts with /."""
    if not path.startswith("/"):
        claims[path] = value
        return
    steps = [s.replace("~1", "/").replace("~0", "~") for s in path[1:].split("/")]
    for step in steps[:-1]:
        claims = claims.setdefault(step, {})
    claims[steps[-1]] = value


tenant_claims = sorted({r["scope"]["claim"] for r in model["resources"]
                        if r["scope"]["kind"] == "owned" and r["scope"]["tenant"]})
entries = []
for user, tenant in (("alice", "acme"), ("bob", "globex")):
    claims = {"iat": int(time.time()), "exp": int(time.time()) + 3600}
    put(claims, auth["user_claim"], user)
    for c in tenant_claims:
        claims[c] = tenant
    if auth.get("issuer"):
        claims["iss"] = auth["issuer"]
    if auth.get("audience"):
        claims["aud"] = auth["audience"]
    if auth.get("roles_claim"):
        put(claims, auth["roles_claim"], [])
    token = jwt.encode(claims, key, algorithm=alg, headers=headers or None)
    entries.append({"name": user, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {token}"}]})
json.dump({"auth": entries}, sys.stdout)
