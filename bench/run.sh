#!/usr/bin/env bash
# Palisade's benchmarks, in one run: compiler scaling against
# openapi-generator, the build cost of the generated code, the generated
# server under load against the peers (hand-written axum ceiling, Django
# REST Framework), and the cost of each security layer on its own.
#
#   bench/run.sh                 # everything (~1.5 h on a 2-core machine)
#   PARTS="compiler" bench/run.sh
#   PARTS=load LOAD_SERVERS="palisade-pg ceiling-pg palisade-pg-2 palisade-pg-norls \
#     palisade palisade-redis" bench/run.sh   # the PostgreSQL figures (issue 16)
#   UPDATE_DOC=1 bench/run.sh    # also rewrite the figures in BENCHMARKS.md
#
# Parts (PARTS, default all, in this order):
#   compiler  validate/generate/check wall time and peak memory at SIZES
#             resources, openapi-generator rust-axum on the same API
#   build     cold release build and Cargo.lock crates of the 10-resource
#             projects of both; the generated code alone (touched) at 10
#             and 100; palisade's rebuild after a spec change (one field
#             added) at 10 and 100, and one with cargo --timings
#   load      wrk against the generated billing server, ceiling-bare,
#             ceiling-secure and DRF (gunicorn, one sync worker per core);
#             on request (LOAD_SERVERS), the PostgreSQL servers:
#               ceiling-pg         the ceiling's secure mode on PostgreSQL
#                                  (bench/ceiling-postgres.patch)
#               palisade-pg        the generated server on PostgreSQL
#                                  (row-level security included)
#               palisade-pg-2      two replicas of it on one database, each
#                                  loaded by a wrk with half the connections
#               palisade-pg-norls  palisade-pg without the per-request
#                                  identity and role switch (experiments/pg-norls.env)
#               palisade-pg-notx   ... nor the request transaction (pg-notx.env)
#               palisade-redis     palisade (SQLite) with the Redis limiter
#             each in a database of its own (dropped afterwards, with the
#             role the generated server makes) and, for palisade-redis, in a
#             Redis database of its own (its keys deleted afterwards)
#   layers    cargo bench --bench layers: JWT verification, throttle check,
#             owner-scoped vs unscoped query, the whole security stack
#
# Knobs (environment): SIZES (1 10 100 1000) PAL_REPEATS (5)
#   PAL_REPEATS_1000 (3) OG_REPEATS (3) OG_REPEATS_1000 (1) OG_MAX (1000)
#   OG_TIMEOUT (1800) BUILD_TOOLS (palisade openapi-generator)
#   BUILD_REPEATS (2) LOAD_SERVERS (palisade ceiling-bare ceiling-secure drf)
#   LOAD_CONNS (32 256) REPEATS (3, load runs per cell) DURATION (10s)
#   WARMUP (2s) THREADS (2) ROWS_PER_USER (10000) DRF_WORKERS (nproc)
#   PEERS_SRC (../shared/peers) PEERS_COPY (/tmp/palisade-bench-peers)
#   PG_HOST (127.0.0.1) PG_PORT (5432) PG_USER (root; may create databases
#   and roles) BENCH_REDIS_URL (redis://127.0.0.1:6379/9)
#   CACHE (target/bench) KEEP_WORK=1
#
# Results: bench/results/<UTC stamp>/ (TSV files, meta.txt, report.md).
# Servers listen on 127.0.0.1 only; every load run is bounded by DURATION;
# each server is stopped by the PID recorded when it was started.
set -euo pipefail
BENCH="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$BENCH/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
source "$BENCH/compiler.sh"
source "$BENCH/build.sh"
source "$BENCH/load.sh"

