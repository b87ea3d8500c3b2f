#!/usr/bin/env bash
# Edge throughput: the same segment served for a token (private video: signature,
# claims and policy checked on every request) and for a uid (public video), in one run,
# interleaved A/B/A/B so machine drift hits both alike. Prints req/s and MiB/s medians.
#
#   bench/edge-token-vs-uid.sh [SECONDS_PER_RUN (8)] [REPS (3)] [CONNECTIONS (64)]
#
# Needs wrk (apt install wrk). On a machine with 2+ cores the server is pinned to core
# 0 and wrk to core 1.
set -euo pipefail
secs=${1:-8}
reps=${2:-3}
conns=${3:-64}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"

bench_pins

bench_build
bench_workdir token-vs-uid
bench_account
bench_serve usher "${pin_server[@]}"
bench_clip "$work/clip.mp4"
public=$(bench_upload_ready "$work/clip.mp4")
private=$(bench_upload_ready "$work/clip.mp4")
token=$(bench_private_token "$private")

# The media segment closest to 1.3 MB, and the init segment.
seg=$(cd "$work/data" && find . -path "*/$public/*/manifest/v0/seg_*.m4s" -printf '%s %f\n' |
  awk '{d=$1-1300000; if (d<0) d=-d; print d, $1, $2}' | sort -n | head -1)
seg_size=$(echo "$seg" | cut -d' ' -f2); seg_name=$(echo "$seg" | cut -d' ' -f3)
init_size=$(cd "$work/data" && find . -path "*/$public/*/manifest/v0/init.mp4" -printf '%s\n' | head -1)

bench_rotate_lua
run() { # name path -> "req/s p50_ms p99_ms"
  echo "$2" >"$work/path.$1"
  bench_wrk "$url" "$conns" "$secs" "$work/path.$1" "$server_pid" "${pin_client[@]}" |
    awk '{print $1, $3, $4}'
}

declare -A results
cases=(uid_seg token_seg uid_init token_init)
for rep in $(seq 1 "$reps"); do
  for c in "${cases[@]}"; do
    case $c in
      uid_seg) u="/$public/manifest/v0/$seg_name" ;;
      token_seg) u="/$token/manifest/v0/$seg_name" ;;
      uid_init) u="/$public/manifest/v0/init.mp4" ;;
      token_init) u="/$token/manifest/v0/init.mp4" ;;
    esac
    results[$c]+="$(run "$c" "$u");"
    echo "rep $rep $c: $(echo "${results[$c]}" | tr ';' '\n' | grep . | tail -1)" >&2
  done
done

python3 - "$seg_size" "$init_size" "$conns" "${results[uid_seg]}" "${results[token_seg]}" "${results[uid_init]}" "${results[token_init]}" <<'PY'
import statistics, sys
seg, init, conns = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def parse(s): return [tuple(map(float, r.split())) for r in s.split(";") if r]
rows = dict(zip(["uid_seg", "token_seg", "uid_init", "token_init"], map(parse, sys.argv[4:8])))
med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in rows.items()}
print(f"\n{conns} keep-alive connections, medians of {len(rows['uid_seg'])} interleaved runs")
print(f"{'case':<28}{'req/s':>10}{'MiB/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
for k, label, size in [("uid_seg", f"segment {seg} B, uid", seg), ("token_seg", f"segment {seg} B, token", seg),
                       ("uid_init", f"init {init} B, uid", init), ("token_init", f"init {init} B, token", init)]:
    r, p50, p99 = med[k]
    print(f"{label:<28}{r:>10.0f}{r*size/2**20:>10.1f}{p50:>9.2f}{p99:>9.2f}")
print(f"token/uid: segment {med['token_seg'][0]/med['uid_seg'][0]:.2f}, init {med['token_init'][0]/med['uid_init'][0]:.2f}")
PY
