#!/bin/sh
# Prints what the rate limiter of generated servers costs: resident memory
# after one million distinct keys (with the key cap of generated servers,
# and without it), what retain_recent gives back, the time of one throttle
# check, and the per-request cost of the throttle layer in the middleware
# stack. Figures only, no timed assertion; each flood runs in a process of
# its own. See benches/limiter.rs.
set -eu
cd "$(dirname "$0")/.."
exec cargo bench --quiet --bench limiter "$@"