PARTS="${PARTS:-compiler build load layers}"
SIZES="${SIZES:-1 10 100 1000}"
PAL_REPEATS="${PAL_REPEATS:-5}"; PAL_REPEATS_1000="${PAL_REPEATS_1000:-3}"
REPEATS="${REPEATS:-3}"
OG_REPEATS="${OG_REPEATS:-3}"; OG_REPEATS_1000="${OG_REPEATS_1000:-1}"
OG_MAX="${OG_MAX:-1000}"; OG_TIMEOUT="${OG_TIMEOUT:-1800}"
BUILD_TOOLS="${BUILD_TOOLS:-palisade openapi-generator}"; BUILD_REPEATS="${BUILD_REPEATS:-2}"
LOAD_SERVERS="${LOAD_SERVERS:-palisade ceiling-bare ceiling-secure drf}"
LOAD_CONNS="${LOAD_CONNS:-32 256}"
DURATION="${DURATION:-10s}"; WARMUP="${WARMUP:-2s}"; THREADS="${THREADS:-2}"
ROWS_PER_USER="${ROWS_PER_USER:-10000}"
DRF_WORKERS="${DRF_WORKERS:-$(nproc)}"
PEERS_SRC="${PEERS_SRC:-$REPO/../shared/peers}"
CACHE="${CACHE:-$REPO/target/bench}"
PEERS_COPY="${PEERS_COPY:-${TMPDIR:-/tmp}/palisade-bench-peers}"
export CARGO_TERM_COLOR=never

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${OUT:-$BENCH/results/$STAMP}"; mkdir -p "$OUT"
# APPEND=1 OUT=bench/results/<stamp>: finish a run whose load part was
# interrupted (a server stopped from outside, say): meta.txt and the TSVs
# are appended to, and the rows of a server measured again are first moved
# to <name>-aborted.tsv.
APPEND="${APPEND:-0}"
WORK="$(mktemp -d -t palisade-bench.XXXXXX)"
cleanup() {
  stop_server
  pg_drop_dbs
  redis_clean
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then say "scratch kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
say "building palisade (release) into $CACHE"
CARGO_TARGET_DIR="$CACHE" cargo build --release --quiet --bin palisade --manifest-path "$REPO/Cargo.toml"
PALISADE="$CACHE/release/palisade"
# openapi-generator: for the compiler part, and for the build part when
# BUILD_TOOLS names it.
if [[ " $PARTS " == *" compiler "* || ( " $PARTS " == *" build "* && " $BUILD_TOOLS " == *" openapi-generator "* ) ]]; then
  command -v java >/dev/null || die "java is missing (openapi-generator needs Java 11+)"
  if [[ ! -x "$CACHE/og-venv/bin/python" ]]; then
    python3 -m venv "$CACHE/og-venv"
  fi
  [[ -n "$(find "$CACHE/og-venv" -name openapi-generator.jar -print -quit)" ]] || \
    "$CACHE/og-venv/bin/pip" install -q "openapi-generator-cli==${OG_VERSION:-7.26.0}"
  OG_JAR="$(find "$CACHE/og-venv" -name openapi-generator.jar -print -quit)"
fi
if [[ " $PARTS " == *" load "* ]] && ! command -v wrk >/dev/null; then
  if [[ $(id -u) == 0 ]]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; fi
fi

{
  [[ "$APPEND" == 1 ]] && echo "# appended by a second invocation (APPEND=1)"
  echo "date_utc=$STAMP"
  echo "commit=$(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src templates Cargo.toml 2>/dev/null || echo '+uncommitted')"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "cores=$(nproc)"
  echo "memory=$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "rustc=$(rustc -V)"
  echo "java=$(java -version 2>&1 | head -1)"
  [[ -n "${OG_JAR:-}" ]] && echo "openapi_generator=$(java -jar "$OG_JAR" version 2>/dev/null | tail -1)"
  command -v wrk >/dev/null && echo "wrk=$(wrk -v 2>&1 | head -1)"
  echo "python=$(python3 -V 2>&1)"
  echo "parts=$PARTS"
  echo "sizes=$SIZES palisade_repeats=$PAL_REPEATS palisade_repeats_1000=$PAL_REPEATS_1000 og_repeats=$OG_REPEATS og_repeats_1000=$OG_REPEATS_1000 build_repeats=$BUILD_REPEATS"
  echo "load: servers=$LOAD_SERVERS conns=$LOAD_CONNS duration=$DURATION warmup=$WARMUP threads=$THREADS repeats=$REPEATS rows_per_user=$ROWS_PER_USER drf_workers=$DRF_WORKERS"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.new"
if [[ "$APPEND" == 1 ]]; then cat "$OUT/meta.new" >>"$OUT/meta.txt"; else mv "$OUT/meta.new" "$OUT/meta.txt"; fi
cat "$OUT/meta.new" >&2 2>/dev/null || cat "$OUT/meta.txt" >&2; rm -f "$OUT/meta.new"

for part in $PARTS; do
  say "== part: $part"
  case "$part" in
    compiler) compiler_part ;;
    build) build_part ;;
    load) load_part ;;
    layers)
      CARGO_TARGET_DIR="$CACHE" cargo bench --quiet --manifest-path "$REPO/Cargo.toml" --bench layers \
        2>"$OUT/layers.log" | tee "$OUT/layers.txt" >&2 || die "layers bench (see $OUT/layers.log)"
      ;;
    *) die "unknown part $part" ;;
  esac
  echo "loadavg_after_$part=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
done

python3 "$BENCH/report.py" "$OUT" | tee "$OUT/report.md"
if [[ "${UPDATE_DOC:-0}" == 1 ]]; then
  python3 "$BENCH/report.py" --update "$REPO/BENCHMARKS.md" "$OUT"
  say "BENCHMARKS.md: figures replaced from $OUT"
fi
say "results in $OUT"
