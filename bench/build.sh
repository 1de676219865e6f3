#!/usr/bin/env bash
# What the generated code costs to build: a cold `cargo build --release` of
# the 10-resource project (palisade's and openapi-generator's, same API),
# the crates in each Cargo.lock, and the time to compile the generated crate
# alone (dependencies already built) at 10 and 100 resources.
# Sourced by run.sh (needs OUT WORK BENCH PALISADE OG_JAR and lib.sh).
#
# BUILD_TOOLS: palisade and openapi-generator build their projects as
# generated (both with cargo's default release profile since palisade
# dropped its ThinLTO profile); palisade-nolto forces that default profile
# (no LTO, 16 codegen units, through CARGO_PROFILE_RELEASE_*), which told,
# while palisade's projects had `lto = "thin"`, how much of their build
# time the profile was (run 20261129T132441Z).
#
# build.tsv: tool  what  resources  rep  wall_s  maxrss_kb
# lock.tsv:  tool  resources  lock_crates

# project TOOL N DIR: the generated project of the N-resource synthetic API in DIR.
project() {
  local tool="$1" n="$2" dir="$3" src="$WORK/build/src-$2"
  rm -rf "$dir"
  if [[ ! -f "$src/out/openapi.json" ]]; then
    rm -rf "$src"; mkdir -p "$src"
    python3 "$BENCH/synth.py" palisade "$n" >"$src/spec.yaml"
    "$PALISADE" generate "$src/spec.yaml" --out "$src/out" >/dev/null || die "generate $n"
    python3 "$BENCH/synth.py" openapi3 "$src/out/openapi.json" >"$src/openapi.json"
  fi
  case "$tool" in
    palisade*) "$PALISADE" generate "$src/spec.yaml" --out "$dir" >/dev/null || die "generate $n" ;;
    openapi-generator) java -jar "$OG_JAR" generate -g rust-axum -i "$src/openapi.json" -o "$dir" >"$WORK/build/og-$n.log" 2>&1 \
      || die "openapi-generator $n (see $WORK/build/og-$n.log)" ;;
  esac
}

# touch_crate DIR: make cargo rebuild the generated crate and nothing else.
touch_crate() { find "$1/src" -name '*.rs' -exec touch {} +; }

build_part() {
  local TSV="$OUT/build.tsv" tool rep d10 d100 target
  printf 'tool\twhat\tresources\trep\twall_s\tmaxrss_kb\n' >"$TSV"
  printf 'tool\tresources\tlock_crates\n' >"$OUT/lock.tsv"
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
    CARGO_TARGET_DIR="$target" measure "$tool	cold_build	10	1" "$WORK/build/$tool-cold.log" -- \
      cargo build --release --manifest-path "$d10/Cargo.toml" || die "cold build ($tool)"
    printf '%s\t10\t%s\n' "$tool" "$(lock_crates "$d10/Cargo.lock")" >>"$OUT/lock.tsv"
    for rep in $(seq 1 "$BUILD_REPEATS"); do
      touch_crate "$d10"
      CARGO_TARGET_DIR="$target" measure "$tool	crate_only	10	$rep" "$WORK/build/$tool-crate.log" -- \
        cargo build --release --manifest-path "$d10/Cargo.toml" || die "crate build ($tool, 10)"
    done
    # The same dependency versions: only the generated crate is new.
    cp "$d10/Cargo.lock" "$d100/Cargo.lock"
    printf '%s\t100\t%s\n' "$tool" "$(lock_crates "$d100/Cargo.lock")" >>"$OUT/lock.tsv"
    say "build: $tool, the 100-resource crate alone"
    for rep in $(seq 1 "$BUILD_REPEATS"); do
      touch_crate "$d100"
      CARGO_TARGET_DIR="$target" measure "$tool	crate_only	100	$rep" "$WORK/build/$tool-crate.log" -- \
        cargo build --release --manifest-path "$d100/Cargo.toml" || die "crate build ($tool, 100)"
    done
    grep -q 'Compiling' "$WORK/build/$tool-crate.log" && \
      say "build: crates compiled in the crate-only builds: $(grep -o 'Compiling [a-z0-9_-]*' "$WORK/build/$tool-crate.log" | sort | uniq -c | tr '\n' ' ')"
    rm -rf "$target"
  done
  unset CARGO_PROFILE_RELEASE_LTO CARGO_PROFILE_RELEASE_CODEGEN_UNITS
}
