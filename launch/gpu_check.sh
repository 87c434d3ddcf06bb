#!/usr/bin/env bash
# One short run on a GPU machine that reaches no package registry: builds principia
# against that machine's PyTorch (its LibTorch, CUDA) and the Debian packages bundled in deps/
# by launch/bundle_deps.sh, runs the CUDA tests (label `cuda`), then the GPU benchmarks beside
# transformers (bench/model/gpu_bench.py), and writes everything to $OUT (or build-gpu/out):
# gpu_check.md (phases, tests, the benchmark table), gpu_check.log, gpu_bench.md, ctest.log.
#   PRINCIPIA_TEST_DATA=<copy of shared/data> bash launch/gpu_check.sh   (carry deps/ and it)
# Budget: under 8 minutes on 16 cores; each phase is timed and bounded by `timeout`.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="${PRINCIPIA_DEPS:-$root/deps}/root"
build="${PRINCIPIA_BUILD_DIR:-$root/build-gpu}"
out="${OUT:-$build/out}"
py="${PRINCIPIA_GPU_PYTHON:-python3}"
jobs="${JOBS:-$(nproc)}"
mkdir -p "$out"
results="$out/gpu_check.md"
log="$out/gpu_check.log"
: > "$log"
t_start=$(date +%s)
say() { echo "$*" | tee -a "$results"; }
phase() {  # phase NAME COMMAND...: runs, logs, records seconds and the exit code
  local name="$1"; shift
  local t0=$(date +%s)
  echo "== $name: $*" >> "$log"
  "$@" >> "$log" 2>&1
  local rc=$?
  say "| $name | $(( $(date +%s) - t0 )) s | exit $rc |"
  return $rc
}

[ -d "$deps/usr" ] || { echo "gpu_check: $deps not found: run launch/bundle_deps.sh on a Debian machine and carry deps/" >&2; exit 2; }
torch_prefix="$("$py" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')" || { echo "gpu_check: $py has no torch" >&2; exit 2; }

# Runtime libraries: the bundle's copies only where this machine lacks a library of that name.
ldir="$build/deps-ld"
rm -rf "$ldir"; mkdir -p "$ldir"
for lib in "$deps"/usr/lib/x86_64-linux-gnu/lib*.so.* "$deps"/usr/lib/x86_64-linux-gnu/hdf5/serial/lib*.so.*; do
  [ -e "$lib" ] || continue
  name="$(basename "$lib")"
  ldconfig -p 2>/dev/null | grep -qE "^[[:space:]]+${name//./\\.} " || ln -sf "$lib" "$ldir/$name"
done
export LD_LIBRARY_PATH="$ldir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# pkg-config sees only the bundle's .pc files, their paths prefixed with the bundle root.
export PKG_CONFIG_LIBDIR="$deps/usr/lib/x86_64-linux-gnu/pkgconfig:$deps/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$deps"
pkgconfig="$(command -v pkg-config || echo "$deps/usr/bin/pkgconf")"

{
  echo "# gpu_check $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/- GPU: /'
  "$py" -c 'import torch; print(f"- torch {torch.__version__}, CUDA {torch.version.cuda}, device visible: {torch.cuda.is_available()}")'
  echo "- $(nproc) cores; bundled runtime libraries used: $(ls "$ldir" | wc -l)"
  echo
  echo "| phase | time | result |"
  echo "|---|---|---|"
} > "$results"
cat "$results"

# The CUDA toolkit LibTorch's CMake config looks for; NVRTC from the toolkit or the wheel's
# nvidia packages; the GPU's architecture named (Hopper) rather than probed.
cuda_root="${CUDA_HOME:-/usr/local/cuda}"
site="$("$py" -c 'import site; print(site.getsitepackages()[0])')"
nvrtc="$(ls "$cuda_root"/lib64/libnvrtc.so* 2>/dev/null | head -n 1 || true)"
[ -n "$nvrtc" ] || nvrtc="$(find "$site/nvidia" -name 'libnvrtc.so*' 2>/dev/null | head -n 1)"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
{ echo "== tools"; c++ --version | head -1; "$cuda_root/bin/nvcc" --version | tail -1; cmake --version | head -1
  echo "nvrtc: $nvrtc"; echo "test data: ${PRINCIPIA_TEST_DATA:-unset}"; } >> "$log" 2>&1

