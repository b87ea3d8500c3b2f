#!/usr/bin/env bash
# Edge throughput against the reference (SPEC §6): token-checked requests through Usher
# next to nginx serving the very same files with secure_link (md5 of expiry + URI +
# client address, and the expiry checked), same machine, same load, one run. Three
# files — a ~1.3 MB media segment, the init segment and a variant manifest — at each
# number of keep-alive connections, nginx and Usher interleaved (A/B/A/B…) REPS times;
# prints medians of req/s, MiB/s, p50/p99 latency and server CPU per request, and the
# Usher/nginx ratio.
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

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
nginx -V 2>&1 | grep -q -- --with-http_secure_link_module ||
  { echo "this nginx lacks the secure_link module" >&2; exit 1; }

pin_server=() pin_client=() affinity=""
if [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0); pin_client=(taskset -c 1); affinity="worker_cpu_affinity 01;"
fi

# --- Usher, with one private video -------------------------------------------------
bench_build
bench_workdir edge-vs-nginx
bench_account
bench_serve usher "${pin_server[@]}"
usher_pid=$server_pid
bench_clip "$work/clip.mp4"
uid=$(bench_upload_ready "$work/clip.mp4")
token=$(bench_private_token "$uid")
gen=$(find "$work/data/media/videos/$uid" -mindepth 1 -maxdepth 1 -type d | head -1)
seg=$(cd "$gen" && find manifest/v0 -name 'seg_*.m4s' -printf '%s %p\n' |
  awk '{d=$1-1300000; if (d<0) d=-d; print d, $1, $2}' | sort -n | head -1 | cut -d' ' -f3)
files=("$seg" manifest/v0/init.mp4 manifest/v0/index.m3u8)

# --- nginx on the same files, secure_link as its docs show it ------------------------
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<NGINX
user root;
worker_processes 1;
$affinity
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 75s;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
  types { video/iso.segment m4s; video/mp4 mp4; application/vnd.apple.mpegurl m3u8; }
  server {
    listen 127.0.0.1:$nginx_port;
    root $gen;
    location / {
      secure_link \$arg_md5,\$arg_expires;
      secure_link_md5 "\$secure_link_expires\$uri\$remote_addr usher-bench-secret";
      if (\$secure_link = "") { return 403; }
      if (\$secure_link = "0") { return 410; }
    }
  }
}
NGINX
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log" &
nginx_pid=$!
bench_pids+=("$nginx_pid")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" && break; sleep 0.05; done
expires=$(( $(date +%s) + 86400 ))
nginx_url() { # path -> signed nginx URL for a client at 127.0.0.1
  local md5
  md5=$(printf '%s' "$expires/$1127.0.0.1 usher-bench-secret" | openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =)
  echo "http://127.0.0.1:$nginx_port/$1?md5=$md5&expires=$expires"
}
for f in "${files[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$(nginx_url "$f")")
  [ "$code" = 200 ] || { echo "nginx refused its own signed URL for $f ($code)" >&2; cat "$work/nginx/logs/error.log" >&2; exit 1; }
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nginx_port/$f")" = 403 ] ||
    { echo "nginx served $f without a signature" >&2; exit 1; }
  cmp -s <(curl -s "$(nginx_url "$f")") <(curl -s "$url/$token/$f") ||
    { echo "nginx and Usher serve different bytes for $f" >&2; exit 1; }
done

# --- load ----------------------------------------------------------------------------
cpu_ticks() { # pids... -> utime+stime clock ticks summed
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
server_pids() { # which -> pids doing the serving
  if [ "$1" = nginx ]; then pgrep -P "$nginx_pid"; else echo "$usher_pid"; fi
}
run() { # which conns url -> "req/s MiB/s p50_ms p99_ms cpu_us_per_req"
  local pids before out after
  pids=$(server_pids "$1")
  before=$(cpu_ticks $pids)
  out=$("${pin_client[@]}" wrk -t1 -c"$2" -d"${secs}s" --latency "$3")
  after=$(cpu_ticks $pids)
  echo "$out" | python3 -c '
import re, sys
t, ticks, hz = sys.stdin.read(), int(sys.argv[1]), int(sys.argv[2])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
reqs = int(re.search(r"(\d+) requests in", t).group(1))
m = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", t)
mib = float(m.group(1)) * {"B": 2**-20, "KB": 2**-10, "MB": 1, "GB": 2**10}[m.group(2)]
def lat(p):
    m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % p, t)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if errs: sys.exit("non-2xx responses: " + errs.group(1))
print(rps, mib, lat(50), lat(99), ticks / hz * 1e6 / max(reqs, 1))' "$((after - before))" "$(getconf CLK_TCK)"
}

results="$work/results"
: >"$results"
for rep in $(seq 1 "$reps"); do
  for conns in $conns_list; do
    for f in "${files[@]}"; do
      for which in nginx usher; do
        if [ "$which" = nginx ]; then u=$(nginx_url "$f"); else u="$url/$token/$f"; fi
        r=$(run "$which" "$conns" "$u")
        echo "$f $conns $which $r" >>"$results"
        echo "rep $rep: $f c=$conns $which: $r" >&2
      done
    done
  done
done

python3 - "$results" "$gen" "$secs" "$reps" <<'PY'
import os, statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    f, conns, which, *vals = line.split()
    rows[(f, int(conns), which)].append(tuple(map(float, vals)))
gen, secs, reps = sys.argv[2], sys.argv[3], sys.argv[4]
print(f"\nmedians of {reps} interleaved runs of {secs} s; servers on core 0, wrk on core 1")
print("| file | conns | server | req/s | MiB/s | p50 ms | p99 ms | CPU µs/req | Usher/nginx req/s |")
print("|---|---|---|---|---|---|---|---|---|")
for (f, conns) in sorted({(k[0], k[1]) for k in rows}, key=lambda k: (k[1], k[0])):
    size = os.path.getsize(os.path.join(gen, f))
    med = {w: [statistics.median(r[i] for r in rows[(f, conns, w)]) for i in range(5)] for w in ("nginx", "usher")}
    ratio = med["usher"][0] / med["nginx"][0]
    for w in ("nginx", "usher"):
        rps, mib, p50, p99, cpu = med[w]
        label = f"{os.path.basename(f)} ({size} B)"
        print(f"| {label} | {conns} | {w} | {rps:.0f} | {mib:.1f} | {p50:.2f} | {p99:.2f} | {cpu:.1f} | {f'{ratio:.2f}' if w == 'usher' else ''} |")
PY
