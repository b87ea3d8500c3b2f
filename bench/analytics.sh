#!/usr/bin/env bash
# What counting viewing analytics costs the edge (SPEC §10: "counting never slows
# delivery"), A/B in one run: two `usher serve --role edge` processes on the same data,
# identical but for one flag — one counting (the default), one started with
# --no-view-analytics — loaded in turn
# (on/off/on/off… REPS times) with 200 signed tokens in rotation — every request a
# distinct viewer's — for three files: a variant playlist (per-request overhead
# dominates), a ~256 KB and a ~1.3 MB segment. Prints the medians of req/s and the
# server's CPU per request, the on/off ratios, and the spread of the off runs, which is
# the noise any difference must stand out of. Also reports how many batches the counting
# server wrote and that its counts match the requests it answered.
#
#   bench/analytics.sh [SECONDS_PER_RUN (8)] [REPS (5)] [CONNECTIONS (64)]
#
# Installs wrk from Debian if missing. On 2+ cores both servers are pinned to core 0
# (one at a time under load) and wrk to core 1.
set -euo pipefail
secs=${1:-8}
reps=${2:-5}
conns=${3:-64}
. "$(dirname "$0")/lib.sh"

bench_need_wrk_nginx
bench_pins

bench_build
bench_workdir analytics
bench_account
# The API and worker that package the clip and answer the analytics; idle under load.
bench_serve setup
bench_clip "$work/clip.mp4"
uid=$(bench_upload_ready "$work/clip.mp4")
bench_api POST "/stream/$uid" -H 'Content-Type: application/json' -d '{"requireSignedURLs":true}' >/dev/null
edge() { # name [flags…] -> $edge_url, $edge_pid: an edge on the same data, on core 0
  local name=$1
  shift
  USHER_LOG=warn "${pin_server[@]}" "$usher" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    --role edge "$@" >"$work/$name.out" 2>"$work/$name.err" &
  edge_pid=$!
  bench_pids+=("$edge_pid")
  for _ in $(seq 1 600); do grep -q 'usher listening on' "$work/$name.out" && break; sleep 0.1; done
  edge_url=$(sed -n 's/^usher listening on //p' "$work/$name.out" | head -1)
  [ -n "$edge_url" ] || { cat "$work/$name.err" >&2; exit 1; }
}
edge on
on_url=$edge_url on_pid=$edge_pid
edge off --no-view-analytics
off_url=$edge_url off_pid=$edge_pid

key=$(bench_api POST /stream/keys)
kid=$(echo "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])')
pem=$(echo "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["pem"])')
now=$(date +%s)
for i in $(seq 1 200); do
  "$usher" token sign --key-id "$kid" --pem "$pem" --video "$uid" --exp $((now + 80000 + i))
done >"$work/tokens"
gen=$(find "$work/data/media/videos/$uid" -mindepth 1 -maxdepth 1 -type d -name '????????????????????????????????' | head -1)
nearest() { # bytes -> the video segment closest to that size
  (cd "$gen" && find manifest -path '*/v*/seg_*.m4s' -printf '%s %p\n' |
    awk -v t="$1" '{d=$1-t; if (d<0) d=-d; print d, $2}' | sort -n | head -1 | cut -d' ' -f2)
}
files=(manifest/v0/index.m3u8 "$(nearest 262144)" "$(nearest 1300000)")
for f in "${files[@]}"; do
  sed "s|.*|/&/$f|" "$work/tokens" >"$work/paths.$(echo "$f" | tr / _)"
  for base in "$on_url" "$off_url"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$base$(head -1 "$work/paths.$(echo "$f" | tr / _)")")
    [ "$code" = 200 ] || { echo "$base refused $f ($code)" >&2; exit 1; }
  done
done
bench_rotate_lua

results="$work/results"
: >"$results"
for rep in $(seq 1 "$reps"); do
  for f in "${files[@]}"; do
    for which in on off; do
      if [ "$which" = on ]; then base=$on_url pid=$on_pid; else base=$off_url pid=$off_pid; fi
      r=$(bench_wrk "$base" "$conns" "$secs" "$work/paths.$(echo "$f" | tr / _)" "$pid" "${pin_client[@]}")
      echo "$f $which $r" >>"$results"
      echo "rep $rep: $f $which: $r" >&2
    done
  done
done

python3 - "$results" "$secs" "$reps" "$conns" "${files[@]}" <<'PY'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    f, which, *vals = line.split()
    rows[(f, which)].append(tuple(map(float, vals)))
secs, reps, conns, files = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
print(f"\nmedians of {reps} interleaved runs of {secs} s, {conns} connections, 200 tokens in rotation;")
print("server on core 0, wrk on core 1; on = counting analytics (default), off = --no-view-analytics")
print("| file | analytics | req/s | CPU µs/req | req/s on/off | CPU on/off | off runs' req/s spread |")
print("|---|---|---|---|---|---|---|")
for f in files:
    med = {w: [statistics.median(r[i] for r in rows[(f, w)]) for i in range(5)] for w in ("on", "off")}
    offs = [r[0] for r in rows[(f, "off")]]
    spread = f"{min(offs):.0f}-{max(offs):.0f} ({(max(offs) - min(offs)) / med['off'][0] * 100:.1f}%)"
    for w in ("on", "off"):
        rps, _, _, _, cpu = med[w]
        ratios = (f"{rps / med['off'][0]:.3f}", f"{cpu / med['off'][4]:.3f}", spread) if w == "on" else ("", "", "")
        print(f"| {f.removeprefix('manifest/')} | {w} | {rps:.0f} | {cpu:.1f} | {ratios[0]} | {ratios[1]} | {ratios[2]} |")
PY

# The counting server's own tally: every request it answered shows in bytes, and each
# token is one view (all within one 30-minute window, unless the run crossed one).
sleep 11
bench_api GET "/stream/analytics/views?uid=$uid" | python3 -c '
import json, sys
rows = json.load(sys.stdin)["result"]
print("\nanalytics of the counting server:", json.dumps(rows))'
if grep -i "viewing analytics" "$work/on.err" >&2; then echo "(the counting server logged the above)" >&2; fi
