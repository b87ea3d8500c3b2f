#!/usr/bin/env bash
# Scale-out figures (SPEC §5), on PostgreSQL + an S3 server started here by
# scripts/test-services: one `api`, one `worker` and two `edge` processes.
#
# 1. Revocation across processes: for each try a fresh key signs a token offline, both
#    edges serve a segment for it (caches warm), the key is revoked through the API;
#    the time from the DELETE's answer until *both* edges refuse. Median and max.
# 2. Edge throughput from S3 vs from local files, interleaved A/B: a second, local
#    `usher serve` (SQLite + files) holds the same clip. Each case twice: with the
#    default in-memory media cache (warm: the store is read once per file) and with
#    `--media-cache-mib 0` (every request reads the store: S3 over HTTP vs the disk).
#
#   bench/scale-out.sh [TRIES (20)] [SECONDS_PER_RUN (6)] [REPS (3)] [CONNECTIONS (64)]
set -euo pipefail
tries=${1:-20}
secs=${2:-6}
reps=${3:-3}
conns=${4:-64}
. "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }

bench_pins

bench_build
bench_workdir scale-out
# The cluster runs as the postgres user, which must reach its directory.
chmod 755 "$work"
exports=$("$bench_root/scripts/test-services" start "$work/svc")
eval "$exports"
stop_services() { "$bench_root/scripts/test-services" stop "$work/svc" >/dev/null 2>&1 || true; bench_cleanup; }
trap stop_services EXIT

db="bench_$(date +%s)"
psql "$USHER_TEST_POSTGRES_URL" -q -c "CREATE DATABASE $db"
scaled=(--database-url "${USHER_TEST_POSTGRES_URL%/*}/$db" --media-url "$USHER_TEST_S3_URL/$db")

# $1 name, $2 data dir, then flags; sets $url.
serve() {
  local name=$1 dir=$2
  shift 2
  USHER_LOG=warn "${pin_server[@]}" "$usher" serve --listen 127.0.0.1:0 --data-dir "$dir" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  bench_pids+=("$!")
  for _ in $(seq 1 600); do grep -q 'usher listening on' "$work/$name.out" && break; sleep 0.1; done
  url=$(sed -n 's/^usher listening on //p' "$work/$name.out" | head -1)
  [ -n "$url" ] || { cat "$work/$name.err" >&2; exit 1; }
}

acct=$("$usher" account create --email bench@example.com --json --data-dir "$work/api" "${scaled[@]}")
serve api "$work/api" --role api "${scaled[@]}"; api_url=$url
serve worker "$work/worker" --role worker "${scaled[@]}"
serve edge1 "$work/edge1" --role edge "${scaled[@]}"; edge1=$url
serve edge2 "$work/edge2" --role edge --media-cache-mib 0 "${scaled[@]}"; edge2=$url

local_acct=$("$usher" account create --email bench@example.com --json --data-dir "$work/local")
serve local "$work/local"; local_url=$url
serve local-cold "$work/local" --media-cache-mib 0 --role edge; local_cold=$url

bench_clip "$work/clip.mp4"

python3 - "$usher" "$work/clip.mp4" "$tries" "$secs" "$reps" "$conns" "${pin_client[*]:-}" \
  "$api_url" "$acct" "$edge1" "$edge2" "$local_url" "$local_acct" "$local_cold" <<'PY'
import http.client, json, re, statistics, subprocess, sys, time, urllib.request
from urllib.parse import urlsplit
(usher, clip, tries, secs, reps, conns, pin, api_url, acct, edge1, edge2,
 local_url, local_acct, local_cold) = sys.argv[1:15]
tries, reps = int(tries), int(reps)

class Api:
    def __init__(self, url, acct):
        a = json.loads(acct)
        self.base = f"{url}/client/v4/accounts/{a['account_id']}"
        self.auth = {"Authorization": f"Bearer {a['api_token']}"}
    def call(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers={**self.auth, **(headers or {})})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.load(r)["result"]
    def upload_ready(self, clip):
        b = "usherbench"
        body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.mp4\"\r\n\r\n".encode()
                + open(clip, "rb").read() + f"\r\n--{b}--\r\n".encode())
        uid = self.call("POST", "/stream", body, {"Content-Type": f"multipart/form-data; boundary={b}"})["uid"]
        deadline = time.monotonic() + 600
        while (s := self.call("GET", f"/stream/{uid}")["status"]["state"]) != "ready":
            assert s != "error" and time.monotonic() < deadline, f"video {s}"
            time.sleep(0.2)
        self.call("POST", f"/stream/{uid}", json.dumps({"requireSignedURLs": True}).encode(),
                  {"Content-Type": "application/json"})
        key = self.call("POST", "/stream/keys")
        return uid, key

