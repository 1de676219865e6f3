#!/usr/bin/env bash
# Renders the audit of every example (and the silencing fixture) as HTML,
# opens each page in headless Chromium and keeps a screenshot, so a person
# can look at the report: `bash tests/review/render_html.sh [OUT_DIR]`
# (default target/review-html). Installs Chromium with apt-get when it is
# missing and this runs as root; without a browser it says so and exits 0,
# since `cargo test --test review` checks the rendering whenever one exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-target/review-html}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

browser="${PALISADE_CHROMIUM:-}"
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  [ -n "$browser" ] && break
  browser="$(command -v "$name" || true)"
done
if [ -z "$browser" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing chromium"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true
  browser="$(command -v chromium || true)"
fi
if [ -z "$browser" ]; then
  echo "skipped: no Chromium to render the HTML report with"
  exit 0
fi

cargo build --quiet --locked --bin palisade
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
status=0
for spec in examples/*.yaml tests/review/fixtures/silenced.yaml; do
  name="$(basename "$spec" .yaml)"
  html="$out/$name.html"
  png="$out/$name.png"
  target/debug/palisade audit "$spec" --format html --out "$html"
  rm -f "$png"
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --hide-scrollbars --user-data-dir="$profile" \
    --window-size=1280,2000 --screenshot="$png" "file://$html" >/dev/null 2>&1 || true
  dom="$(timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$profile" --dump-dom "file://$html" 2>/dev/null || true)"
  size="$(stat -c %s "$png" 2>/dev/null || echo 0)"
  if [ "$size" -gt 20000 ] && grep -q "Access matrix" <<<"$dom"; then
    echo "ok: $spec -> $png ($size bytes)"
  else
    echo "FAILED: $spec did not render (screenshot $size bytes)"
    status=1
  fi
done
exit "$status"
