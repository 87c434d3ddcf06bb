"""Data-parallel scaling on this machine: the demo model's GRPO step on 1 rank vs 2 ranks
(torchrun, Gloo) with the same global batch, read from each run's metrics.jsonl.

  .venv/bin/python bench/dist/bench_dp.py --bin build/cli/principia [--steps 6]

Every run uses all the machine's cores: 1 rank x N threads, 2 ranks x N/2 threads. With the
hardware fixed, the ideal is the same step time (speed-up 1.0): scaling efficiency here is
t(1 rank) / t(2 ranks), i.e. how much of the cores' work survives being split into ranks that
exchange gradients every step. (On more hardware it is t1 / (W x tW) at a fixed per-rank batch.)
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
TORCHRUN = pathlib.Path(sys.executable).parent / "torchrun"


def run(binary, ranks, steps, extra, work):
    run_dir = pathlib.Path(work) / f"r{ranks}-{abs(hash(tuple(extra)))}"
    args = [str(ROOT / "configs" / "demo.yaml"), f"run.output_dir={run_dir}", "trainer.sft_steps=0",
            f"trainer.max_steps={steps}", "checkpoint.every=0", "eval.max_items=1", "log.every=1", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_", "MASTER_"))}
    env["OMP_NUM_THREADS"] = str(max(1, os.cpu_count() // ranks))
    if ranks == 1:
        cmd = [binary, "train", *args]
    else:
        cmd = [str(TORCHRUN), "--standalone", "--nproc-per-node", str(ranks), "--no-python", binary, "train", *args]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(p.stdout + p.stderr)
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rows = rows[1:]  # the first step warms up allocators and caches
    med = lambda k: statistics.median(r[k] for r in rows)
    return {"step_s": med("time/step_s"), "rollout_s": med("time/rollout_s"), "update_s": med("time/update_s"),
            "wall_s": time.monotonic() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--steps", type=int, default=6)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        cases = [("1 rank", 1, []), ("2 ranks, bucket 25 MB", 2, ["dist.bucket_mb=25"]),
                 ("2 ranks, bucket 1 MB", 2, ["dist.bucket_mb=1"]),
                 ("2 ranks, ZeRO-1", 2, ["optim.zero_stage=1"])]
        results = [(name, ranks, run(a.bin, ranks, a.steps, extra, work)) for name, ranks, extra in cases]
    base = results[0][2]["step_s"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")
    print("| run | step s (median) | rollout s | update s | speed-up vs 1 rank | scaling efficiency (same cores) |")
    print("|---|---|---|---|---|---|")
    for name, ranks, r in results:
        speedup = base / r["step_s"]
        print(f"| {name} | {r['step_s']:.2f} | {r['rollout_s']:.2f} | {r['update_s']:.2f} | "
              f"{speedup:.2f}x | {speedup:.0%} |")


if __name__ == "__main__":
    main()
