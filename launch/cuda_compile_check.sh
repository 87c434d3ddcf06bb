#!/usr/bin/env bash
# Compiles principia against a CUDA LibTorch on a machine without a GPU (issue 9: compile
# coverage of the CUDA paths): a venv with torch==2.14.1 (a CUDA 13 build; on these machines pip
# takes it from local disk, 5.4 GB) in .venv-cuda, a build in build-cuda, every target linked.
# Nothing is run: there is no GPU here. Not part of launch/test.sh (a cold build takes ~30 min on
# 2 cores; ccache makes later runs fast).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PRINCIPIA_CUDA_VENV:-$root/.venv-cuda}"
build="${PRINCIPIA_CUDA_BUILD_DIR:-$root/build-cuda}"
bash "$root/launch/setup.sh"
if ! "$venv/bin/python" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check torch==2.14.1 2>&1 | { grep -v "is ignored" || true; }
fi
prefix="$("$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
configured="$(cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$prefix" \
  "-DPRINCIPIA_PYTHON=$venv/bin/python" -DPRINCIPIA_FUZZ=OFF 2>&1)" || { echo "$configured" >&2; exit 1; }
grep "principia:" <<< "$configured"
grep -q "(CUDA: ON)" <<< "$configured" || { echo "cuda_compile_check: LibTorch at $prefix has no CUDA" >&2; exit 1; }
ninja -C "$build"
echo "cuda_compile_check: every target built against $("$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)')"
