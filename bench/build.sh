#!/usr/bin/env bash
# What the generated code costs to build: a cold `cargo build --release` of
# the 10-resource project (palisade's and openapi-generator's, same API),
# the crates in each Cargo.lock, the generated code rebuilt after its
# sources are touched (dependencies built) at 10 and 100 resources, and,
# for palisade, the rebuild after a real spec change (one field added) at
# 10 and 100 resources. Every cargo command runs in the project's
# directory, as a user runs it (so the project's .cargo/config.toml
# applies). Sourced by run.sh (needs OUT WORK BENCH PALISADE OG_JAR and
# lib.sh).
#
# What each measurement recompiles (compiled.tsv lists the packages cargo
# compiled in every timed build, from its "Compiling" lines):
# - cold_build: everything, with an empty target directory (the crates
#   already downloaded).
# - crate_only: the generated code, with the dependencies already built.
#   For openapi-generator its one crate (its src/ touched). For palisade
#   (a workspace since issue 13) the generated `api` crate (api/src
#   touched) and, because it depends on it, the team's root package (its
#   lib, where the handlers are instantiated for the hooks type, and its
#   binary); the vendored runtime (runtime/) is built and not recompiled.
# - rebuild_after_spec_change (palisade only): the project built from the
#   synthetic spec, `palisade generate` run over it with one field added to
#   resource r0 (synth.py --add-field), then `cargo build --release`;
#   each repetition alternates between the spec with and without the field,
#   so each builds a real change (api/src/r0.rs and the migration that
#   api/src/lib.rs includes; the runtime and the hooks are unchanged). The
#   generate is timed apart (spec_change_generate) and not included. One
#   more such rebuild at 100 resources runs with `--timings` (untimed as a
#   figure, recorded as spec_change_timings): cargo's report, kept as
#   timings-<tool>-100.html in the results, times each crate and when its
#   metadata was ready (front end) against when it finished (code
#   generation and linking).
#
# The 100-resource project gets the 10-resource project's Cargo.lock and
# target directory, so every registry dependency is built. Cargo names a
# path package by its path from the workspace root, so the two projects'
# packages (palisade's runtime, api and root package) are the same units to
# it and share their artifacts: a timed build compiles a project's own
# sources because it starts with a change to them (a touch or a generate),
# and the runtime, whose bytes are the same in both projects, is not
# compiled again. One untimed build of the 100-resource project
# (first_build) comes first, so that the timed builds start from a built
# project even with a cargo that tells the two paths apart (it would
# compile the runtime there); with cargo 1.95 it compiles nothing.

# BUILD_TOOLS: palisade and openapi-generator build their projects as
# generated (both with cargo's default release profile since palisade
# dropped its ThinLTO profile); palisade-nolto forces that default profile
# (no LTO, 16 codegen units, through CARGO_PROFILE_RELEASE_*), which told,
# while palisade's projects had `lto = "thin"`, how much of their build
# time the profile was (run 20261129T132441Z).
#
# build.tsv:    tool  what  resources  rep  wall_s  maxrss_kb
# lock.tsv:     tool  resources  lock_crates
# compiled.tsv: tool  what  resources  rep  packages (compiled, in order)

# project TOOL N DIR: the generated project of the N-resource synthetic API in DIR.
project() {
  local tool="$1" n="$2" dir="$3" src="$WORK/build/src-$2"
  rm -rf "$dir"
  if [[ ! -f "$src/out/openapi.json" ]]; then
    rm -rf "$src"; mkdir -p "$src"
    python3 "$BENCH/synth.py" palisade "$n" >"$src/spec.yaml"
    # The same file name, so the generated headers ("from spec.yaml") agree.
    mkdir -p "$src/field"
    python3 "$BENCH/synth.py" palisade "$n" --add-field >"$src/field/spec.yaml"
    "$PALISADE" generate "$src/spec.yaml" --out "$src/out" >/dev/null || die "generate $n"
    python3 "$BENCH/synth.py" openapi3 "$src/out/openapi.json" >"$src/openapi.json"
  fi
  case "$tool" in
    palisade*) "$PALISADE" generate "$src/spec.yaml" --out "$dir" >"$WORK/build/generate-$n.log" 2>&1 \
      || die "generate $n (see $WORK/build/generate-$n.log)" ;;
    openapi-generator) java -jar "$OG_JAR" generate -g rust-axum -i "$src/openapi.json" -o "$dir" >"$WORK/build/og-$n.log" 2>&1 \
      || die "openapi-generator $n (see $WORK/build/og-$n.log)" ;;
  esac
}

# touch_crate DIR: make cargo rebuild the generated code and nothing else:
# palisade's api crate (api/src; cargo then rebuilds the root package that
# depends on it), or openapi-generator's crate (src/).
touch_crate() {
  if [[ -d "$1/api/src" ]]; then find "$1/api/src" -name '*.rs' -exec touch {} +
  else find "$1/src" -name '*.rs' -exec touch {} +; fi
}