def sign(key, uid):
    return subprocess.run([usher, "token", "sign", "--key-id", key["id"], "--pem", key["pem"],
                           "--video", uid, "--ttl", "3600"], capture_output=True, text=True,
                          check=True).stdout.strip()

api, local = Api(api_url, acct), Api(local_url, local_acct)
uid, _ = api.upload_ready(clip)
local_uid, local_key = local.upload_ready(clip)

# --- 1. revocation reaching both edges ---------------------------------------------
conns_ = {u: http.client.HTTPConnection(urlsplit(u).hostname, urlsplit(u).port, timeout=30)
          for u in (edge1, edge2)}
def status(edge, path):
    c = conns_[edge]
    c.request("GET", path)
    r = c.getresponse(); r.read()
    return r.status

lat = []
for _ in range(tries):
    key = api.call("POST", "/stream/keys")
    path = f"/{sign(key, uid)}/manifest/v0/init.mp4"
    for e in (edge1, edge2):
        assert status(e, path) == 200 and status(e, path) == 200
    api.call("DELETE", f"/stream/keys/{key['id']}")
    t = time.monotonic()
    pending = {edge1, edge2}
    while pending:
        pending = {e for e in pending if status(e, path) != 401}
        assert time.monotonic() - t < 30, "never refused"
    lat.append((time.monotonic() - t) * 1000)

# --- 2. throughput: S3 vs local, warm and cold --------------------------------------
key = api.call("POST", "/stream/keys")
tok, ltok = sign(key, uid), sign(local_key, local_uid)
def size(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return len(r.read())
seg = "manifest/v0/seg_00002.m4s"
cases = [
    ("segment", "S3, memory cache", f"{edge1}/{tok}/{seg}"),
    ("segment", "local, memory cache", f"{local_url}/{ltok}/{seg}"),
    ("segment", "S3, no cache", f"{edge2}/{tok}/{seg}"),
    ("segment", "local, no cache", f"{local_cold}/{ltok}/{seg}"),
    ("init", "S3, memory cache", f"{edge1}/{tok}/manifest/v0/init.mp4"),
    ("init", "local, memory cache", f"{local_url}/{ltok}/manifest/v0/init.mp4"),
    ("init", "S3, no cache", f"{edge2}/{tok}/manifest/v0/init.mp4"),
    ("init", "local, no cache", f"{local_cold}/{ltok}/manifest/v0/init.mp4"),
]
sizes = {c[2]: size(c[2]) for c in cases}
def wrk(url):
    cmd = (pin.split() if pin else []) + ["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency", url]
    t = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", t):
        sys.exit(f"{url}: {m.group(1)} non-2xx responses")
    def ms(p):
        v, u = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % p, t).groups()
        return float(v) / 1000 if u == "us" else float(v) * 1000 if u == "s" else float(v)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)), ms(50), ms(99)
runs = {c: [] for c in cases}
for rep in range(reps):
    for c in cases:
        runs[c].append(wrk(c[2]))
        print(f"rep {rep + 1} {c[0]} {c[1]}: {runs[c][-1]}", file=sys.stderr)

print(f"revocation reaching both edges, {tries} tries: median {statistics.median(lat):.0f} ms, "
      f"max {max(lat):.0f} ms (bar: 1000 ms)")
print(f"\nedge throughput, {conns} connections, medians of {reps} interleaved runs of {secs} s")
print("| file | store | req/s | MiB/s | p50 ms | p99 ms | S3/local req/s |")
print("|---|---|---|---|---|---|---|")
med = {c: [statistics.median(r[i] for r in runs[c]) for i in range(3)] for c in cases}
for i, c in enumerate(cases):
    r, p50, p99 = med[c]
    ratio = f"{r / med[cases[i + 1]][0]:.2f}" if c[1].startswith("S3") else ""
    print(f"| {c[0]} ({sizes[c[2]]} B) | {c[1]} | {r:.0f} | {r * sizes[c[2]] / 2**20:.1f} | "
          f"{p50:.2f} | {p99:.2f} | {ratio} |")
PY
