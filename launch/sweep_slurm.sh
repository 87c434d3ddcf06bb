#!/usr/bin/env bash
# `principia sweep` under Slurm: the variants as one array job (task K runs `sweep ... --only K`,
# one variant on one GPU), then a job that waits for all of them and writes SWEEP_DIR/sweep.md,
# sweep.json and sweep.svg (`sweep ... --summarize-only`). Run it on a login node, not with sbatch:
#   bash launch/sweep_slurm.sh BASE.yaml (--grid key=v1,v2 ... | --configs A.yaml ...) --out SWEEP_DIR [key=value ...]
# The arguments are `principia sweep`'s; before submitting, `sweep --list` loads and validates every
# variant here, so a bad key costs no queue time. SWEEP_DIR must be on a filesystem the nodes share.
# Environment:
#   PRINCIPIA_BIN        the binary (default: build/cli/principia of this checkout)
#   SWEEP_SBATCH_ARGS    sbatch options of the array tasks (default: "--gpus=1 --cpus-per-task=8");
#                        add your partition, account, --time
#   SWEEP_MAX_PARALLEL   at most this many variants at once (the array's %N throttle)
#   OMP_NUM_THREADS      the trainer's threads (default: the array task's --cpus-per-task, else 1)
# Resumable like the command itself: submitting the same sweep again skips finished variants. An
# array task stopped by Slurm's warning signal (exit 75: a checkpoint was written) requeues itself
# and continues the variant with --resume auto. Each variant is one process; a variant that
# needs several GPUs is a run for launch/slurm.sbatch. Logs: SWEEP_DIR/slurm/ and, per variant,
# SWEEP_DIR/logs/<variant>.log.
#SBATCH --open-mode=append
set -uo pipefail
root="${PRINCIPIA_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
binary="${PRINCIPIA_BIN:-$root/build/cli/principia}"

# Inside the jobs this script submits (first argument: the job's role).
case "${1:-}" in
  __array-task)
    shift
    # The trainer's threads: the task's CPUs, not the node's (it counts the node's cores, and
    # Slurm binds the task to the CPUs it was given).
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"
    # A job step, so that Slurm's --signal reaches the trainer; it checkpoints and exits 75.
    srun --ntasks=1 "$binary" sweep "$@" --only "$SLURM_ARRAY_TASK_ID"
    rc=$?
    if [ "$rc" -eq 75 ]; then
      echo "principia sweep: variant $SLURM_ARRAY_TASK_ID stopped with a checkpoint; requeueing"
      scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
    fi
    exit "$rc"
    ;;
  __summarize)
    shift
    exec "$binary" sweep "$@" --summarize-only
    ;;
esac

if [ $# -lt 1 ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
  # The comment block at the top of this file, up to the #SBATCH line.
  awk 'NR == 1 { next } /^#SBATCH/ || !/^#/ { exit } { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
  [ $# -lt 1 ] && exit 2
  exit 0
fi
for a in "$@"; do
  case "$a" in
    --only | --only=* | --summarize-only | --list)
      echo "sweep_slurm.sh: $a is the script's to give; pass only the sweep's arguments" >&2
      exit 2
      ;;
  esac
done
if [ ! -x "$binary" ]; then
  echo "sweep_slurm.sh: $binary not found (build it, or set PRINCIPIA_BIN)" >&2
  exit 2
fi
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
export PRINCIPIA_BIN="$binary" PRINCIPIA_ROOT="$root"

variants="$("$binary" sweep "$@" --list)" || exit $?
n="$(printf '%s\n' "$variants" | grep -c .)"
if [ "$n" -lt 1 ]; then
  echo "sweep_slurm.sh: no variants" >&2
  exit 2
fi
# The sweep directory as the command resolves it: --out, else its default.
out=""
prev=""
for a in "$@"; do
  [ "$prev" = "--out" ] && out="$a"
  case "$a" in --out=*) out="${a#--out=}" ;; esac
  prev="$a"
done
if [ -z "$out" ]; then
  echo "sweep_slurm.sh: give --out SWEEP_DIR (on a filesystem every node sees)" >&2
  exit 2
fi
mkdir -p "$out/slurm"
printf '%s\n' "$variants"

array="0-$((n - 1))${SWEEP_MAX_PARALLEL:+%$SWEEP_MAX_PARALLEL}"
# shellcheck disable=SC2086
array_id="$(sbatch --parsable --job-name=principia-sweep --array="$array" --requeue \
  --signal=USR1@300 --output="$out/slurm/%x-%A_%a.out" --chdir="$(pwd)" \
  ${SWEEP_SBATCH_ARGS:---gpus=1 --cpus-per-task=8} "${BASH_SOURCE[0]}" __array-task "$@")" || exit $?
array_id="${array_id%%;*}"
# afterany: the summary also reports the variants that failed.
summary_id="$(sbatch --parsable --job-name=principia-sweep-summary --dependency="afterany:$array_id" \
  --ntasks=1 --cpus-per-task=1 --output="$out/slurm/%x-%j.out" --chdir="$(pwd)" \
  "${BASH_SOURCE[0]}" __summarize "$@")" || exit $?
echo "principia sweep: $n variants as array job $array_id; summary job ${summary_id%%;*} writes $out/sweep.md"
