#!/usr/bin/env bash
# Runs schemathesis (PyPI) against every example's generated server, with
# its own openapi.json and two users (alice, bob) as peers, so that the
# object-level authorization check runs too. Each document is first
# checked against the OpenAPI 3.1 schema, its JSON Schemas included
# (openapi-spec-validator), so an invalid one fails by name. Each server runs
# on SQLite and then on PostgreSQL (a database of its own on the machine's
# PostgreSQL, PALISADE_TEST_POSTGRES or postgres://postgres@127.0.0.1:5432,
# dropped afterwards; skipped with a message where none answers, unless
# PALISADE_REQUIRE_POSTGRES=1). Bounded by --max-time per example and
# engine. Usage: bash tests/schemathesis/run.sh [SECONDS_PER_EXAMPLE_AND_ENGINE]
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
max_time="${1:-60}"
# Outside the repository, so the generated projects are not taken for
# members of palisade's workspace; reports are copied back at the end.
work="$(mktemp -d)"
reports="$root/target/schemathesis"
export CARGO_TARGET_DIR="$root/target/e2e"
# As the e2e suite builds there (tests/support/build.rs), so dependencies are reused.
export CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
rm -rf "$reports"
mkdir -p "$reports"

python3 -m pip install --quiet --disable-pip-version-check "schemathesis==4.32.5" "pyjwt==2.*" cryptography pyyaml "openapi-spec-validator==0.9.*" 2>&1 | grep -v "Running pip as the 'root' user" || true

cargo build --quiet --locked --bin palisade
palisade="$root/target/debug/palisade"

pg_base="${PALISADE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
engines="sqlite postgres"
if ! psql "$pg_base/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  if [ "${PALISADE_REQUIRE_POSTGRES:-}" = 1 ]; then
    echo "PostgreSQL does not answer at $pg_base, and PALISADE_REQUIRE_POSTGRES=1"; exit 1
  fi
  echo "SKIPPED: schemathesis on PostgreSQL (no PostgreSQL answers psql at $pg_base; set PALISADE_TEST_POSTGRES)"
  engines="sqlite"
fi
pg_db=""
drop_pg() {
  if [ -n "$pg_db" ]; then
    psql "$pg_base/postgres" -qAtc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true
    psql "$pg_base/postgres" -qAtc "DROP ROLE IF EXISTS \"${pg_db}_app\"" >/dev/null 2>&1 || true
  fi
  pg_db=""
}
trap drop_pg EXIT

status=0
for spec in examples/*.yaml; do
  name="$(basename "$spec" .yaml)"
  dir="$work/$name"
  mkdir -p "$dir"
  python3 tests/schemathesis/relax.py "$spec" "$dir/spec.yaml"
  "$palisade" generate "$dir/spec.yaml" --out "$dir/project" >/dev/null
  python3 -m openapi_spec_validator --schema 3.1 "$dir/project/openapi.json" \
    || { echo "$name: openapi.json is not a valid OpenAPI 3.1 document"; status=1; continue; }
  (cd "$dir/project" && cargo build --quiet)
  service="$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["service"]["name"])' "$spec")"
  key_env="$(python3 -c 'import sys,yaml; j=yaml.safe_load(open(sys.argv[1]))["auth"]["jwt"]; print(j.get("secret_env") or j.get("public_key_env") or j.get("jwks_url_env"))' "$spec")"
  export PALISADE_TEST_SECRET="$(head -c 64 /dev/urandom | base64 | tr -d '/+=\n')"
  unset PALISADE_TEST_JWKS
  if grep -q "secret_env" "$spec"; then key="$PALISADE_TEST_SECRET"
  elif grep -q "jwks_url_env" "$spec"; then
    # A local key set of the test key, published by the server's dev-jwks.
    pem=tests/fixtures/es256-private.pem
    grep -Eq "algorithms: \[(RS|PS)" "$spec" && pem=tests/fixtures/rs256-private.pem
    "$CARGO_TARGET_DIR/debug/$service" dev-jwks --private-key "$pem" >"$dir/jwks.json"
    export PALISADE_TEST_JWKS="$dir/jwks.json"
    key="file:$dir/jwks.json"
  else key="$(cat tests/fixtures/es256-public.pem)"; fi
  "$palisade" model "$dir/spec.yaml" >"$dir/model.json"
  python3 tests/schemathesis/tokens.py <"$dir/model.json" >"$dir/wfc-auth.json"
  python3 tests/schemathesis/config.py "$dir/wfc-auth.json" <"$dir/model.json" >"$dir/schemathesis.toml"
  token="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["auth"][0]["fixedHeaders"][0]["value"])' "$dir/wfc-auth.json")"
  for engine in $engines; do
    if [ "$engine" = postgres ]; then
      pg_db="palisade_st_${name}_$$"
      psql "$pg_base/postgres" -qAtc "CREATE DATABASE \"$pg_db\"" >/dev/null
      url="$pg_base/$pg_db"
    else
      url="sqlite://$dir/db.sqlite?mode=rwc"
    fi
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    log="$dir/server-$engine.log"
    env "$key_env=$key" BIND_ADDR="127.0.0.1:$port" DATABASE_URL="$url" RUST_LOG=warn \
      "$CARGO_TARGET_DIR/debug/$service" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
    echo "== schemathesis: $name on $engine, 127.0.0.1:$port (max $max_time s)"
    set +e
    (cd "$dir" && st --config-file schemathesis.toml run "$dir/project/openapi.json" \
        --url "http://127.0.0.1:$port" -H "Authorization: $token" \
        --checks all --mode all --max-time "$max_time" --max-failures 20 \
        --request-timeout 5 --seed 42 --generation-deterministic \
        --report junit --report-dir "$dir/reports-$engine")
    code=$?
    set -e
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    drop_pg
    cp -r "$dir/reports-$engine" "$reports/$name-$engine" 2>/dev/null || true
    cp "$log" "$reports/$name-$engine.server.log"
    if [ "$code" -ne 0 ]; then
      echo "schemathesis found failures in $name on $engine (exit $code); server log: $log"
      status=1
    fi
  done
done
exit $status
