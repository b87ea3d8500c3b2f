#!/usr/bin/env bash
# Edge throughput and CPU per request against the reference (SPEC §6): Usher next to
# nginx serving the very same bytes with secure_link (md5 of expiry + URI + client
# address, and the expiry checked), same machine, same load, one run. Five files — the
# master manifest, a variant playlist, the init segment, a ~256 KB segment (2 s of
# 480p) and a ~1.3 MB segment — at each number of keep-alive connections, three servers
# interleaved (A/B/C/A/B/C…) REPS times:
#   nginx  secure_link, 200 distinct signed URLs in rotation
#   token  Usher, 200 distinct signed tokens in rotation (signature, claims, revocation,
#          rules, origin checked on every request; verified tokens cached)
#   uid    Usher, the video's uid (the same video, public)
# Prints medians of req/s, MiB/s, p50/p99 latency and the server's CPU per request (its
# utime+stime over the run / requests), and the Usher/nginx ratios of both.
#
#   bench/edge-vs-nginx.sh [SECONDS_PER_RUN (8)] [REPS (3)] [CONNECTIONS ("64 256")]
#
# Installs nginx-light and wrk from Debian if missing (needs root or sudo). On a machine
# with 2+ cores both servers are pinned to core 0 and wrk to core 1.
set -euo pipefail
secs=${1:-8}
reps=${2:-3}
conns_list=${3:-"64 256"}
. "$(dirname "$0")/lib.sh"

bench_need_wrk_nginx

bench_pins

# --- Usher, with one video and 200 tokens for it ---------------------------------------
bench_build
bench_workdir edge-vs-nginx
bench_account
bench_serve usher "${pin_server[@]}"
usher_pid=$server_pid
bench_clip "$work/clip.mp4"
uid=$(bench_upload_ready "$work/clip.mp4")
# Public, so the uid plays too; a token is checked in full whether or not the video is
# private.
bench_api POST "/stream/$uid" -H 'Content-Type: application/json' -d '{"requireSignedURLs":false}' >/dev/null
key=$(bench_api POST /stream/keys)
kid=$(echo "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])')
pem=$(echo "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["pem"])')
now=$(date +%s)
for i in $(seq 1 200); do
  "$usher" token sign --key-id "$kid" --pem "$pem" --video "$uid" --exp $((now + 80000 + i))
done >"$work/tokens"
token=$(head -1 "$work/tokens")
gen=$(find "$work/data/media/videos/$uid" -mindepth 1 -maxdepth 1 -type d -name '????????????????????????????????' | head -1)
nearest() { # bytes -> the media segment (any rendition) closest to that size
  (cd "$gen" && find manifest -name 'seg_*.m4s' -printf '%s %p\n' |
    awk -v t="$1" '{d=$1-t; if (d<0) d=-d; print d, $2}' | sort -n | head -1 | cut -d' ' -f2)
}
files=(manifest/video.m3u8 manifest/v0/index.m3u8 manifest/v0/init.mp4 "$(nearest 262144)" "$(nearest 1300000)")

# --- nginx on the same bytes, secure_link as its docs show it ---------------------------
# Its root holds exactly what Usher serves at each path (the master comes from the
# video's current masters revision, not the generation).
root="$work/nginx-root"
for f in "${files[@]}"; do
  mkdir -p "$root/$(dirname "$f")"
  curl -sf -o "$root/$f" "$url/$uid/$f"
done
bench_nginx "$root"
# One file of request paths per (server, file): wrk rotates through them.
paths() { echo "$work/paths.$1.$(echo "$2" | tr / _)"; }
for f in "${files[@]}"; do
  for i in $(seq 1 200); do bench_nginx_signed "/$f" $((now + 80000 + i)); done >"$(paths nginx "$f")"
  sed "s|.*|/&/$f|" "$work/tokens" >"$(paths token "$f")"
  echo "/$uid/$f" >"$(paths uid "$f")"
  for which in nginx token uid; do
    base=$url; [ "$which" = nginx ] && base="http://127.0.0.1:$nginx_port"
    while read -r p; do
      code=$(curl -s -o "$work/got" -w '%{http_code}' "$base$p")
      [ "$code" = 200 ] || { echo "$which refused $p ($code)" >&2; cat "$work/nginx/logs/error.log" >&2; exit 1; }
      cmp -s "$work/got" "$root/$f" || { echo "$which served other bytes for $p" >&2; exit 1; }
    done < <(sed -n '1p;$p' "$(paths "$which" "$f")")
  done
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nginx_port/$f")" = 403 ] ||
    { echo "nginx served $f without a signature" >&2; exit 1; }
done
bench_rotate_lua

# --- load ----------------------------------------------------------------------------
server_pids() { # which -> pids doing the serving
  if [ "$1" = nginx ]; then pgrep -P "$nginx_pid"; else echo "$usher_pid"; fi
}
run() { # which conns file -> "req/s MiB/s p50_ms p99_ms cpu_us_per_req"
  local base=$url
  [ "$1" = nginx ] && base="http://127.0.0.1:$nginx_port"
  bench_wrk "$base" "$2" "$secs" "$(paths "$1" "$3")" "$(server_pids "$1")" "${pin_client[@]}"
}

results="$work/results"
: >"$results"
for rep in $(seq 1 "$reps"); do
  for conns in $conns_list; do
    for f in "${files[@]}"; do
      for which in nginx token uid; do
        r=$(run "$which" "$conns" "$f")
        echo "$f $conns $which $r" >>"$results"
        echo "rep $rep: $f c=$conns $which: $r" >&2
      done
    done
  done
done

python3 - "$results" "$root" "$secs" "$reps" "${files[@]}" <<'PY'
import os, statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    f, conns, which, *vals = line.split()
    rows[(f, int(conns), which)].append(tuple(map(float, vals)))
root, secs, reps, files = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
print(f"\nmedians of {reps} interleaved runs of {secs} s; servers on core 0, wrk on core 1;")
print("nginx = secure_link, token = Usher with 200 signed tokens in rotation, uid = Usher by uid")
print("| file | conns | server | req/s | MiB/s | p50 ms | p99 ms | CPU µs/req | req/s vs nginx | CPU vs nginx |")
print("|---|---|---|---|---|---|---|---|---|---|")
for conns in sorted({k[1] for k in rows}):
    for f in files:
        med = {w: [statistics.median(r[i] for r in rows[(f, conns, w)]) for i in range(5)]
               for w in ("nginx", "token", "uid")}
        label = f"{f.removeprefix('manifest/')} ({os.path.getsize(os.path.join(root, f))} B)"
        for w in ("nginx", "token", "uid"):
            rps, mib, p50, p99, cpu = med[w]
            ratios = ("", "") if w == "nginx" else (
                f"{rps / med['nginx'][0]:.2f}", f"{cpu / med['nginx'][4]:.2f}")
            print(f"| {label} | {conns} | {w} | {rps:.0f} | {mib:.1f} | {p50:.2f} | {p99:.2f} | {cpu:.1f} | {ratios[0]} | {ratios[1]} |")
PY
