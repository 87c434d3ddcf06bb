#!/usr/bin/env bash
# launch/sweep_slurm.sh for real, on a throwaway one-node Slurm cluster on this machine: munged,
# slurmctld and slurmd run as root from a temporary folder (their own config, ports and state; two
# fake GPUs, so the tasks ask for --gpus=1 as on a cluster) and are stopped at the end. Checks:
#   1. a 2-variant sweep of the tiny demo: array task K trains variant K alone, the dependent
#      job writes sweep.md (both variants "finished"), sweep.json and sweep.svg;
#   2. the same submission again: every array task skips its finished variant;
#   3. a new sweep whose task 0 gets SIGUSR1 during GRPO, as from --signal=USR1@300 before the time
#      limit: the trainer checkpoints and exits 75, the task requeues itself, the variant
#      resumes from the checkpoint and the sweep ends with both variants finished.
# Needs root and Debian's packages (apt-get install -y slurmctld slurmd slurm-client munge); not
# for a machine that is already part of a Slurm cluster. Takes a few minutes on 2 cores.
#   bash launch/slurm_local_check.sh
# Environment: PRINCIPIA_BIN (default build/cli/principia), SLURM_LOCAL_PORT (slurmctld's port,
# default 16817; slurmd gets the next one), SLURM_LOCAL_KEEP=1 leaves the cluster and its folder
# (the line to stop it is printed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="${PRINCIPIA_BIN:-$root/build/cli/principia}"
port="${SLURM_LOCAL_PORT:-16817}"

