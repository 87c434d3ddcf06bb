"""Data parallel over c10d/Gloo, driven the way users launch it (torchrun --no-python).

(a) 2 ranks under torchrun take the same steps as 1 rank with the same global batch: per-step
    losses and final weights within 1e-5.
(c) two "nodes" on one machine: two network namespaces joined by a veth pair, torchrun in each.
(d) a rank killed mid-run: the survivor exits non-zero with a clear message, never hangs.
"""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from safetensors.numpy import load_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
import harness  # noqa: E402  (the tiny demo-shaped run shared with the reliability tests)

TORCHRUN = pathlib.Path(sys.executable).parent / "torchrun"

# Global batch 4 items (2 per rank), 3 GRPO steps after 4 SFT steps of 4 items.
SMALL = [o for o in harness.TINY if not o.startswith(("rollout.batch_size", "trainer.sft_batch_size",
                                                       "trainer.max_steps", "checkpoint."))]
SMALL += ["rollout.batch_size=4", "trainer.sft_batch_size=4", "trainer.max_steps=3",
          "checkpoint.every=0", "eval.max_items=2", "optim.lr=1e-3", "optim.warmup_steps=0"]


@pytest.fixture(scope="module")
def binary():
    b = os.environ.get("PRINCIPIA_BIN")
    if not b or not os.path.exists(b):
        pytest.skip("PRINCIPIA_BIN not set (run through ctest)")
    if not TORCHRUN.exists():
        pytest.skip(f"{TORCHRUN} not found (launch/setup.sh installs torch into the venv)")
    return b


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_", "MASTER_", "TORCHELASTIC", "SLURM_"))}
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


def train_args(binary, run_dir, extra):
    return [binary, "train", str(harness.DEMO), f"run.output_dir={run_dir}", *SMALL, *extra]


def metrics(run_dir):
    rows = [json.loads(l) for l in (pathlib.Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows}


def final_weights(run_dir):
    ckpt = pathlib.Path(run_dir) / "checkpoints"
    return load_file(str(ckpt / (ckpt / "latest").read_text().strip() / "model" / "model.safetensors"))


VARIANTS = {
    "default": [],
    # Reference model + KL in the loss, batch-std advantages, two mini-batches, one micro-batch
    # per sequence (gradient accumulation), small all-reduce buckets (several per backward).
    "kl_batchstd_minibatch": ["algorithm.kl_coef=0.05", "algorithm.advantage=batch_std",
                              "algorithm.mini_batch=2", "algorithm.micro_batch_tokens=300",
                              "dist.bucket_mb=1"],
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_two_ranks_equal_one_rank(binary, tmp_path, variant):
    extra = VARIANTS[variant]
    one, two = tmp_path / "one", tmp_path / "two"
    p1 = subprocess.run(train_args(binary, one, extra), capture_output=True, text=True, env=clean_env(),
                        timeout=600)
    assert p1.returncode == 0, p1.stdout + p1.stderr
    p2 = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "--no-python",
                         *train_args(binary, two, extra)],
                        capture_output=True, text=True, env=clean_env(), timeout=600)
    out2 = p2.stdout + p2.stderr
    assert p2.returncode == 0, out2
    assert "gloo process group, rank 0 of 2" in out2
    assert "rank 1 of 2" not in out2, "only rank 0 logs"

    m1, m2 = metrics(one), metrics(two)
    assert sorted(m1) == sorted(m2) == [1, 2, 3]
    for step in m1:
        for key in ("loss/total", "loss/pg", "reward/mean", "advantage/abs_mean", "optim/grad_norm",
                    "judgment/format_valid_rate", "response/length_mean"):
            a, b = m1[step].get(key), m2[step].get(key)
            assert a is not None and b is not None, (step, key)
            assert abs(a - b) <= 1e-5 * max(1.0, abs(a)), (variant, step, key, a, b)
    w1, w2 = final_weights(one), final_weights(two)
    assert sorted(w1) == sorted(w2)
    worst = max(float(np.max(np.abs(w1[k].astype(np.float64) - w2[k]))) for k in w1)
    assert worst <= 1e-5, f"{variant}: final weights differ by {worst}"
    # The training changed the weights (the comparison is not between two untouched inits).
    init = load_file(str(one / "reference" / "model.safetensors")) if (one / "reference").exists() else None
    if init is not None:
        assert max(float(np.max(np.abs(init[k] - w1[k]))) for k in w1) > 1e-3
    state = json.loads((two / "checkpoints" / "step-000003" / "state.json").read_text())
    assert state["world_size"] == 2


