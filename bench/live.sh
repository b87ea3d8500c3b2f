#!/usr/bin/env bash
# Live streaming figures (issue 16), on this machine, in one run:
#  1. Ingest CPU per stream: a 1080p30 H.264/AAC broadcast (pre-encoded, published with
#     `ffmpeg -re -c copy`, so the publisher's own encode is not counted) packaged by
#     Usher (copy; then with a 2-rung live ladder, --live-ladder 720,360), as the CPU
#     seconds per second of Usher and its ffmpeg children; next to the same ffmpeg
#     packaging command run by hand on the same input (the reference).
#  2. Viewers per edge core: CPU per request for the live media playlist (through a
#     token) and for a 2 s segment, Usher against nginx serving copies of the same files
#     with secure_link, same machine, one run; a viewer asks for one playlist and one
#     segment every 2 s, so one core serves 2 s / (playlist + segment CPU) viewers.
# Latency is measured by the e2e test (`cargo test -p usher --test e2e -- live::the_player
# --nocapture` prints it); bench/all.sh runs it.
#
#   bench/live.sh [SECONDS_PER_MEASURE (20)] [WRK_SECONDS (8)]
set -euo pipefail
secs=${1:-20}
wrk_secs=${2:-8}
. "$(dirname "$0")/lib.sh"

bench_need_wrk_nginx
bench_pins

bench_build
bench_workdir live
bench_account
src="$work/source.flv"
broadcast=$((secs + 40))
echo "encoding a ${broadcast} s 1080p30 source (key frame every 2 s)…" >&2
ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t "$broadcast" -c:v libx264 -preset veryfast -b:v 5000k -maxrate 5000k -bufsize 10000k -g 60 \
  -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 128k -f flv "$src"

tree_ticks() { # pid -> utime+stime ticks of it and every descendant alive now
  local t=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null) $(for c in $(pgrep -P "$1" 2>/dev/null); do pgrep -P "$c"; done); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
# CPU seconds per second of PID's process tree over $secs, after 10 s of settling.
cpu_share() {
  sleep 10
  local a b
  a=$(tree_ticks "$1"); sleep "$secs"; b=$(tree_ticks "$1")
  python3 -c "print(f'{($b - $a) / $(getconf CLK_TCK) / $secs:.3f}')"
}
publish() { # rtmp url -> pid
  ffmpeg -v error -nostdin -re -i "$src" -c copy -f flv "$1" >/dev/null 2>&1 &
  echo $!
}
live_input() {
  bench_api POST /stream/live_inputs -H 'Content-Type: application/json' -d "$1"
}
field() { python3 -c "import json,sys; r=json.load(sys.stdin)['result']; print($1)"; }
serve_live() { # name ladder
  if [ -n "$2" ]; then
    USHER_RTMP_LISTEN=127.0.0.1:0 USHER_LIVE_LADDER=$2 bench_serve "$1" "${pin_server[@]}"
  else
    USHER_RTMP_LISTEN=127.0.0.1:0 bench_serve "$1" "${pin_server[@]}"
  fi
  for _ in $(seq 1 100); do grep -q 'rtmp listening' "$work/$1.out" && break; sleep 0.1; done
  rtmp=$(sed -n 's/^usher rtmp listening on //p' "$work/$1.out")
}
wait_playlist() { # url
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return; sleep 0.2; done
  echo "never on air: $1" >&2; exit 1
}

# --- 1. ingest CPU --------------------------------------------------------------------
declare -A cpu
serve_live copy ""
copy_pid=$server_pid copy_url=$url
input=$(live_input '{"recording":{"requireSignedURLs":true}}')
uid=$(echo "$input" | field 'r["uid"]')
key=$(echo "$input" | field 'r["rtmps"]["streamKey"]')
token=$(bench_api POST "/stream/$uid/token" | field 'r["token"]')
pub=$(publish "$rtmp$key")
bench_pids+=("$pub")
wait_playlist "$url/$token/manifest/media_0.m3u8"
echo "measuring Usher's ingest (copy)…" >&2
cpu[usher_copy]=$(cpu_share "$copy_pid")