fail() {
  echo "slurm_local_check: FAILED: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "run it as root (the daemons run as root here)"
for c in munged slurmctld slurmd sbatch squeue scancel scontrol sinfo; do
  command -v "$c" >/dev/null || fail "$c not found (apt-get install -y slurmctld slurmd slurm-client munge)"
done
[ -x "$binary" ] || fail "$binary not found (build it, or set PRINCIPIA_BIN)"

dir="$(mktemp -d /tmp/principia-slurm.XXXXXX)"
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/dev"
chmod 711 "$dir/munge"  # the socket's folder: munged wants it searchable by all
host="$(hostname -s)"
submitted=()
stop_cluster() {
  if [ ${#submitted[@]} -gt 0 ]; then
    scancel "${submitted[@]}" 2>/dev/null
    sleep 2
  fi
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  return 0
}
finish() {
  if [ "${SLURM_LOCAL_KEEP:-0}" = 1 ]; then
    echo "slurm_local_check: the cluster is left running; SLURM_CONF=$dir/slurm.conf;" \
      "stop it with: kill \$(cat $dir/slurmd.pid $dir/slurmctld.pid $dir/munge/munged.pid)"
  else
    stop_cluster
    sleep 1
    rm -rf "$dir"
  fi
}
trap finish EXIT

# Munge with its own key and socket.
if command -v mungekey >/dev/null; then
  mungekey --create --keyfile="$dir/munge/munge.key"
else
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 600 "$dir/munge/munge.key"
munged --force --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"

# Two fake GPUs: Slurm wants a device file per GPU and never opens them without cgroups.
gres=""
if mknod "$dir/dev/gpu0" c 1 3 2>/dev/null && mknod "$dir/dev/gpu1" c 1 3 2>/dev/null; then
  gres="Gres=gpu:2"
  echo "NodeName=$host Name=gpu File=$dir/dev/gpu[0-1]" >"$dir/gres.conf"
  task_args="--gpus=1 --cpus-per-task=1"
else
  echo "slurm_local_check: cannot create device files here; the node has no GPUs"
  task_args="--cpus-per-task=1"
fi
# cred_expire: a requeued job may start again after 10 s instead of Slurm's default 120 s.
cat >"$dir/slurm.conf" <<EOF
ClusterName=principia-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock,cred_expire=10
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
${gres:+GresTypes=gpu}
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) $gres State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" -c
slurmd -f "$SLURM_CONF"
for _ in $(seq 30); do
  sinfo -h -o %T 2>/dev/null | grep -qx idle && break
  sleep 1
done
sinfo -h -o %T | grep -qx idle || fail "the node did not come up: $(sinfo 2>&1); logs in $dir/log"
echo "slurm_local_check: one-node cluster up ($(nproc) CPUs${gres:+, 2 fake GPUs}) in $dir"

# The tiny demo: about 10 s a variant on one core.
tiny=(trainer.sft_steps=5 trainer.sft_batch_size=8 eval.max_items=8
  data.synth_options.train_items=64 data.synth_options.eval_items=8 rollout.batch_size=4
  rollout.group_size=4 rollout.max_new_tokens=64 checkpoint.every=0)
cd "$root"
export PRINCIPIA_BIN="$binary" SWEEP_SBATCH_ARGS="$task_args"

# Submits a sweep; sets $array and $summary.
submit() {
  local out
  out="$(bash launch/sweep_slurm.sh "$@")" || fail "sweep_slurm.sh $*: $out"
  echo "$out"
  array="$(sed -n 's/.* as array job \([0-9]*\);.*/\1/p' <<<"$out")"
  summary="$(sed -n 's/.*; summary job \([0-9]*\) .*/\1/p' <<<"$out")"
  { [ -n "$array" ] && [ -n "$summary" ]; } || fail "no job ids in: $out"
  submitted+=("$array" "$summary")
}
# Waits until job $1 (all its array tasks) has left the queue, at most $2 seconds.
wait_gone() {
  for _ in $(seq "$2"); do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 1
  done
  fail "job $1 still queued after $2 s: $(squeue)"
}
expect() {  # FILE PATTERN WHAT
  grep -q -- "$2" "$1" || fail "$3: '$2' not in $1:
$(cat "$1")"
}
expect_not() {
  ! grep -q -- "$2" "$1" || fail "$3: '$2' in $1:
$(cat "$1")"
}

echo "== 1. a 2-variant sweep as an array job"
s1="$dir/sweep"
submit configs/demo.yaml --grid optim.lr=5e-5,1e-4 --out "$s1" "${tiny[@]}" trainer.max_steps=2
wait_gone "$summary" 600
names=(lr-5e-5 lr-1e-4)
for k in 0 1; do
  f="$s1/slurm/principia-sweep-${array}_$k.out"
  expect "$f" "${names[$k]}: training into" "task $k trains variant $k"
  expect "$f" "${names[$k]}: finished in" "task $k finishes variant $k"
  [ "$(grep -c 'training into' "$f")" -eq 1 ] || fail "task $k trained more than one variant: $(cat "$f")"
done
expect "$s1/slurm/principia-sweep-summary-$summary.out" "wrote $s1/sweep.md" "the summary job"
for k in 0 1; do
  expect "$s1/sweep.md" "| ${names[$k]} | \`optim.lr=" "sweep.md's row of ${names[$k]}"
done
[ "$(grep -c '| finished | 0 |' "$s1/sweep.md")" -eq 2 ] || fail "not both finished: $(cat "$s1/sweep.md")"
{ [ -s "$s1/sweep.json" ] && [ -s "$s1/sweep.svg" ]; } || fail "sweep.json or sweep.svg missing in $s1"
first=("$array" "$summary")

echo "== 2. the same submission again"
submit configs/demo.yaml --grid optim.lr=5e-5,1e-4 --out "$s1" "${tiny[@]}" trainer.max_steps=2
wait_gone "$summary" 300
for k in 0 1; do
  f="$s1/slurm/principia-sweep-${array}_$k.out"
  expect "$f" "${names[$k]}: already finished, skipped" "the resubmitted task $k"
  expect_not "$f" "training into" "the resubmitted task $k"
done
expect "$s1/slurm/principia-sweep-summary-$summary.out" "wrote $s1/sweep.md" "the second summary job"

echo "== 3. SIGUSR1 to task 0 during GRPO: checkpoint, exit 75, requeue, resume"
s3="$dir/sweep-signal"
submit configs/demo.yaml --grid optim.lr=5e-5,1e-4 --out "$s3" "${tiny[@]}" trainer.max_steps=200
log0="$s3/logs/lr-5e-5.log"
for _ in $(seq 300); do
  [ -f "$log0" ] && grep -q 'eval sft' "$log0" && break
  sleep 1
done
expect "$log0" "eval sft" "variant 0 reaching GRPO"
scancel --signal=USR1 "${array}_0"  # the job steps, as --signal=USR1@300 does
wait_gone "$summary" 900
f="$s3/slurm/principia-sweep-${array}_0.out"
expect "$f" "stopped by a signal (exit 75)" "task 0 after SIGUSR1"
expect "$f" "variant 0 stopped with a checkpoint; requeueing" "task 0 after SIGUSR1"
expect "$f" "lr-5e-5: finished in" "task 0 after its requeue"
expect "$log0" "resuming from $s3/lr-5e-5/checkpoints/step-" "variant 0 after its requeue"
expect_not "$s3/slurm/principia-sweep-${array}_1.out" "requeueing" "task 1 (not signalled)"
[ "$(grep -c '| finished | 0 |' "$s3/sweep.md")" -eq 2 ] || fail "not both finished: $(cat "$s3/sweep.md")"

echo "slurm_local_check: OK (jobs ${first[*]}, then $array/$summary); the summary:"
cat "$s1/sweep.md"
