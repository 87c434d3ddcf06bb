#!/usr/bin/env bash
# Fuzz smoke run (CI): builds the libFuzzer targets with clang + ASan + UBSan in a separate
# build directory and runs each for FUZZ_SECONDS (default 30) on a copy of its seed corpus.
# Fails on any crash, leak, sanitizer report or timeout. Usage:
#   tests/fuzz/run_smoke.sh [BUILD_DIR]        (default: build-fuzz beside this checkout's root)
# FUZZ_CMAKE_ARGS adds configure arguments (e.g. a CMAKE_PREFIX_PATH).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build-fuzz}"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
JOBS="${FUZZ_BUILD_JOBS:-2}"
TARGETS=(fuzz_judgment_parser fuzz_consensus fuzz_jsonl_record fuzz_safetensors)

cmake -S "$ROOT" -B "$BUILD" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPRINCIPIA_WITH_TORCH=OFF -DPRINCIPIA_FUZZ=ON -DPRINCIPIA_SANITIZE=ON -DPRINCIPIA_TESTS=OFF \
  ${FUZZ_CMAKE_ARGS:-} \
  >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
ninja -C "$BUILD" -j "$JOBS" "${TARGETS[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
status=0
for target in "${TARGETS[@]}"; do
  seeds="$ROOT/tests/fuzz/corpus/${target#fuzz_}"
  corpus="$WORK/$target"
  mkdir -p "$corpus"
  cp "$seeds"/* "$corpus"/
  echo "== $target: ${SECONDS_PER_TARGET}s on $(ls "$seeds" | wc -l) seeds"
  if ! "$BUILD/tests/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
       -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$WORK/$target-" "$corpus" >"$WORK/$target.log" 2>&1; then
    tail -n 60 "$WORK/$target.log"
    mkdir -p "$BUILD/fuzz-artifacts"
    cp "$WORK/$target"-* "$BUILD/fuzz-artifacts/" 2>/dev/null || true
    echo "FAIL: $target (artifacts in $BUILD/fuzz-artifacts)"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$WORK/$target.log" || true
    echo "ok: $target"
  fi
done
exit $status
