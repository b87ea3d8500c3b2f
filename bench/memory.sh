#!/usr/bin/env bash
# Server memory (SPEC §6: bounded and flat; idle connections cost kilobytes): RSS when
# idle, with 1,000 idle keep-alive connections, and the peak during a 1 GiB upload
# (`usher upload`, tus) and a 1 GiB download (the MP4 download of a 1 GiB video,
# streamed from disk). Prints one table.
#
#   bench/memory.sh [GIB (1)]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gib=${1:-1}
target=${CARGO_TARGET_DIR:-$root/target}

"$root/scripts/install-deps"
(cd "$root" && cargo build --release --quiet -p usher)
usher="$target/release/usher"

mkdir -p "$target"
work=$(mktemp -d -p "$target" bench-memory.XXXXXX)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

acct=$("$usher" account create --email bench@example.com --json --data-dir "$work/data")
export USHER_ACCOUNT USHER_TOKEN XDG_STATE_HOME="$work/state"
USHER_ACCOUNT=$(echo "$acct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')
USHER_TOKEN=$(echo "$acct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_token"])')
USHER_LOG=warn "$usher" serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 1 600); do grep -q 'usher listening on' "$work/out" && break; sleep 0.1; done
url=$(sed -n 's/^usher listening on //p' "$work/out" | head -1)
[ -n "$url" ] || { cat "$work/err" >&2; exit 1; }
api="$url/client/v4/accounts/$USHER_ACCOUNT"
auth=(-H "Authorization: Bearer $USHER_TOKEN")

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
curl -sf "${auth[@]}" -X POST "$api/stream/$uid/downloads" >/dev/null
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
