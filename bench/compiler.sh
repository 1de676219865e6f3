#!/usr/bin/env bash
# Compiler scaling: palisade validate / generate / check, and
# openapi-generator's rust-axum generator on the same CRUD API, at each size.
# Sourced by run.sh (needs OUT WORK BENCH PALISADE OG_JAR and lib.sh).
#
# compiler.tsv: tool  command  resources  rep  wall_s  maxrss_kb
# outputs.tsv:  tool  resources  rs_files  rs_lines  api_lines

compiler_part() {
  local TSV="$OUT/compiler.tsv" n dir spec rep
  printf 'tool\tcommand\tresources\trep\twall_s\tmaxrss_kb\n' >"$TSV"
  printf 'tool\tresources\trs_files\trs_lines\tper_resource_lines\n' >"$OUT/outputs.tsv"
  for n in $SIZES; do
    dir="$WORK/compiler/$n"; rm -rf "$dir"; mkdir -p "$dir"
    spec="$dir/spec.yaml"
    python3 "$BENCH/synth.py" palisade "$n" >"$spec"
    say "compiler: palisade, $n resources ($(wc -c <"$spec") bytes of spec)"
    # One untimed run of each command first (page cache, binary loaded).
    "$PALISADE" validate "$spec" >/dev/null
    "$PALISADE" generate "$spec" --out "$dir/warm" >/dev/null; rm -rf "$dir/warm"
    local preps="$PAL_REPEATS"; [[ "$n" -ge 1000 ]] && preps="$PAL_REPEATS_1000"
    for rep in $(seq 1 "$preps"); do
      measure "palisade	validate	$n	$rep" "$dir/palisade.log" -- "$PALISADE" validate "$spec" || die "palisade validate"
      rm -rf "$dir/out"
      measure "palisade	generate	$n	$rep" "$dir/palisade.log" -- "$PALISADE" generate "$spec" --out "$dir/out" || die "palisade generate"
      measure "palisade	check	$n	$rep" "$dir/palisade.log" -- "$PALISADE" check "$spec" --out "$dir/out" || die "palisade check"
    done
    printf 'palisade\t%s\t%s\t%s\t%s\n' "$n" "$(rust_files "$dir/out")" "$(rust_lines "$dir/out")" \
      "$(awk -v a="$(rust_lines "$dir/out")" -v n="$n" 'BEGIN{printf "%.0f", a/n}')" >>"$OUT/outputs.tsv"

    # The same API for openapi-generator: the OpenAPI document palisade wrote, as 3.0.3.
    python3 "$BENCH/synth.py" openapi3 "$dir/out/openapi.json" >"$dir/openapi.json"
    if [[ "$n" -gt "$OG_MAX" ]]; then
      say "compiler: openapi-generator skipped at $n resources (OG_MAX=$OG_MAX)"; continue
    fi
    say "compiler: openapi-generator rust-axum, $n resources ($(wc -c <"$dir/openapi.json") bytes of OpenAPI)"
    local reps="$OG_REPEATS"; [[ "$n" -ge 1000 ]] && reps="$OG_REPEATS_1000"
    for rep in $(seq 1 "$reps"); do
      rm -rf "$dir/og"
      # timeout: a run past OG_TIMEOUT is recorded as a failure, not waited for.
      measure "openapi-generator	generate	$n	$rep" "$dir/og.log" -- \
        timeout "$OG_TIMEOUT" java -jar "$OG_JAR" generate -g rust-axum -i "$dir/openapi.json" -o "$dir/og" \
        || { printf 'openapi-generator\tgenerate\t%s\t%s\tNA\tNA\n' "$n" "$rep" >>"$TSV"; break; }
    done
    [[ -d "$dir/og/src" ]] && printf 'openapi-generator\t%s\t%s\t%s\t%s\n' "$n" "$(rust_files "$dir/og")" "$(rust_lines "$dir/og")" \
      "$(awk -v a="$(rust_lines "$dir/og")" -v n="$n" 'BEGIN{printf "%.0f", a/n}')" >>"$OUT/outputs.tsv"
    rm -rf "$dir/warm"
  done
}
