#!/usr/bin/env bash
# One short run on a GPU machine that reaches no package registry (issue 9): builds principia
# against that machine's PyTorch (its LibTorch, CUDA) and the Debian packages bundled in deps/
# by launch/bundle_deps.sh, runs the CUDA tests and the unit tests, then the model benchmark on
# the GPU beside transformers, and writes everything to $OUT (or build-gpu/out).
#   bash launch/gpu_check.sh            (deps/ must travel with the tree: carry it)
# Budget: under 8 minutes on 16 cores; each phase is timed in the results file.
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
  ldconfig -p 2>/dev/null | grep -q " $name " || ln -sf "$lib" "$ldir/$name"
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

phase configure cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_PREFIX_PATH=$torch_prefix;$deps/usr" "-DPKG_CONFIG_EXECUTABLE=$pkgconfig" \
  -DPRINCIPIA_HDF5_PKG_CONFIG=ON \
  "-DPRINCIPIA_GLOO_INCLUDE_DIR=$deps/usr/include" \
  "-DPRINCIPIA_PYTHON=$(command -v "$py")" -DPRINCIPIA_FUZZ=OFF \
  || { say "configure failed: see gpu_check.log"; tail -40 "$log"; exit 1; }
grep -E "principia: LibTorch|Gloo process group" "$log" | sed 's/^-- /- /' | tee -a "$results"

targets=(principia principia_model_cuda_tests principia_train_cuda_tests principia_model_tests principia_trainer_tests
         principia_bench_model)
phase build ninja -C "$build" -j "$jobs" "${targets[@]}" || { tail -60 "$log"; exit 1; }
phase "tests: cuda" ctest --test-dir "$build" -L cuda --output-on-failure -j 4
phase "tests: model + trainer unit" ctest --test-dir "$build" -R '^(Transformer|Cuda|AdamW|CoreAlgos|Optimizer|Checkpoint|Dist)' --output-on-failure -j 8
PRINCIPIA_NO_WRITE=1 phase "bench: model on cuda, bf16" "$py" "$root/bench/model/run_bench.py" --build-dir "$build" \
  --device cuda --dtype bfloat16 --train-batch 8 --train-seq 1024 --train-steps 10 --sample-batch 64 \
  --prompt-len 256 --new-tokens 256 --no-write
grep -A8 "^## Model (CUDA)" "$log" | tee -a "$results"
say ""
say "total: $(( $(date +%s) - t_start )) s; log: gpu_check.log"
