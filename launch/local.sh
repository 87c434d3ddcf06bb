#!/usr/bin/env bash
# Data-parallel training on this machine: N ranks under torchrun (--no-python), Gloo on CPU,
# NCCL with one GPU per rank on a CUDA LibTorch. Rank 0 logs, writes metrics and checkpoints.
#   launch/local.sh N CONFIG.yaml [key=value overrides...]
# --standalone: torchrun picks a free port and hosts the store. Extra torchrun flags go in
# TORCHRUN_ARGS, e.g. TORCHRUN_ARGS="--max-restarts 3" to requeue after a crash.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PRINCIPIA_BUILD_DIR:-$root/build}"
venv="${PRINCIPIA_VENV:-$root/.venv}"
if [ $# -lt 2 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: launch/local.sh N CONFIG.yaml [key=value ...]   (N: ranks on this machine)" >&2
  exit 2
fi
n="$1"; shift
bash "$root/launch/setup.sh"
bash "$root/launch/build.sh" principia
# Each rank gets an equal share of the cores (torchrun's default of 1 thread is slower).
threads=$(( $(nproc) / n )); [ "$threads" -ge 1 ] || threads=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$threads}"
# shellcheck disable=SC2086
exec "$venv/bin/torchrun" --standalone --nproc-per-node "$n" \
  --no-python ${TORCHRUN_ARGS:-} "$build/cli/principia" train "$@"