# --- 2. viewers per edge core (the copy broadcast stays on air) ------------------------
seg=$(curl -sf "$url/$token/manifest/media_0.m3u8" | grep '^seg-' | tail -1)
run_dir=$(dirname "$(find "$work/data/media/live/$uid" -name "$seg")")
root="$work/nginx-root"
mkdir -p "$root/live"
cp "$run_dir/media_0.m3u8" "$run_dir/$seg" "$root/live/"
# A live playlist changes every segment: nothing may keep it.
bench_nginx "$root" 'location ~ \.m3u8$ { add_header Cache-Control "max-age=1"; }'
expires=$(($(date +%s) + 80000))
signed() { bench_nginx_signed "$1" "$expires"; }
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
per_request() { # base path pids... -> "req/s cpu_us_per_req"
  local base=$1 path=$2 before after out
  shift 2
  before=$(cpu_ticks "$@")
  out=$("${pin_client[@]}" wrk -t1 -c64 -d"${wrk_secs}s" "$base$path")
  after=$(cpu_ticks "$@")
  echo "$out" | python3 -c '
import re, sys
t, ticks, hz = sys.stdin.read(), int(sys.argv[1]), int(sys.argv[2])
if re.search(r"Non-2xx or 3xx responses: (\d+)", t): sys.exit("refused: " + t)
reqs = int(re.search(r"(\d+) requests in", t).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
print(f"{rps:.0f} {ticks / hz * 1e6 / max(reqs, 1):.1f}")' "$((after - before))" "$(getconf CLK_TCK)"
}
echo "measuring the edge against nginx on the live files…" >&2
nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
declare -A edge
edge[usher_playlist]=$(per_request "$url" "/$token/manifest/media_0.m3u8" "$copy_pid")
edge[nginx_playlist]=$(per_request "http://127.0.0.1:$nginx_port" "$(signed /live/media_0.m3u8)" $nginx_workers)
edge[usher_segment]=$(per_request "$url" "/$token/manifest/$seg" "$copy_pid")
edge[nginx_segment]=$(per_request "http://127.0.0.1:$nginx_port" "$(signed "/live/$seg")" $nginx_workers)
seg_bytes=$(stat -c %s "$root/live/$seg")
playlist_bytes=$(stat -c %s "$root/live/media_0.m3u8")
kill "$pub" 2>/dev/null || true

# --- 1b. the 2-rung ladder -------------------------------------------------------------
serve_live ladder "720,360"
ladder_pid=$server_pid
input=$(live_input '{}')
uid2=$(echo "$input" | field 'r["uid"]')
key2=$(echo "$input" | field 'r["rtmps"]["streamKey"]')
pub=$(publish "$rtmp$key2")
bench_pids+=("$pub")
wait_playlist "$url/$uid2/manifest/media_2.m3u8"
echo "measuring Usher's ingest (copy + 720p and 360p)…" >&2
cpu[usher_ladder]=$(cpu_share "$ladder_pid")
kill "$pub" 2>/dev/null || true
kill "$server_pid" "$copy_pid" 2>/dev/null || true

# --- the references: the same packaging by hand, to files ------------------------------
reference() { # name extra-args... (the rest of Usher's command; output to a local dir)
  local name=$1 dir="$work/ref-$1"
  shift
  mkdir -p "$dir"
  "${pin_server[@]}" ffmpeg -v error -nostdin -re -i "$src" "$@" -f dash -seg_duration 2 -window_size 6 \
    -extra_window_size 4 -use_template 1 -use_timeline 1 -hls_playlist 1 -streaming 0 \
    "$dir/manifest.mpd" >/dev/null 2>&1 &
  local pid=$!
  bench_pids+=("$pid")
  echo "measuring ffmpeg by hand ($name)…" >&2
  cpu[ref_$name]=$(cpu_share "$pid")
  kill "$pid" 2>/dev/null || true
}
reference copy -map 0:v:0 -map '0:a:0?' -c:v:0 copy -c:a copy
x264() { echo "-c:v:$1 libx264 -preset:v:$1 veryfast -tune:v:$1 zerolatency -pix_fmt:v:$1 yuv420p -force_key_frames:v:$1 source"; }
# shellcheck disable=SC2046
reference ladder -map 0:v:0 -map 0:v:0 -map 0:v:0 -map '0:a:0?' -c:v:0 copy \
  $(x264 1) -filter:v:1 "scale=-2:'min(ih,720)'" -b:v:1 2800k -maxrate:v:1 4200k -bufsize:v:1 5600k \
  $(x264 2) -filter:v:2 "scale=-2:'min(ih,360)'" -b:v:2 800k -maxrate:v:2 1200k -bufsize:v:2 1600k \
  -c:a copy -adaptation_sets "id=0,streams=v id=1,streams=a"

python3 - "${cpu[usher_copy]}" "${cpu[ref_copy]}" "${cpu[usher_ladder]}" "${cpu[ref_ladder]}" \
  ${edge[usher_playlist]} ${edge[nginx_playlist]} ${edge[usher_segment]} ${edge[nginx_segment]} \
  "$seg_bytes" "$playlist_bytes" "$secs" <<'PY'
import sys
a = sys.argv[1:]
uc, rc, ul, rl = map(float, a[0:4])
upr, upc, npr, npc, usr, usc, nsr, nsc = map(float, a[4:12])
seg, pl, secs = int(a[12]), int(a[13]), a[14]
print(f"\nIngest CPU per 1080p30 stream (cores busy, over {secs} s; Usher = the server and its ffmpeg children):")
print("| packaging | Usher | ffmpeg by hand | Usher / by hand |")
print("|---|---|---|---|")
print(f"| copy (H.264/AAC as published) | {uc:.3f} | {rc:.3f} | {uc / rc:.2f} |")
print(f"| copy + 720p + 360p (--live-ladder 720,360) | {ul:.3f} | {rl:.3f} | {ul / rl:.2f} |")
print(f"\nEdge, live files at 64 connections (server on one core; playlist {pl} B, 2 s segment {seg} B):")
print("| request | Usher req/s | Usher CPU µs/req | nginx req/s | nginx CPU µs/req |")
print("|---|---|---|---|---|")
print(f"| media playlist (token) | {upr:.0f} | {upc:.1f} | {npr:.0f} | {npc:.1f} |")
print(f"| segment (token) | {usr:.0f} | {usc:.1f} | {nsr:.0f} | {nsc:.1f} |")
uv, nv = 2e6 / (upc + usc), 2e6 / (npc + nsc)
print(f"\nViewers one core serves (a playlist and a segment every 2 s): Usher {uv:.0f}, nginx {nv:.0f} ({uv / nv:.2f}x)")
PY
