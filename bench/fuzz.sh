#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted bytes (issue 14): the targets in
# fuzz/ (libFuzzer, through cargo-fuzz), each run for its share of MINUTES from the seed
# corpus in fuzz/corpus/TARGET with the dictionary fuzz/dict/TARGET.dict. Prints a table
# of executions, coverage and findings, and exits 1 if anything was found; each finding
# is an input under target/fuzz-runs/…/artifacts to replay with the target's binary.
#
#   bench/fuzz.sh MINUTES [TARGET...]
#
# Runs on the stable toolchain: without a sanitizer (the default; our code forbids
# `unsafe`, and libFuzzer still catches every panic, overflow and debug assertion)
# cargo-fuzz passes rustc only stable flags. FUZZ_SANITIZER=address builds with
# AddressSanitizer, which needs `-Zsanitizer` and so RUSTC_BOOTSTRAP=1 (set here only
# then: it makes some crates' build scripts switch on nightly-only code).
#
# cargo-fuzz is installed into target/fuzz-tools; what the fuzzer learns (its working
# corpus) stays in target/fuzz-corpus, outside the repository.
set -euo pipefail
minutes=${1:?usage: bench/fuzz.sh MINUTES [TARGET...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
cd "$root"

CARGO_FUZZ_VERSION=0.13.2
# A hung input (every target answers in milliseconds) and a runaway allocation.
TIMEOUT_SECS=10
RSS_LIMIT_MB=2048
# Above the token size limit (8 KiB), so the fuzzer can reach it.
MAX_LEN=10000
sanitizer=${FUZZ_SANITIZER:-none}

tools="$target_dir/fuzz-tools"
if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools" >&2
  CARGO_TARGET_DIR="$tools/build" cargo install --quiet --locked --root "$tools" \
    --version "$CARGO_FUZZ_VERSION" cargo-fuzz
  rm -rf "$tools/build"
fi
# libfuzzer-sys compiles libFuzzer itself, which is C++.
command -v c++ >/dev/null || {
  echo "fuzz: needs a C++ compiler (apt-get install g++)" >&2
  exit 2
}
export PATH="$tools/bin:$PATH"
[ "$sanitizer" = none ] || export RUSTC_BOOTSTRAP=1

# Fewer codegen units would fuzz a little faster but build far slower on two cores.
build_dir="$target_dir/fuzz"
cargo fuzz build --sanitizer "$sanitizer" --codegen-units 16 --target-dir "$build_dir" >&2
bin_dir="$build_dir/x86_64-unknown-linux-gnu/release"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
secs=$((minutes * 60 / ${#targets[@]}))
[ "$secs" -ge 1 ] || secs=1

run="$target_dir/fuzz-runs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "cargo-fuzz $CARGO_FUZZ_VERSION, libFuzzer (libfuzzer-sys $(cargo metadata --format-version 1 \
  --manifest-path fuzz/Cargo.toml 2>/dev/null | python3 -c \
  'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="libfuzzer-sys"))'))," \
  "$(rustc --version | cut -d' ' -f1-2), sanitizer: $sanitizer; $cpu, $(nproc) cores; ${secs} s per target"
echo
printf '| %-12s | %9s | %11s | %7s | %8s | %7s | %s |\n' target "execs/s" execs "cov" "features" corpus findings
printf '|%s|%s|%s|%s|%s|%s|%s|\n' --------------  ----------- ------------- --------- ---------- --------- ---------

found=0
for t in "${targets[@]}"; do
  dir="$run/$t"
  corpus="$target_dir/fuzz-corpus/$t"
  mkdir -p "$dir/artifacts" "$dir/scratch" "$corpus"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  # New inputs go to the first corpus directory (under target/); the seeds are read only.
  USHER_FUZZ_SCRATCH="$dir/scratch" "$bin_dir/$t" "$corpus" "fuzz/corpus/$t" "${dict[@]}" \
    -max_total_time="$secs" -timeout="$TIMEOUT_SECS" -rss_limit_mb="$RSS_LIMIT_MB" \
    -max_len="$MAX_LEN" -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    >"$dir/log" 2>&1 || true
  rm -rf "$dir/scratch"
  stat() { sed -n "s/^stat::$1: *//p" "$dir/log" | tail -1; }
  last=$(grep -E '^#[0-9]+.*cov: ' "$dir/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  findings=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
    -o -name 'leak-*' \) | sort)
  summary=none
  if [ -n "$findings" ]; then
    found=1
    summary=$(sed "s|^$root/||" <<<"$findings" | tr '\n' ' ')
  elif ! grep -q '^stat::number_of_executed_units' "$dir/log"; then
    found=1
    summary="did not run: see ${dir#"$root"/}/log"
  fi
  printf '| %-12s | %9s | %11s | %7s | %8s | %7s | %s |\n' "$t" "$(stat average_exec_per_sec)" \
    "$(stat number_of_executed_units)" "${cov:-?}" "${ft:-?}" "$(find "$corpus" -type f | wc -l)" \
    "$summary"
done
echo
echo "logs: ${run#"$root"/}/TARGET/log; working corpora: ${target_dir#"$root"/}/fuzz-corpus ($(du -sh "$target_dir/fuzz-corpus" | cut -f1))"
exit "$found"
