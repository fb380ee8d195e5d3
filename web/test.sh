#!/usr/bin/env bash
# The playground's end-to-end test (run by .ci/run):
#  1. builds the WebAssembly module and the page (web/build.sh) and the CLI;
#  2. runs every shipped scenario through the module under Node.js: each report.json must
#     be the committed one (reports/NAME/report.json) byte for byte;
#  3. serves web/ with `dynasim serve`, runs PRESET (default: partition) in headless
#     Chromium as the page does, and prints `browser digest HEX for scenarios/PRESET.json`;
#     the browser's report.json must equal the CLI's byte for byte; walks the tour, checks a
#     share link, takes a screenshot (target/web-test/screenshot.png); opens the committed
#     reports/partition/report.html (charts, fault labels, zoom) and
#     reports/sweep-nrw-tuning/sweep.html (heatmaps, sorting) from the file system;
#  4. prints the browser's speed against the native build on the same scenario.
# Exits non-zero on any difference, console error or uncaught exception in the page.
# Installs Debian's chromium (and nodejs) when missing, as CI runs on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${1:-partition}
OUT=target/web-test
mkdir -p "$OUT"

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The DevTools client uses Node's built-in WebSocket (--experimental-websocket, Node 20.10+).
if ! node --experimental-websocket -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' 2>/dev/null; then
  echo "web/test.sh needs Node.js 20.10 or newer (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

echo "== building the module and the page"
bash web/build.sh
cargo build --release --locked -q

echo "== the module under Node.js against the CLI's committed reports"
status=0
node web/node-run.mjs web/dynasim.wasm --reports reports scenarios/*.json > "$OUT/node-runs.txt" || status=$?
cat "$OUT/node-runs.txt"
identical=$(grep -c "report.json identical" "$OUT/node-runs.txt" || true)
echo "$(ls scenarios/*.json | wc -l) scenarios run in the module: $identical with the committed report.json byte for byte"
[ "$status" -eq 0 ]

echo "== headless Chromium"
./target/release/dynasim serve --port 0 --dir web > "$OUT/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's|^serving .* at \(http://[0-9.:]*/\) .*|\1|p' "$OUT/serve.log")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "dynasim serve did not start:"; cat "$OUT/serve.log"; exit 1; }
node --experimental-websocket --no-warnings web/test/browser.mjs --chromium "$(command -v chromium)" \
  --url "$url" --preset "$PRESET" --report-out "$OUT/browser-report.json" --screenshot "$OUT/screenshot.png" \
  --report-html "$PWD/reports/partition/report.html" --sweep-html "$PWD/reports/sweep-nrw-tuning/sweep.html" \
  | tee "$OUT/browser.log"

./target/release/dynasim run "scenarios/$PRESET.json" --out "$OUT/cli" --quiet --timings "$OUT/cli-timings.json"
if ! cmp -s "$OUT/browser-report.json" "$OUT/cli/report.json"; then
  echo "DIFFERS  the browser's report.json is not the CLI's (diff $OUT/browser-report.json $OUT/cli/report.json)"
  exit 1
fi
echo "the browser's report.json is the CLI's, byte for byte"
native_s=$(sed -n 's/.*"wall_s": \([0-9.e-]*\).*/\1/p' "$OUT/cli-timings.json")
browser_s=$(sed -n 's/^browser run of [^:]*: \([0-9.]*\) s .*/\1/p' "$OUT/browser.log")
awk -v b="$browser_s" -v n="$native_s" -v p="$PRESET" \
  'BEGIN { printf "speed on %s: browser %.2f s, native %.2f s (dynasim run --timings, the run alone; the browser figure includes building report.json): %.2fx\n", p, b, n, b / n }'
