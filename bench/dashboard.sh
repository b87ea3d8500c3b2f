#!/usr/bin/env bash
# The dashboard's weight and first load (SPEC §10): the size of its embedded script and
# stylesheet, raw and gzipped, and the time from navigation start to the library
# rendered with 20 videos in headless Chromium against a release build on loopback —
# cold (new browser context) and warm (reload) — RUNS times each, with the medians.
# For scale, the same for the player page's hls.js, the other script Usher serves.
#
#   bench/dashboard.sh [RUNS (10)]
#
# Needs Chromium (scripts/install-deps --test).
set -euo pipefail
runs=${1:-10}
. "$(dirname "$0")/lib.sh"

bench_build
bench_workdir dashboard
bench_account
bench_serve usher
dist="$bench_root/web/dashboard/dist"
for f in "$dist/dashboard.js" "$dist/dashboard.css" "$bench_root/web/node_modules/hls.js/dist/hls.min.js"; do
  printf '%-16s %8d B raw %8d B gzip -9\n' "$(basename "$f")" "$(wc -c <"$f")" "$(gzip -9c "$f" | wc -c)"
done
# A library with something in it: 20 short videos, all packaged before the clock
# starts (a worker busy packaging would share the cores with the browser).
ffmpeg -v error -f lavfi -i testsrc2=size=320x240:rate=30 -t 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$work/c.mp4"
for i in $(seq 1 20); do bench_upload_ready "$work/c.mp4" >/dev/null; done
node "$bench_root/bench/dashboard-load.mjs" "$url/dashboard" "$acct_id" "$api_token" "$runs" | python3 -c '
import json, statistics, sys
r = json.load(sys.stdin)
for k in ("cold", "warm"):
    v = r[k]
    print(f"first load {k}: median {statistics.median(v):.0f} ms, min {min(v)} ms, max {max(v)} ms over {len(v)} loads")
print("bytes of a cold load (Content-Length of every response):", r["transferred"])'
