#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every ctest label
# (unit, integration, learning, interop, dist, cuda), then the fuzz smoke run under ASan+UBSan,
# then (where a CUDA toolkit is installed) the build against a CUDA LibTorch.
# Pass ctest arguments to narrow it, e.g. `launch/test.sh -L unit -R Config`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PRINCIPIA_BUILD_DIR:-$root/build}"
bash "$root/launch/setup.sh"
bash "$root/launch/build.sh"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 1800 "$@"
if [ $# -eq 0 ] && [ -x "$root/tests/fuzz/run_smoke.sh" ] && [ "${PRINCIPIA_SKIP_FUZZ:-0}" != 1 ]; then
  bash "$root/tests/fuzz/run_smoke.sh"
fi
# Compile coverage of the CUDA build (no GPU needed): every target built against the CUDA 13
# LibTorch of torch==2.14.1, where a CUDA toolkit is installed (it is on the project's CI
# machines; elsewhere this step says it is skipped). PRINCIPIA_SKIP_CUDA_COMPILE=1 skips it.
if [ $# -eq 0 ] && [ "${PRINCIPIA_SKIP_CUDA_COMPILE:-0}" != 1 ]; then
  if [ -f "${CUDA_HOME:-/usr/local/cuda}/include/cuda_runtime.h" ]; then
    bash "$root/launch/cuda_compile_check.sh"
  else
    echo "test: CUDA compile check skipped: no CUDA toolkit at ${CUDA_HOME:-/usr/local/cuda}"
  fi
fi
