#!/usr/bin/env bash
# Every SPEC §6 benchmark, one after another, each comparing Usher with its reference
# in the same run (interleaved A/B within each): the edge against nginx secure_link,
# RS256 against `openssl speed`, packaging against ffmpeg run by hand, server memory,
# revocation across processes, upload throughput against cp, live ingest against ffmpeg
# by hand and live delivery against nginx, edge throughput with viewing analytics
# counted and not, and the bit-rate ladder against ffmpeg run by
# hand. Prints each table; docs/performance.md holds the latest run. About 50 minutes
# on 2 cores.
#
#   bench/all.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

section() { printf '\n## %s\n\n' "$1"; }
section "Edge: token-checked requests vs nginx secure_link"
bench/edge-vs-nginx.sh 8 3 "64 256" 2>/dev/null | sed -n '/^medians/,$p'
section "Where a small response's CPU goes (init segment, 256 connections)"
bench/edge-profile.sh manifest/v0/init.mp4 256 2>/dev/null | grep -E 'per request|^==' || true
section "Token sign/verify per core vs openssl speed rsa2048"
crates/usher-token/bench/compare-openssl.sh 3 3 2>/dev/null | sed -n '/^median/,$p'
section "Packaging vs ffmpeg run by hand"
cargo run -q --release -p usher-media --example remux_vs_ffmpeg -- 5 --transcode 2>/dev/null | grep -E "median|ratio"
section "Server memory"
bench/memory.sh 1 2>/dev/null | sed -n '/^| case/,$p'
section "Revocation reaching a second process"
bench/revocation.sh 20 2>/dev/null | tail -1
section "Upload over loopback vs cp"
bench/upload-vs-cp.sh 300 3 2>/dev/null | tail -6
section "Viewing analytics: edge throughput counting on vs off"
bench/analytics.sh 8 5 64 2>/dev/null | sed -n '/^medians/,$p'
section "Live: ingest CPU per stream and viewers per edge core"
bench/live.sh 20 8 2>/dev/null | sed -n '/^Ingest/,$p'
section "The bit-rate ladder: encode vs ffmpeg by hand, upload to ready (20 s of 1080p)"
BEFORE_REV=none bench/ladder.sh 3 3 2>/dev/null | sed -n '/^## /,$p' 
