"""Mints the bearer tokens schemathesis sends: two users (alice, bob) in
two tenants, signed the way the spec's server verifies them (HS* with the
secret in the environment, ES256 with the test key of tests/fixtures)."""
import json
import os
import sys
import time

import jwt

model = json.load(sys.stdin)
auth = model["auth"]
alg = auth["algorithm"]
if alg.startswith("HS"):
    key = os.environ["PALISADE_TEST_SECRET"]
else:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "fixtures", "es256-private.pem")) as f:
        key = f.read()
tenant_claims = sorted({r["scope"]["claim"] for r in model["resources"]
                        if r["scope"]["kind"] == "owned" and r["scope"]["tenant"]})
entries = []
for user, tenant in (("alice", "acme"), ("bob", "globex")):
    claims = {auth["user_claim"]: user, "iat": int(time.time()), "exp": int(time.time()) + 3600}
    for c in tenant_claims:
        claims[c] = tenant
    if auth.get("issuer"):
        claims["iss"] = auth["issuer"]
    if auth.get("audience"):
        claims["aud"] = auth["audience"]
    if auth.get("roles_claim"):
        claims[auth["roles_claim"]] = []
    token = jwt.encode(claims, key, algorithm=alg)
    entries.append({"name": user, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {token}"}]})
json.dump({"auth": entries}, sys.stdout)
