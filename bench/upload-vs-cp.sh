#!/usr/bin/env bash
# Upload throughput over loopback: `usher upload` (tus, through a real server that
# fsyncs as it acknowledges) next to `cp` of the same file onto the same filesystem,
# interleaved A/B/A/B so machine drift hits both alike, with the server's peak RSS.
#
#   bench/upload-vs-cp.sh [MIB (300)] [REPS (3)]
set -euo pipefail
mib=${1:-300}
reps=${2:-3}
. "$(dirname "$0")/lib.sh"

bench_build
bench_workdir upload  # the file, its copy and the data dir on one filesystem
head -c "$((mib * 1024 * 1024))" /dev/urandom >"$work/file.bin"
bench_account
export USHER_ACCOUNT=$acct_id USHER_TOKEN=$api_token XDG_STATE_HOME="$work/state"
bench_serve usher

secs() { python3 -c 'import sys,time; print(f"{time.monotonic():.6f}")'; }
run_cp() { local t0 t1; t0=$(secs); cp "$work/file.bin" "$work/copy.bin"; sync "$work/copy.bin"; t1=$(secs); rm -f "$work/copy.bin"; echo "$t0 $t1"; }
run_upload() {
  local t0 t1; t0=$(secs)
  "$usher" upload "$work/file.bin" --server "$url" --no-wait --json >/dev/null 2>"$work/upload.err"
  t1=$(secs); echo "$t0 $t1"
}
cp_times=() up_times=()
for _ in $(seq 1 "$reps"); do
  read -r a b < <(run_cp); cp_times+=("$(python3 -c "print($b-$a)")")
  read -r a b < <(run_upload); up_times+=("$(python3 -c "print($b-$a)")")
done
peak=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
python3 - "$mib" "$peak" "${cp_times[*]}" "${up_times[*]}" <<'PY'
import statistics, sys
mib, peak = int(sys.argv[1]), int(sys.argv[2])
cp = [float(x) for x in sys.argv[3].split()]
up = [float(x) for x in sys.argv[4].split()]
mc, mu = statistics.median(cp), statistics.median(up)
print(f"{mib} MiB, median of {len(cp)} interleaved runs")
print(f"| case | seconds | MiB/s |")
print(f"|---|---|---|")
print(f"| cp + sync (reference) | {mc:.2f} | {mib / mc:.0f} |")
print(f"| usher upload (tus over loopback) | {mu:.2f} | {mib / mu:.0f} |")
print(f"upload / cp time: {mu / mc:.2f}x; server peak RSS {peak / 1024:.1f} MiB")
PY