# timed_build TOOL WHAT N REP DIR [CARGO ARGS...]: `cargo build --release`
# in DIR, timed into build.tsv; the packages it compiled into compiled.tsv.
timed_build() {
  local tool="$1" what="$2" n="$3" rep="$4" dir="$5" log
  shift 5
  log="$WORK/build/$tool-$what-$n-$rep.log"
  CARGO_TARGET_DIR="$target" measure "$tool	$what	$n	$rep" "$log" -- \
    env -C "$dir" cargo build --release "$@" || die "$what build ($tool, $n; see $log)"
  printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$what" "$n" "$rep" \
    "$(sed -n 's/^ *Compiling \([^ ]*\) .*/\1/p' "$log" | paste -sd' ')" >>"$OUT/compiled.tsv"
}

# spec_change TOOL N DIR REP WHAT [CARGO ARGS...]: generate DIR from the
# spec with the field on odd REPs, without it on even ones (DIR starts from
# the spec without it), then rebuild, timed as WHAT; generate's own time is
# spec_change_generate.
spec_change() {
  local tool="$1" n="$2" dir="$3" rep="$4" what="$5" spec
  shift 5
  spec="$WORK/build/src-$n/spec.yaml"
  (( rep % 2 == 1 )) && spec="$WORK/build/src-$n/field/spec.yaml"
  measure "$tool	spec_change_generate	$n	$rep" "$WORK/build/generate-$n.log" -- \
    "$PALISADE" generate "$spec" --out "$dir" || die "generate over the $n-resource project"
  timed_build "$tool" "$what" "$n" "$rep" "$dir" "$@"
}

build_part() {
  local TSV="$OUT/build.tsv" tool rep d10 d100 target n d
  printf 'tool\twhat\tresources\trep\twall_s\tmaxrss_kb\n' >"$TSV"
  printf 'tool\tresources\tlock_crates\n' >"$OUT/lock.tsv"
  printf 'tool\twhat\tresources\trep\tpackages\n' >"$OUT/compiled.tsv"
  for tool in $BUILD_TOOLS; do
    d10="$WORK/build/$tool-10"; d100="$WORK/build/$tool-100"
    target="$WORK/build/target-$tool"
    if [[ "$tool" == palisade-nolto ]]; then
      export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
    else
      unset CARGO_PROFILE_RELEASE_LTO CARGO_PROFILE_RELEASE_CODEGEN_UNITS
    fi
    project "$tool" 10 "$d10"; project "$tool" 100 "$d100"
    rm -rf "$target"   # cold: nothing built (downloaded crates stay in ~/.cargo)
    (cd "$d10" && cargo fetch -q) || die "cargo fetch ($tool)"
    say "build: $tool, cold cargo build --release of the 10-resource project"
    timed_build "$tool" cold_build 10 1 "$d10"
    printf '%s\t10\t%s\n' "$tool" "$(lock_crates "$d10/Cargo.lock")" >>"$OUT/lock.tsv"
    say "build: $tool, the generated code of the 10-resource project, touched"
    for rep in $(seq 1 "$BUILD_REPEATS"); do
      touch_crate "$d10"
      timed_build "$tool" crate_only 10 "$rep" "$d10"
    done
    # The same dependency versions: only the generated code is new.
    cp "$d10/Cargo.lock" "$d100/Cargo.lock"
    printf '%s\t100\t%s\n' "$tool" "$(lock_crates "$d100/Cargo.lock")" >>"$OUT/lock.tsv"
    say "build: $tool, the 100-resource project once (untimed: its path crates)"
    timed_build "$tool" first_build 100 1 "$d100"
    say "build: $tool, the generated code of the 100-resource project, touched"
    for rep in $(seq 1 "$BUILD_REPEATS"); do
      touch_crate "$d100"
      timed_build "$tool" crate_only 100 "$rep" "$d100"
    done
    if [[ "$tool" == palisade* ]]; then
      for n in 10 100; do
        d="$WORK/build/$tool-$n"
        say "build: $tool, rebuild after a spec change (one field added, then removed), $n resources"
        for rep in $(seq 1 "$BUILD_REPEATS"); do
          spec_change "$tool" "$n" "$d" "$rep" rebuild_after_spec_change
        done
      done
      say "build: $tool, one more such rebuild at 100 resources with --timings"
      spec_change "$tool" 100 "$d100" $((BUILD_REPEATS + 1)) spec_change_timings --timings
      cp "$target/cargo-timings/cargo-timing.html" "$OUT/timings-$tool-100.html"
    fi
    rm -rf "$target"
  done
  unset CARGO_PROFILE_RELEASE_LTO CARGO_PROFILE_RELEASE_CODEGEN_UNITS
}
