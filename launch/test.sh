#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every ctest label
# (unit, integration, learning, interop, dist), then the fuzz smoke run under ASan+UBSan.
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