def test_dynamic_sampling_on_two_ranks(binary, tmp_path):
    # Each rank fills its share of groups with signal; the ranks take the next batches together
    # (a full rank skips the rollout, not the collectives), so the run cannot hang or desync.
    run_dir = tmp_path / "ds"
    extra = ["trainer.sft_steps=20", "trainer.sft_lr=5e-3", "algorithm.dynamic_sampling.enabled=true",
             "algorithm.dynamic_sampling.component=format", "algorithm.dynamic_sampling.max_rounds=3"]
    p = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "--no-python",
                        *train_args(binary, run_dir, extra)],
                       capture_output=True, text=True, env=clean_env(), timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    m = metrics(run_dir)
    assert sorted(m) == [1, 2, 3]
    for step, row in m.items():
        assert row["dynamic_sampling/groups_kept"] + row["dynamic_sampling/groups_filled"] == 4, (step, row)
        assert row["dynamic_sampling/groups_seen"] >= 4
        assert 1 <= row["dynamic_sampling/rounds"] <= 3
        if row["dynamic_sampling/groups_filled"] == 0:
            assert row["advantage/zero_variance_groups"] == 0, (step, row)


def test_batch_not_divisible_by_world_size(binary, tmp_path):
    p = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "--no-python",
                        *train_args(binary, tmp_path / "odd", ["rollout.batch_size=3"])],
                       capture_output=True, text=True, env=clean_env(), timeout=300)
    assert p.returncode != 0
    assert "rollout.batch_size: 3 is not divisible by the world size 2" in p.stdout + p.stderr


def test_killed_rank_fails_the_others_fast(binary, tmp_path):
    """Rank 1 is SIGKILLed mid-run; rank 0 must exit non-zero with a message naming the
    failed collective well within dist.timeout_s, never hang."""
    port = free_port()
    run_dir = tmp_path / "killed"
    timeout_s = 30
    extra = ["trainer.max_steps=200", "trainer.sft_steps=0", f"dist.timeout_s={timeout_s}"]
    procs = []
    for rank in range(2):
        env = clean_env(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE="2",
                        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen(train_args(binary, run_dir, extra), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, env=env))
    try:
        deadline = time.monotonic() + 300
        path = run_dir / "metrics.jsonl"
        while time.monotonic() < deadline:
            if path.exists() and len(path.read_text().splitlines()) >= 2:
                break
            assert procs[0].poll() is None, procs[0].communicate()[0]
            time.sleep(0.2)
        else:
            pytest.fail("training never reached step 2")
        procs[1].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        out, _ = procs[0].communicate(timeout=timeout_s + 60)
        elapsed = time.monotonic() - killed_at
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert procs[0].returncode not in (0, None), out
    assert elapsed < timeout_s + 30, f"rank 0 took {elapsed:.0f}s to notice"
    assert "dist:" in out and "failed on rank 0 of 2" in out, out
    assert "internal error" not in out, out


def _ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True)


@pytest.fixture
def two_namespaces():
    """Two network namespaces joined by a veth pair: 10.77.<n>.1 <-> 10.77.<n>.2."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("two simulated nodes need root and iproute2 (network namespaces)")
    tag = uuid.uuid4().hex[:6]
    a, b = f"pa{tag}", f"pb{tag}"
    net = 77
    made = []
    try:
        for ns in (a, b):
            r = _ip("netns", "add", ns)
            if r.returncode != 0:
                pytest.skip(f"cannot create network namespaces here: {r.stderr.strip()}")
            made.append(ns)
        cmds = [
            ["link", "add", f"va{tag}", "type", "veth", "peer", "name", f"vb{tag}"],
            ["link", "set", f"va{tag}", "netns", a], ["link", "set", f"vb{tag}", "netns", b],
            ["-n", a, "addr", "add", f"10.{net}.0.1/24", "dev", f"va{tag}"],
            ["-n", b, "addr", "add", f"10.{net}.0.2/24", "dev", f"vb{tag}"],
            ["-n", a, "link", "set", f"va{tag}", "up"], ["-n", b, "link", "set", f"vb{tag}", "up"],
            ["-n", a, "link", "set", "lo", "up"], ["-n", b, "link", "set", "lo", "up"],
        ]
        for c in cmds:
            r = _ip(*c)
            if r.returncode != 0:
                pytest.skip(f"cannot wire the namespaces (ip {' '.join(c)}): {r.stderr.strip()}")
        yield (a, f"va{tag}", f"10.{net}.0.1"), (b, f"vb{tag}", f"10.{net}.0.2")
    finally:
        for ns in made:
            _ip("netns", "del", ns)


def test_two_simulated_nodes(binary, tmp_path, two_namespaces):
    """Node 0 (2 processes) and node 1 (1 process) in separate network namespaces; torchrun's
    static rendezvous on node 0's veth address; Gloo over the veth interfaces."""
    (ns0, if0, addr0), (ns1, if1, _) = two_namespaces
    run_dir = tmp_path / "nodes"
    extra = ["rollout.batch_size=3", "trainer.sft_batch_size=3", "trainer.max_steps=2"]
    procs = []
    for node, (ns, ifname, nproc) in enumerate([(ns0, if0, 2), (ns1, if1, 1)]):
        cmd = ["ip", "netns", "exec", ns, str(TORCHRUN), "--nnodes", "2", "--node-rank", str(node),
               "--nproc-per-node", str(nproc), "--master-addr", addr0, "--master-port", "29533",
               "--no-python", *train_args(binary, run_dir, extra)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env=clean_env(GLOO_SOCKET_IFNAME=ifname)))
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=600)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out
    assert "gloo process group, rank 0 of 3" in outs[0]
    assert sorted(metrics(run_dir)) == [1, 2]
    state = json.loads((run_dir / "checkpoints" / "step-000002" / "state.json").read_text())
    assert state["world_size"] == 3


