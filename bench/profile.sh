#!/usr/bin/env bash
# Where `palisade generate` spends its instructions, by stage, counted with
# valgrind's callgrind (instruction counts do not depend on what else the
# machine is doing, unlike wall time). Builds palisade with line tables
# into target/bench/prof, runs `generate` on the synthetic spec of each
# size, and prints the inclusive instruction count of each stage.
#
#   bench/profile.sh            # sizes 10 and 100 (about 5 minutes)
#   SIZES="10" bench/profile.sh
set -euo pipefail
BENCH="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$BENCH/.." && pwd)"
SIZES="${SIZES:-10 100}"
CACHE="${CACHE:-$REPO/target/bench}"
command -v valgrind >/dev/null || { echo "valgrind is required" >&2; exit 1; }
CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_TARGET_DIR="$CACHE/prof" \
  cargo build --release --quiet --bin palisade --manifest-path "$REPO/Cargo.toml"
BIN="$CACHE/prof/release/palisade"
WORK="$(mktemp -d -t palisade-profile.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# name|pattern of the function whose inclusive count is the stage.
STAGES='total|:palisade::cli::main \[
compile (parse, validate, model)|:palisade::compile \[
generate, all of it|:palisade::generate::generate \[
  rust::print (syn::parse2 + prettyplease + drops)|:palisade::generate::rust::print \[
    syn::parse2 into a syn::File|syn::file::parsing::<impl syn::parse::Parse for syn::file::File>::parse \[
    prettyplease::unparse|:prettyplease::unparse \[
  quote!: resource modules|:palisade::generate::rust::resource_module \[
  quote!: security tests|:palisade::generate::tests::security_tests \[
  openapi.json|:palisade::generate::openapi::document \[
manifest: SHA-256 of every file|:palisade::write::Manifest::of \[
write to disk|:palisade::write::write \['

for n in $SIZES; do
  python3 "$BENCH/synth.py" palisade "$n" >"$WORK/spec-$n.yaml"
  # Counts add up over generate's threads (valgrind runs them one at a time).
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg-$n.out" \
    "$BIN" generate "$WORK/spec-$n.yaml" --out "$WORK/out-$n" >/dev/null 2>"$WORK/vg-$n.log"
  callgrind_annotate --inclusive=yes --threshold=100 "$WORK/cg-$n.out" >"$WORK/cg-$n.txt" 2>/dev/null
  total="$(grep -E ':palisade::cli::main \[' "$WORK/cg-$n.txt" | head -1 | awk '{gsub(",","",$1); print $1}')"
  echo "palisade generate, $n resources: instructions by stage (inclusive; a stage's lines add up within it)"
  while IFS='|' read -r name pattern; do
    c="$(grep -E "$pattern" "$WORK/cg-$n.txt" | head -1 | awk '{gsub(",","",$1); print $1}')"
    [[ -n "$c" ]] || c=0
    awk -v name="$name" -v c="$c" -v t="$total" -v n="$n" \
      'BEGIN{ printf "  %-52s %14.1f M %6.1f%% %10.2f M per resource\n", name, c/1e6, 100*c/t, c/1e6/n }'
  done <<<"$STAGES"
  echo
done
