#!/usr/bin/env bash
# The bit-rate ladder (issue 13), measured side by side in one run:
#  1. the ladder's encode wall time: package() next to the same ffmpeg command run by
#     hand (bar: ≤ 1.1×) and to one ffmpeg process per rendition (one after another,
#     and all at once), for the remux ladder and the transcode ladder of a 20 s 1080p
#     H.264/AAC clip; then each rendition's bytes against its bit-rate target
#     (crates/usher-media/examples/ladder_vs_ffmpeg.rs);
#  2. the time from upload finished to `ready` for the same clip through a real server:
#     before the ladder (a release build of BEFORE_REV: the remux alone), with the
#     ladder (ready once it is all published), and with --progressive-publishing (ready
#     with the copied top; also the time until the whole ladder is published), the
#     three servers' uploads interleaved, one video packaging at a time.
#
#   bench/ladder.sh [RUNS (3)] [UPLOADS (3)]
#   BEFORE_REV=<commit> bench/ladder.sh   (default: 9485ecd, the commit before the ladder)
#   BEFORE_REV=none bench/ladder.sh       (no earlier build: the ladder alone, as all.sh runs it)
#
# The BEFORE_REV build goes to target/ladder-before, kept between runs: the first run
# builds it from scratch (several minutes on 2 cores). About 15 minutes in all.
set -euo pipefail
runs=${1:-3}
uploads=${2:-3}
before_rev=${BEFORE_REV:-9485ecd}
. "$(dirname "$0")/lib.sh"

bench_build
bench_workdir ladder

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores); ffmpeg $(ffmpeg -version | sed -n '1s/ffmpeg version \([^ ]*\).*/\1/p')"

# The code before the ladder, exported from its commit beside this tree (no worktree:
# nothing of the repository changes) and built with this tree's web assets.
if [ "$before_rev" != none ]; then
  mkdir -p "$work/before"
  git -C "$bench_root" archive "$before_rev" | tar -x -C "$work/before"
  ln -s "$bench_root/web/node_modules" "$work/before/web/node_modules"
  (cd "$work/before" && CARGO_TARGET_DIR="$bench_target/ladder-before" cargo build --release --quiet -p usher)
  usher_before="$bench_target/ladder-before/release/usher"
fi

printf '\n## Ladder encode: package() vs by hand vs one process per rendition\n\n'
(cd "$bench_root" && cargo run -q --release -p usher-media --example ladder_vs_ffmpeg -- "$runs" 2>/dev/null)

# A server NAME running BINARY on a data dir of its own, with an account; sets
# url_NAME, acct_NAME, token_NAME.
serve_as() {
  local name=$1 binary=$2
  shift 2
  local data="$work/data-$name" acct
  acct=$("$binary" account create --email "$name@example.com" --json --data-dir "$data")
  USHER_LOG=warn "$binary" serve --listen 127.0.0.1:0 --data-dir "$data" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  bench_pids+=("$!")
  for _ in $(seq 1 600); do grep -q 'usher listening on' "$work/$name.out" && break; sleep 0.1; done
  printf -v "url_$name" '%s' "$(sed -n 's/^usher listening on //p' "$work/$name.out" | head -1)"
  printf -v "acct_$name" '%s' "$(echo "$acct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')"
  printf -v "token_$name" '%s' "$(echo "$acct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_token"])')"
}
servers=()
if [ "$before_rev" != none ]; then
  serve_as before "$usher_before"
  servers+=("before|$url_before|$acct_before|$token_before")
fi
serve_as ladder "$usher"
serve_as progressive "$usher" --progressive-publishing

ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=frequency=440 -t 20 \
  -c:v libx264 -preset veryfast -g 60 -pix_fmt yuv420p -c:a aac "$work/clip.mp4"

printf '\n## Upload finished to ready: 20 s of 1080p30 H.264/AAC, %s MB\n\n' \
  "$(python3 -c "import os; print(round(os.path.getsize('$work/clip.mp4') / 1e6, 1))")"
python3 - "$work/clip.mp4" "$uploads" "${servers[@]}" \
  "ladder|$url_ladder|$acct_ladder|$token_ladder" \
  "progressive|$url_progressive|$acct_progressive|$token_progressive" <<'PY'
import json, statistics, sys, time, urllib.request

clip, uploads, servers = sys.argv[1], int(sys.argv[2]), [s.split("|") for s in sys.argv[3:]]
data = open(clip, "rb").read()
boundary = "usherladderbench"
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n"
        "Content-Type: video/mp4\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()

def call(url, acct, token, method, path, payload=None, headers=None):
    req = urllib.request.Request(f"{url}/client/v4/accounts/{acct}{path}", data=payload, method=method,
                                 headers={"Authorization": f"Bearer {token}", **(headers or {})})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.load(r)["result"]

def variants(url, uid):
    with urllib.request.urlopen(f"{url}/{uid}/manifest/video.m3u8", timeout=30) as r:
        return r.read().decode().count("#EXT-X-STREAM-INF")

results = {name: {"ready": [], "full": [], "renditions": []} for name, *_ in servers}
for _ in range(uploads):
    for name, url, acct, token in servers:
        uid = call(url, acct, token, "POST", "/stream", body,
                   {"Content-Type": f"multipart/form-data; boundary={boundary}"})["uid"]
        uploaded = time.monotonic()
        while True:
            state = call(url, acct, token, "GET", f"/stream/{uid}")["status"]["state"]
            if state == "ready":
                break
            assert state != "error", f"{name}: packaging failed"
            time.sleep(0.02)
        ready = time.monotonic()
        first = variants(url, uid)
        # With progressive publishing, the rest of the ladder follows; wait for it so
        # that the next upload has the machine to itself.
        deadline = ready + 600
        while name == "progressive" and variants(url, uid) < 5:
            assert time.monotonic() < deadline, "the rest of the ladder never came"
            time.sleep(0.05)
        results[name]["ready"].append(ready - uploaded)
        results[name]["full"].append(time.monotonic() - uploaded)
        results[name]["renditions"].append((first, variants(url, uid)))
        print(f"{name}: ready {ready - uploaded:.2f} s with {first} renditions, "
              f"{variants(url, uid)} after {time.monotonic() - uploaded:.2f} s", file=sys.stderr)

print(f"median of {uploads} uploads per server, interleaved")
print("| server | renditions when ready | upload finished → ready, s | → whole ladder published, s | runs (ready) |")
print("|---|---|---|---|---|")
for name, *_ in servers:
    r = results[name]
    first, last = r["renditions"][-1]
    print(f"| {name} | {first} (then {last}) | {statistics.median(r['ready']):.2f} | "
          f"{statistics.median(r['full']):.2f} | {', '.join(f'{x:.2f}' for x in r['ready'])} |")
PY
