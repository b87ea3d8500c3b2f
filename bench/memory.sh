#!/usr/bin/env bash
# Server memory (SPEC §6: bounded and flat; idle connections cost kilobytes): RSS when
# idle, with 1,000 idle keep-alive connections, and the peak during a 1 GiB upload
# (`usher upload`, tus) and a 1 GiB download (the MP4 download of a 1 GiB video,
# streamed from disk). Prints one table.
#
#   bench/memory.sh [GIB (1)]
set -euo pipefail
gib=${1:-1}
. "$(dirname "$0")/lib.sh"

bench_build
bench_workdir memory
bench_account
export USHER_ACCOUNT=$acct_id USHER_TOKEN=$api_token XDG_STATE_HOME="$work/state"
bench_serve usher

rss() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$server_pid/status"; }
# Samples RSS every 50 ms while a command runs (its stdout into the file named first);
# prints the largest (KiB).
peak_during() {
  local out=$1 max=0 r pid
  shift
  "$@" >"$out" & pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    r=$(rss); [ "$r" -gt "$max" ] && max=$r
    sleep 0.05
  done
  wait "$pid"
  echo "$max"
}

sleep 1
idle=$(rss)

# 1,000 idle keep-alive connections, each after one real request.
conns_rss=$(python3 - "$url" "$server_pid" <<'PY'
import socket, sys, time
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1]); pid = sys.argv[2]
socks = []
for _ in range(1000):
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(f"GET /healthz-nothing HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
    socks.append(s)
for s in socks:
    s.recv(65536)
time.sleep(1)
rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
print(rss)
for s in socks:
    s.close()
PY
)

# A video of about GIB GiB: a short 1080p clip (near-lossless but plain High profile,
# so it is remuxed and its MP4 download is as large) looped by stream copy.
ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine -t 10 \
  -c:v libx264 -preset ultrafast -qp 1 -pix_fmt yuv420p -c:a aac "$work/piece.mp4"
piece=$(stat -c %s "$work/piece.mp4")
loops=$(( (gib * 1024 * 1024 * 1024 + piece - 1) / piece - 1 ))
ffmpeg -v error -stream_loop "$loops" -i "$work/piece.mp4" -c copy "$work/big.mp4"
size=$(stat -c %s "$work/big.mp4")

before_up=$(rss)
up_peak=$(peak_during "$work/video.json" "$usher" upload "$work/big.mp4" --server "$url" --json 2>"$work/upload.err")
uid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["uid"])' "$work/video.json")
bench_api POST "/stream/$uid/downloads" >/dev/null
before_down=$(rss)
down_peak=$(peak_during /dev/null curl -sf -o /dev/null "$url/$uid/downloads/default.mp4")
mp4=$(find "$work/data/media/videos/$uid" -name default.mp4 -printf '%s\n' | head -1)

python3 - "$idle" "$conns_rss" "$size" "$before_up" "$up_peak" "$mp4" "$before_down" "$down_peak" "$(hwm)" <<'PY'
import sys
idle, conns, size, b_up, up, mp4, b_down, down, hwm = map(int, sys.argv[1:])
mib = lambda k: f"{k / 1024:.1f}"
print("| case | server RSS MiB |")
print("|---|---|")
print(f"| idle | {mib(idle)} |")
print(f"| 1,000 idle keep-alive connections | {mib(conns)} ({(conns - idle) / 1000:.1f} KiB each) |")
print(f"| during a {size / 2**30:.2f} GiB upload (peak; before {mib(b_up)}) | {mib(up)} |")
print(f"| during a {mp4 / 2**30:.2f} GiB MP4 download (peak; before {mib(b_down)}) | {mib(down)} |")
print(f"| peak over the whole run (VmHWM, includes packaging) | {mib(hwm)} |")
PY