# Warnings are not errors here: another compiler version may warn where CI's does not.
phase configure timeout 120 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_PREFIX_PATH=$torch_prefix;$deps/usr" "-DPKG_CONFIG_EXECUTABLE=$pkgconfig" \
  -DPRINCIPIA_HDF5_PKG_CONFIG=ON -DPRINCIPIA_WERROR=OFF \
  "-DPRINCIPIA_GLOO_INCLUDE_DIR=$deps/usr/include" \
  "-DCUDA_TOOLKIT_ROOT_DIR=$cuda_root" "-DCUDAToolkit_ROOT=$cuda_root" "-DCMAKE_CUDA_COMPILER=$cuda_root/bin/nvcc" \
  ${nvrtc:+"-DCUDA_nvrtc_LIBRARY=$nvrtc"} \
  "-DPRINCIPIA_PYTHON=$(command -v "$py")" -DPRINCIPIA_FUZZ=OFF \
  || { say "configure failed: see gpu_check.log"; tail -60 "$log"; exit 1; }
grep -E "principia: LibTorch|process group" "$log" | sed 's/^-- /- /' | tee -a "$results"

targets=(principia principia_model_cuda_tests principia_trainer_cuda_tests principia_train_cuda_tests
         principia_bench_model)
phase build timeout 330 ninja -C "$build" -j "$jobs" -k 0 "${targets[@]}" || { tail -80 "$log"; exit 1; }
phase "tests: cuda" timeout 150 ctest --test-dir "$build" -L cuda --output-on-failure -j 4 --timeout 140 \
  --output-log "$out/ctest.log"
grep -E "^ *[0-9]+/[0-9]+ Test|tests passed|tests failed|Skipped|SKIPPED" "$out/ctest.log" | sed 's/^/    /' >> "$results"
grep -E "^\[  (FAILED|SKIPPED) |Failure|Expected|Which is|error" "$out/ctest.log" | head -40 | sed 's/^/    /' >> "$results"
# What is left of the budget (PRINCIPIA_GPU_BUDGET_S, default 480 s) bounds the last phases.
left() { local l=$(( ${PRINCIPIA_GPU_BUDGET_S:-480} - ($(date +%s) - t_start) )); echo $(( l > 0 ? l : 0 )); }
bench_s=$(( $(left) - 60 )); [ "$bench_s" -ge 60 ] || bench_s=60
phase "bench: gpu_bench.py" timeout "$bench_s" "$py" "$root/bench/model/gpu_bench.py" \
  --build-dir "$build" --out "$out/gpu_bench.md"
[ -f "$out/gpu_bench.md" ] && cat "$out/gpu_bench.md" >> "$results"
# The README's demo on the GPU, in whatever time remains (the CPU demo takes ~6.5 minutes).
if [ "$(left)" -gt 30 ]; then
  phase "demo on cuda (train configs/demo.yaml run.device=cuda)" timeout "$(( $(left) - 5 ))" \
    "$build/cli/principia" train "$root/configs/demo.yaml" run.device=cuda "run.output_dir=$build/demo-run"
  grep -E "^\|" "$log" | tail -12 | sed 's/^/    /' >> "$results"
  [ -f "$build/demo-run/metrics.jsonl" ] && tail -n 1 "$build/demo-run/metrics.jsonl" > "$out/demo_last_metrics.json"
fi
say ""
say "total: $(( $(date +%s) - t_start )) s; log: gpu_check.log"
cat "$results"
