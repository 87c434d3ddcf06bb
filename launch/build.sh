#!/usr/bin/env bash
# Configures and builds principia into build/ (or $PRINCIPIA_BUILD_DIR). Extra CMake arguments:
# $PRINCIPIA_CMAKE_ARGS (e.g. "-DTorch_DIR=/opt/libtorch/share/cmake/Torch"). Targets: "$@".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PRINCIPIA_BUILD_DIR:-$root/build}"
# ccache across clones: paths relative to the checkout, PCH-friendly.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
if [ ! -f "$build/build.ninja" ] || [ -n "${PRINCIPIA_CMAKE_ARGS:-}" ]; then
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -G Ninja ${PRINCIPIA_CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$build" -j"$(nproc)" ${1:+--target "$@"}