def launch_ranks(binary, run_dir, extra, world=2, resume=False):
    port = free_port()
    procs = []
    for rank in range(world):
        env = clean_env(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                        LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        cmd = train_args(binary, run_dir, extra) + (["--resume", "auto"] if resume else [])
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
    return procs


def test_signal_to_one_rank_stops_all_at_the_same_step(binary, tmp_path):
    """SIGTERM reaches only rank 1 (as when a node is drained); the ranks agree on the step,
    rank 0 checkpoints, all exit 75, and the run resumes on 2 ranks, then on 1."""
    run_dir = tmp_path / "preempted"
    extra = ["trainer.max_steps=200", "trainer.sft_steps=0"]
    procs = launch_ranks(binary, run_dir, extra)
    try:
        path = run_dir / "metrics.jsonl"
        deadline = time.monotonic() + 300
        while not (path.exists() and len(path.read_text().splitlines()) >= 2):
            assert time.monotonic() < deadline, "training never reached step 2"
            assert procs[0].poll() is None, procs[0].communicate()[0]
            time.sleep(0.1)
        procs[1].send_signal(signal.SIGTERM)
        outs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [harness.EXIT_PREEMPTED] * 2, outs
    latest = (run_dir / "checkpoints" / "latest").read_text().strip()
    stopped_at = int(latest.split("-")[1])
    assert f"stopping on SIGTERM after step {stopped_at}" in outs[0], outs[0]
    assert stopped_at < 200
    assert max(metrics(run_dir)) == stopped_at

    finish = ["trainer.max_steps=%d" % (stopped_at + 2), "trainer.sft_steps=0"]
    procs = launch_ranks(binary, run_dir, finish, resume=True)
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert f"resuming from {run_dir}/checkpoints/{latest}" in outs[0], outs[0]
    assert max(metrics(run_dir)) == stopped_at + 2

    # The same run continues on one rank: same global data order, optimizer state as saved.
    p = subprocess.run(train_args(binary, run_dir, ["trainer.max_steps=%d" % (stopped_at + 4), "trainer.sft_steps=0"])
                       + ["--resume", "auto"], capture_output=True, text=True, env=clean_env(), timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "data cursor: saved with world size 2, resuming with 1" in p.stdout + p.stderr
    assert max(metrics(run_dir)) == stopped_at + 4


def torchrun(binary, run_dir, extra, nproc=2, resume=False):
    cmd = [str(TORCHRUN), "--standalone", "--nproc-per-node", str(nproc), "--no-python",
           *train_args(binary, run_dir, extra)] + (["--resume", "auto"] if resume else [])
    p = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout + p.stderr


def assert_same_run(a, b, steps, tol=1e-5):
    ma, mb = metrics(a), metrics(b)
    for step in steps:
        for key in ("loss/total", "reward/mean", "optim/grad_norm"):
            assert abs(ma[step][key] - mb[step][key]) <= tol * max(1.0, abs(ma[step][key])), (step, key)
    wa, wb = final_weights(a), final_weights(b)
    worst = max(float(np.max(np.abs(wa[k].astype(np.float64) - wb[k]))) for k in wa)
    assert worst <= tol, f"final weights differ by {worst}"


def test_zero1_equals_plain_data_parallel(binary, tmp_path):
    """(b) Optimizer state sharded over 2 ranks (ZeRO-1) takes the same steps as replicated
    state; the checkpoint holds one shard per rank whose union is the replicated state."""
    plain, zero = tmp_path / "plain", tmp_path / "zero"
    torchrun(binary, plain, ["optim.zero_stage=0"])
    torchrun(binary, zero, ["optim.zero_stage=1"])
    assert_same_run(plain, zero, [1, 2, 3])
    ckpt = zero / "checkpoints" / "step-000003"
    shards = sorted(p.name for p in ckpt.glob("optimizer*.safetensors"))
    assert shards == ["optimizer-rank-00000-of-00002.safetensors", "optimizer-rank-00001-of-00002.safetensors"]
    manifest = (ckpt / "MANIFEST").read_text()
    assert all(name in manifest for name in shards)
    s0, s1 = (load_file(str(ckpt / n)) for n in shards)
    assert s0 and s1 and not (set(s0) & set(s1)), "each parameter's state lives on one rank"
    full = load_file(str(plain / "checkpoints" / "step-000003" / "optimizer.safetensors"))
    assert set(s0) | set(s1) == set(full)
    for k, v in {**s0, **s1}.items():
        assert np.allclose(v, full[k], atol=1e-6, rtol=0), k


def test_resume_on_another_world_size(binary, tmp_path):
    """A 2-rank ZeRO-1 run stopped at step 2 and resumed on 1 rank (optimizer shards merged,
    data cursor re-mapped) ends where the uninterrupted 2-rank run ends."""
    extra = ["optim.zero_stage=1", "optim.schedule=constant", "trainer.sft_steps=0", "checkpoint.every=2"]
    full, split = tmp_path / "full", tmp_path / "split"
    torchrun(binary, full, extra + ["trainer.max_steps=4"])
    torchrun(binary, split, extra + ["trainer.max_steps=2"])
    p = subprocess.run(train_args(binary, split, extra + ["trainer.max_steps=4"]) + ["--resume", "auto"],
                       capture_output=True, text=True, env=clean_env(), timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "resuming with 1" in p.stdout + p.stderr
    assert_same_run(full, split, [1, 2, 3, 4])
    # And back: the 1-rank checkpoint (one optimizer file) resumed on 2 ZeRO-1 ranks.
    out = torchrun(binary, split, extra + ["trainer.max_steps=5"], resume=True)
    assert "resuming with 2" in out
    assert max(metrics(split)) == 5


# Several micro-batches a mini-batch (and a different number on each rank), small buckets (several
# per backward), KL in the loss: what makes sharded gradient reduction differ from all-reduce.
SHARDING = ["algorithm.kl_coef=0.05", "algorithm.micro_batch_tokens=300", "dist.bucket_mb=1"]


def run_one(binary, run_dir, extra, resume=False):
    p = subprocess.run(train_args(binary, run_dir, extra) + (["--resume", "auto"] if resume else []),
                       capture_output=True, text=True, env=clean_env(), timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout + p.stderr


def test_zero_stages_on_1_2_and_4_ranks_end_with_the_same_weights(binary, tmp_path):
    """Stages 0, 1 and 2 (gradients reduced to their owners after every backward) on 1, 2 and
    4 ranks take the same steps: per-step losses and final weights within 1e-5."""
    base = tmp_path / "one-rank"
    run_one(binary, base, SHARDING + ["optim.zero_stage=0"])
    for nproc in (2, 4):
        for stage in (0, 1, 2):
            run_dir = tmp_path / f"w{nproc}-zero{stage}"
            out = torchrun(binary, run_dir, SHARDING + [f"optim.zero_stage={stage}"], nproc=nproc)
            assert f"rank 0 of {nproc}" in out
            assert_same_run(base, run_dir, [1, 2, 3])
    # ZeRO-2 keeps the optimizer-state shards of ZeRO-1 in its checkpoint
    ckpt = tmp_path / "w2-zero2" / "checkpoints" / "step-000003"
    assert sorted(p.name for p in ckpt.glob("optimizer*.safetensors")) == [
        "optimizer-rank-00000-of-00002.safetensors", "optimizer-rank-00001-of-00002.safetensors"]


def test_a_zero2_checkpoint_resumes_under_other_stages_and_world_sizes(binary, tmp_path):
    """A 2-rank ZeRO-2 run stopped after step 2 resumes on 1 rank (stage 0) and on 4 ranks
    (stage 1), each ending where the uninterrupted 2-rank ZeRO-2 run ends."""
    extra = SHARDING + ["optim.schedule=constant", "trainer.sft_steps=0", "checkpoint.every=2"]
    full = tmp_path / "full"
    torchrun(binary, full, extra + ["optim.zero_stage=2", "trainer.max_steps=4"])
    for name, resume in (("to-1-rank", lambda d: run_one(binary, d, extra + ["optim.zero_stage=0", "trainer.max_steps=4"],
                                                         resume=True)),
                         ("to-4-ranks", lambda d: torchrun(binary, d, extra + ["optim.zero_stage=1", "trainer.max_steps=4"],
                                                           nproc=4, resume=True))):
        split = tmp_path / name
        torchrun(binary, split, extra + ["optim.zero_stage=2", "trainer.max_steps=2"])
        out = resume(split)
        assert "resuming from" in out, out
        assert_same_run(full, split, [1, 2, 3, 4])


# ZeRO-3 needs layers to shard: three, so that a layer's gather is prefetched while the one
# before it computes (forward) or after it (backward).
LAYERS = ["model.num_layers=3"]


@pytest.mark.parametrize("checkpointing", ["false", "true"])
def test_zero3_on_1_2_and_4_ranks_ends_with_the_weights_of_stage_0(binary, tmp_path, checkpointing):
    """Weights sharded too (gathered per layer in forward and backward, the whole model for the
    rollout, the reference sharded alike), with and without gradient checkpointing: the same
    steps as one rank of stage 0 (same sampled tokens, losses and final weights within 1e-5)."""
    extra = SHARDING + LAYERS + [f"model.gradient_checkpointing={checkpointing}"]
    base = tmp_path / "one-rank"
    run_one(binary, base, extra + ["optim.zero_stage=0"])
    one = tmp_path / "w1-zero3"
    run_one(binary, one, extra + ["optim.zero_stage=3"])
    assert_same_run(base, one, [1, 2, 3])
    for nproc in (2, 4):
        run_dir = tmp_path / f"w{nproc}-zero3"
        out = torchrun(binary, run_dir, extra + ["optim.zero_stage=3"], nproc=nproc)
        assert f"rank 0 of {nproc}" in out
        assert_same_run(base, run_dir, [1, 2, 3])
        for step in (1, 2, 3):  # the rollouts sampled the same tokens
            assert metrics(run_dir)[step]["response/length_mean"] == metrics(base)[step]["response/length_mean"]
    # The checkpoint has the other stages' format: the full model, one optimizer shard per rank.
    ckpt = tmp_path / "w2-zero3" / "checkpoints" / "step-000003"
    shards = sorted(p.name for p in ckpt.glob("optimizer*.safetensors"))
    assert shards == ["optimizer-rank-00000-of-00002.safetensors", "optimizer-rank-00001-of-00002.safetensors"]
    s0, s1 = (load_file(str(ckpt / n)) for n in shards)
    full = load_file(str(base / "checkpoints" / "step-000003" / "optimizer.safetensors"))
    assert set(s0) | set(s1) == set(full) and not (set(s0) & set(s1))
    for k, v in {**s0, **s1}.items():
        assert np.allclose(v, full[k], atol=1e-5, rtol=1e-4), k


def test_a_zero3_checkpoint_resumes_under_other_stages_and_world_sizes(binary, tmp_path):
    """Stopped after step 2 and resumed: ZeRO-3 on 2 ranks into ZeRO-3 on 2 ranks (bitwise the
    uninterrupted run), into stage 0 on 1 rank; ZeRO-2 on 2 ranks into ZeRO-3 on 4 ranks (the
    optimizer state re-cut into other shards): each ends where the uninterrupted run ends."""
    extra = SHARDING + LAYERS + ["optim.schedule=constant", "trainer.sft_steps=0", "checkpoint.every=2"]
    full = tmp_path / "full"
    torchrun(binary, full, extra + ["optim.zero_stage=3", "trainer.max_steps=4"])
    cases = (
        ("same", 3, lambda d: torchrun(binary, d, extra + ["optim.zero_stage=3", "trainer.max_steps=4"], resume=True), 0.0),
        ("to-1-rank", 3, lambda d: run_one(binary, d, extra + ["optim.zero_stage=0", "trainer.max_steps=4"],
                                           resume=True), 1e-5),
        ("2-to-3", 2, lambda d: torchrun(binary, d, extra + ["optim.zero_stage=3", "trainer.max_steps=4"],
                                         nproc=4, resume=True), 1e-5),
    )
    for name, first_stage, resume, tol in cases:
        split = tmp_path / name
        torchrun(binary, split, extra + [f"optim.zero_stage={first_stage}", "trainer.max_steps=2"])
        out = resume(split)
        assert "resuming from" in out, out
        assert_same_run(full, split, [1, 2, 3, 4], tol=tol)
