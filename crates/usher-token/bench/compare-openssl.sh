#!/usr/bin/env bash
# Compare Usher's RS256 token throughput with `openssl speed rsa2048`, one core each.
#
# The quality bar (SPEC §6): token sign and verify >= 90% of OpenSSL per core.
# Builds examples/speed.rs in release mode, then runs it and
# `openssl speed -seconds S -multi 1 rsa2048` alternately (A/B/A/B…, REPS times each),
# so that background load on a shared machine hits both sides alike, and prints the
# medians. Usher's "verify" is the full edge path (parse + RSA + claims JSON);
# OpenSSL's is the bare RSA operation, so the verify ratio is conservative.
#
# Usage: crates/usher-token/bench/compare-openssl.sh [REPS (default 3)] [SECONDS (default 3)]
# Honours CARGO_TARGET_DIR. Needs cargo, openssl and python3 (for the JSON/median bits).
set -euo pipefail

reps=${1:-3}
seconds=${2:-3}
crate_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$crate_dir"

command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }

echo "building examples/speed.rs (release)…" >&2
cargo build --quiet --release -p usher-token --example speed
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
speed="$target_dir/release/examples/speed"
[[ -x "$speed" ]] || { echo "no binary at $speed" >&2; exit 1; }

# Prints "SIGN VERIFY" (ops/s) from `openssl speed` output on stdin. The summary row
# looks like "rsa 2048 bits 0.000260s 0.000018s   3846.2  55833.3" (last two columns
# are sign/s and verify/s); with -multi, OpenSSL also prints "+F2:n:2048:SIGN:VERIFY",
# used as a fallback if the table layout ever changes.
parse_openssl() {
    awk '
        /^rsa[ \t]+2048[ \t]+bits/ { table = $(NF-1) " " $NF }
        /^\+F2:/ { split($0, f, ":"); if (f[3] == 2048) mr = f[4] + 0 " " f[5] + 0 }
        END {
            if (table != "") print table
            else if (mr != "") print mr
            else exit 1
        }'
}

us_sign=(); us_verify=(); os_sign=(); os_verify=()
for ((i = 1; i <= reps; i++)); do
    echo "round $i/$reps: usher…" >&2
    out=$("$speed" "$seconds")
    us_sign+=("$(awk '$1 == "sign/s" { print $2 }' <<<"$out")")
    us_verify+=("$(awk '$1 == "verify/s" { print $2 }' <<<"$out")")

    echo "round $i/$reps: openssl…" >&2
    read -r s v < <(openssl speed -seconds "$seconds" -multi 1 rsa2048 2>/dev/null | parse_openssl) ||
        { echo "could not parse openssl speed output" >&2; exit 1; }
    os_sign+=("$s"); os_verify+=("$v")
done

python3 - "${us_sign[*]}" "${os_sign[*]}" "${us_verify[*]}" "${os_verify[*]}" <<'PY'
import statistics, sys

us_sign, os_sign, us_verify, os_verify = ([float(x) for x in arg.split()] for arg in sys.argv[1:5])
print()
print(f"samples  usher sign/s:   {' '.join(f'{x:.0f}' for x in us_sign)}")
print(f"         openssl sign/s: {' '.join(f'{x:.0f}' for x in os_sign)}")
print(f"         usher verify/s: {' '.join(f'{x:.0f}' for x in us_verify)}")
print(f"       openssl verify/s: {' '.join(f'{x:.0f}' for x in os_verify)}")
print()
print(f"{'median':8} {'usher':>10} {'openssl':>10} {'ratio':>7}")
for name, us, os_ in (("sign/s", us_sign, os_sign), ("verify/s", us_verify, os_verify)):
    u, o = statistics.median(us), statistics.median(os_)
    print(f"{name:8} {u:10.0f} {o:10.0f} {u / o:7.2f}")
PY
