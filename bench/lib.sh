# Setup shared by the bench scripts (sourced, not run): a release build, a work dir
# removed on exit together with every server started, an account, `usher serve`
# processes on port 0, and a packaged private video with a token.
#
# After `bench_build`: $usher. After `bench_workdir NAME`: $work. After
# `bench_account`: $acct_id, $api_token. After `bench_serve NAME [PREFIX…]`: $url and
# $server_pid (PREFIX, e.g. `taskset -c 0`, runs the server).

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_target=${CARGO_TARGET_DIR:-$bench_root/target}
bench_pids=()

bench_build() {
  "$bench_root/scripts/install-deps"
  (cd "$bench_root" && cargo build --release --quiet -p usher)
  usher="$bench_target/release/usher"
}

# Under target/: the files a benchmark writes sit on the filesystem of the build.
bench_workdir() {
  mkdir -p "$bench_target"
  work=$(mktemp -d -p "$bench_target" "bench-$1.XXXXXX")
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  rm -rf "$work"
}

bench_account() {
  local acct
  acct=$("$usher" account create --email bench@example.com --json --data-dir "$work/data")
  acct_id=$(echo "$acct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')
  api_token=$(echo "$acct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_token"])')
}

bench_serve() {
  local name=$1
  shift
  USHER_LOG=warn "$@" "$usher" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    >"$work/$name.out" 2>"$work/$name.err" &
  server_pid=$!
  bench_pids+=("$server_pid")
  for _ in $(seq 1 600); do grep -q 'usher listening on' "$work/$name.out" && break; sleep 0.1; done
  url=$(sed -n 's/^usher listening on //p' "$work/$name.out" | head -1)
  [ -n "$url" ] || { cat "$work/$name.err" >&2; exit 1; }
}

# The account's API on the server at $url, with its credentials.
bench_api() {
  local method=$1 path=$2
  shift 2
  curl -sf -X "$method" -H "Authorization: Bearer $api_token" "$@" \
    "$url/client/v4/accounts/$acct_id$path"
}

# 20 s of 720p H.264/AAC at ~1.3 Mbit/s (6 s segments of about 1.3 MB) into FILE.
bench_clip() {
  ffmpeg -v error -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 -t 20 \
    -c:v libx264 -preset veryfast -b:v 1300k -maxrate 1300k -bufsize 2600k -pix_fmt yuv420p \
    -c:a aac "$1"
}

# Uploads FILE, waits until it is ready, prints its uid.
bench_upload_ready() {
  local uid state
  uid=$(bench_api POST /stream -F "file=@$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["uid"])')
  for _ in $(seq 1 1200); do
    state=$(bench_api GET "/stream/$uid" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["status"]["state"])')
    [ "$state" = ready ] && break
    [ "$state" = error ] && { echo "packaging failed" >&2; exit 1; }
    sleep 0.2
  done
  echo "$uid"
}

# Makes the video private and prints a token for it.
bench_private_token() {
  bench_api POST "/stream/$1" -H 'Content-Type: application/json' -d '{"requireSignedURLs":true}' >/dev/null
  bench_api POST "/stream/$1/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["token"])'
}

# wrk and nginx (with its secure_link module) from Debian, if missing (root or sudo).
bench_need_wrk_nginx() {
  local need=() sudo=""
  command -v wrk >/dev/null || need+=(wrk)
  command -v nginx >/dev/null || need+=(nginx-light)
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  nginx -V 2>&1 | grep -q -- --with-http_secure_link_module ||
    { echo "this nginx lacks the secure_link module" >&2; exit 1; }
}

# The reference edge: nginx serving ROOT with secure_link as its docs show it (md5 of
# expiry + URI + client address, the expiry checked), one worker on core 0 when there
# are 2+ cores. EXTRA is more configuration inside `location /`. Sets $nginx_port and
# $nginx_pid.
bench_nginx() {
  local root=$1 extra=${2:-} affinity=""
  [ "$(nproc)" -ge 2 ] && affinity="worker_cpu_affinity 01;"
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
    root $root;
    location / {
      secure_link \$arg_md5,\$arg_expires;
      secure_link_md5 "\$secure_link_expires\$uri\$remote_addr usher-bench-secret";
      if (\$secure_link = "") { return 403; }
      if (\$secure_link = "0") { return 410; }
      $extra
    }
  }
}
NGINX
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log" &
  nginx_pid=$!
  bench_pids+=("$nginx_pid")
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" && break; sleep 0.05; done
}

# URI (with its leading /) signed for bench_nginx's secure_link until EXPIRES, for a
# client at 127.0.0.1.
bench_nginx_signed() {
  local md5
  md5=$(printf '%s' "$2$1127.0.0.1 usher-bench-secret" | openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =)
  echo "$1?md5=$md5&expires=$2"
}

# utime+stime clock ticks of PIDS, summed.
bench_cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}

# $work/rotate.lua: a wrk script sending the paths of the file $PATHS in turn.
bench_rotate_lua() {
  cat >"$work/rotate.lua" <<'LUA'
-- Sends the paths of the file PATHS in turn, one request each.
local reqs, i = {}, 0
init = function()
  for p in io.lines(os.getenv("PATHS")) do reqs[#reqs + 1] = wrk.format("GET", p) end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
LUA
}

# One wrk run of SECS seconds with CONNS connections against BASE, through the paths
# in PATHS_FILE (bench_rotate_lua first), measuring the CPU of SERVER_PIDS (a
# space-separated list); prefix the command with `$pin_client` as needed. Prints
# "req/s MiB/s p50_ms p99_ms cpu_us_per_req"; fails on any non-2xx answer.
bench_wrk() {
  local base=$1 conns=$2 secs=$3 paths_file=$4 pids=$5 before out after
  shift 5
  before=$(bench_cpu_ticks $pids)
  out=$(PATHS=$paths_file "$@" wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$work/rotate.lua" "$base")
  after=$(bench_cpu_ticks $pids)
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

# $pin_server and $pin_client (arrays): on 2+ cores, the server on core 0 and the load
# generator on core 1, so they do not take turns on one core; empty otherwise.
bench_pins() {
  pin_server=() pin_client=()
  if [ "$(nproc)" -ge 2 ]; then
    pin_server=(taskset -c 0); pin_client=(taskset -c 1)
  fi
}
