#!/usr/bin/env bash
# Compiles principia against a CUDA LibTorch on a machine without a GPU (compile
# coverage of the CUDA paths): a venv with torch==2.14.1 (a CUDA 13 build; on these machines pip
# takes it from local disk, 5.4 GB) in .venv-cuda, a build in build-cuda, every target linked.
# Nothing is run: there is no GPU here. launch/test.sh runs this last where a CUDA toolkit is
# installed (about 8 minutes cold on 2 cores; ccache makes later runs a couple of minutes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PRINCIPIA_CUDA_VENV:-$root/.venv-cuda}"
build="${PRINCIPIA_CUDA_BUILD_DIR:-$root/build-cuda}"
bash "$root/launch/setup.sh"
# ccache across clones, as launch/build.sh does.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
if ! "$venv/bin/python" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check torch==2.14.1 2>&1 | { grep -v "is ignored" || true; }
fi
prefix="$("$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
# The CUDA toolkit (headers, cudart) that LibTorch's CMake config looks for.
cuda_root="${CUDA_HOME:-/usr/local/cuda}"
[ -f "$cuda_root/include/cuda_runtime.h" ] || { echo "cuda_compile_check: no CUDA toolkit at $cuda_root (set CUDA_HOME)" >&2; exit 1; }
# The toolkit here has no NVRTC; the wheel's nvidia-* packages do.
nvrtc="$(ls "$cuda_root"/lib64/libnvrtc.so* 2>/dev/null | head -n 1 || true)"
[ -n "$nvrtc" ] || nvrtc="$(find "$venv" -name 'libnvrtc.so*' | head -n 1)"
# No GPU to detect here: name the architecture (Hopper) so the config does not try.
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
configured="$(cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$prefix" \
  "-DCUDA_TOOLKIT_ROOT_DIR=$cuda_root" "-DCUDAToolkit_ROOT=$cuda_root" "-DCMAKE_CUDA_COMPILER=$cuda_root/bin/nvcc" \
  "-DCUDA_nvrtc_LIBRARY=$nvrtc" "-DPRINCIPIA_PYTHON=$venv/bin/python" -DPRINCIPIA_FUZZ=OFF 2>&1)" || { echo "$configured" >&2; exit 1; }
grep "principia:" <<< "$configured"
grep -q "(CUDA: ON)" <<< "$configured" || { echo "cuda_compile_check: LibTorch at $prefix has no CUDA" >&2; exit 1; }
ninja -C "$build"
echo "cuda_compile_check: every target built against $("$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)')"
