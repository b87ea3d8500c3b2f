#!/usr/bin/env bash
# A soak: one release `usher serve` on its embedded defaults under mixed load for
# MINUTES (default 30) — players fetching manifests and segments with valid tokens from
# several loopback addresses, clients with invalid and expired tokens, resumable uploads
# cut off mid-request and resumed, signing keys revoked and videos edited while they
# play. Every 10 s it samples the server's RSS and open file descriptors. At the end it
# prints the samples and the counts the bar is about: 5xx answers, refused valid
# tokens, lost uploads, revocations slower than 1 s; exits non-zero if any is not zero.
#
#   bench/soak.sh [MINUTES]
set -euo pipefail
minutes=${1:-30}
. "$(dirname "$0")/lib.sh"

bench_build
bench_workdir soak
bench_account
bench_serve soak
venv="$bench_root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$bench_root/tests/sdk/requirements.txt"

for i in 1 2; do
  ffmpeg -v error -f lavfi -i "testsrc2=size=640x360:rate=30" -f lavfi -i "sine=frequency=$((300 * i))" \
    -t 12 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac "$work/clip$i.mp4"
done

"$venv/bin/python" "$bench_root/bench/soak.py" --usher "$usher" --url "$url" --pid "$server_pid" \
  --account "$acct_id" --token "$api_token" --work "$work" --minutes "$minutes" \
  --clips "$work/clip1.mp4" "$work/clip2.mp4"
