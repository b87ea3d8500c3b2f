#!/usr/bin/env bash
# Where a small edge response's CPU goes: for one cached file requested with a token,
# allocations per request (uprobes on glibc's malloc/realloc, counted by perf), system
# calls per request (strace -c) and the hottest functions (perf record). With a second
# binary (e.g. a build of an earlier commit) both are profiled on the same data, one
# after the other.
#
#   bench/edge-profile.sh [FILE (manifest/v0/init.mp4)] [CONNS (256)] [OTHER_USHER_BINARY]
#
# Needs root (uprobes, perf, strace) and Debian's linux-perf and strace.
set -euo pipefail
file=${1:-manifest/v0/init.mp4}
conns=${2:-256}
other=${3:-}
. "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "needs wrk (bench/edge-vs-nginx.sh installs it)" >&2; exit 1; }
command -v perf >/dev/null && command -v strace >/dev/null ||
  { echo "needs perf and strace: apt-get install linux-perf strace" >&2; exit 1; }

bench_build
bench_workdir edge-profile
bench_account
bench_serve setup
bench_clip "$work/clip.mp4"
uid=$(bench_upload_ready "$work/clip.mp4")
token=$(bench_private_token "$uid")
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true

libc=$(ldd "$usher" | awk '/libc.so/{print $3}')
for f in malloc realloc; do perf probe -q -x "$libc" -a "$f" 2>/dev/null || true; done

profile() { # binary -> prints its breakdown
  local bin=$1 out pid reqs
  USHER_LOG=info taskset -c 0 "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    >"$work/p.out" 2>"$work/p.err" &
  pid=$!
  bench_pids+=("$pid")
  for _ in $(seq 1 600); do grep -q 'usher listening on' "$work/p.out" && break; sleep 0.1; done
  url=$(sed -n 's/^usher listening on //p' "$work/p.out" | head -1)
  curl -sf -o /dev/null "$url/$token/$file"
  load() { taskset -c 1 wrk -t1 -c"$conns" -d"$1s" "$url/$token/$file" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p'; }
  load 2 >/dev/null
  echo "== $bin: $file, $conns connections"
  perf stat -x, -e probe_libc:malloc,probe_libc:realloc -p "$pid" -o "$work/allocs" -- sleep 4 &
  sleep 0.5; reqs=$(load 3); wait $!
  awk -F, -v n="$reqs" '/probe_libc/{split($3, e, ":"); printf "%s per request: %.1f\n", e[2], $1 / n}' "$work/allocs"
  timeout -s INT 4.5 strace -c -f -p "$pid" -o "$work/strace" 2>/dev/null &
  sleep 0.5; reqs=$(load 3); wait $! || true
  awk -v n="$reqs" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {printf "syscall %s per request: %.2f\n", $NF, $4 / n}' "$work/strace" |
    sort -t: -k2 -rn | head -6 || true
  perf record -q -e cpu-clock -F 2000 -p "$pid" -o "$work/perf.data" -- sleep 3 2>/dev/null &
  sleep 0.2; load 3 >/dev/null; wait $! || true
  echo "share of the server's CPU by where it runs:"
  perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -6 || true
  echo "hottest functions (share of the server's CPU):"
  perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -25 | cut -c1-150 || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
profile "$usher"
[ -n "$other" ] && profile "$other"
for f in malloc realloc; do perf probe -q -d "probe_libc:$f" 2>/dev/null || true; done
exit 0
