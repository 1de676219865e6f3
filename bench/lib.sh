# Shared helpers of the bench/ scripts (sourced, not run).
# Expects: OUT (results directory), WORK (scratch directory), BENCH (bench/).

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# measure TSV-PREFIX LOG -- CMD...: runs CMD once, appends "PREFIX\twall\trss"
# to the TSV named by $TSV; returns 1 (recording nothing) when CMD fails.
measure() {
  local prefix="$1" log="$2"; shift 3
  local line wall rss rc
  line="$(python3 "$BENCH/measure.py" --log "$log" -- "$@")"
  wall="$(sed -n 's/.*wall_s=\([^ ]*\).*/\1/p' <<<"$line")"
  rss="$(sed -n 's/.*maxrss_kb=\([^ ]*\).*/\1/p' <<<"$line")"
  rc="$(sed -n 's/.*rc=\([^ ]*\).*/\1/p' <<<"$line")"
  [[ "$rc" == 0 ]] || { tail -5 "$log" >&2; say "failed (exit $rc): $*"; return 1; }
  printf '%s\t%s\t%s\n' "$prefix" "$wall" "$rss" >>"$TSV"
  printf '%s\t%s\t%s\n' "$prefix" "$wall" "$rss" | tr '\t' ' ' >&2
}

# Lines of Rust in a directory (all *.rs files, comments and blanks included).
rust_lines() { find "$1" -name '*.rs' -not -path '*/target/*' -print0 | xargs -0 cat | wc -l; }
rust_files() { find "$1" -name '*.rs' -not -path '*/target/*' | wc -l; }
# [[package]] entries of a Cargo.lock (the project itself included).
lock_crates() { grep -c '^\[\[package\]\]' "$1"; }

# ---------------------------------------------------------------- servers
# SERVER_PID: the server under load; EXTRA_PIDS: more processes of the
# same server (a second replica), stopped and measured with it.
SERVER_PID=""; EXTRA_PIDS=""
stop_server() {
  local pid
  for pid in $EXTRA_PIDS; do stop_pid "$pid"; done
  EXTRA_PIDS=""
  [[ -n "$SERVER_PID" ]] || return 0
  stop_pid "$SERVER_PID"
  SERVER_PID=""
}
stop_pid() {
  if kill -0 "$1" 2>/dev/null; then
    local kids; kids="$(ps -o pid= --ppid "$1" | tr '\n' ' ' || true)"
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$1" 2>/dev/null && kill -KILL "$1" 2>/dev/null
    for k in $kids; do kill -0 "$k" 2>/dev/null && kill -KILL "$k" 2>/dev/null; done
  fi
  wait "$1" 2>/dev/null || true
  say "stopped server pid $1"
}

port_free() { ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; }

# wait_ready URL CODE LOG [PID]: until URL answers CODE without a token.
wait_ready() {
  for _ in $(seq 1 240); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" == "$2" ]] && return 0
    kill -0 "${4:-$SERVER_PID}" 2>/dev/null || { tail -20 "$3" >&2; die "server died; see $3"; }
    sleep 0.25
  done
  die "server not ready in 60 s; see $3"
}

# record_rss LABEL PHASE: VmHWM (peak) and VmRSS of the server (its
# replicas too) and their children, KiB. Not PostgreSQL's or Redis's.
record_rss() {
  local pids="" hwm=0 rss=0 h r s
  for s in $SERVER_PID $EXTRA_PIDS; do
    pids="$pids $s $(ps -o pid= --ppid "$s" | tr '\n' ' ' || true)"
  done
  for p in $pids; do
    h=$(awk '/^VmHWM:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    r=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    hwm=$((hwm + ${h:-0})); rss=$((rss + ${r:-0}))
  done
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$hwm" "$rss" "$(wc -w <<<"$pids")" >>"$OUT/rss.tsv"
}
