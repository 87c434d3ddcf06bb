"""Memory per rank, planned (`principia plan`) against measured, for ZeRO stages on 1, 2 and 4
Gloo ranks under torchrun on the CPU.

Each case trains a Qwen3-shaped model (the demo's synthetic task and tokenizer, the shape below)
for a few GRPO steps with a reference model, and reads rank 0's `memory/peak_rss_gib` minus
`memory/baseline_rss_gib` (the process before any data or model) from metrics.jsonl. glibc is
asked to map every allocation of 64 KiB or more on its own (MALLOC_MMAP_THRESHOLD_), so freed
tensors leave the resident set at once and the peak RSS is the peak of live memory, as
`max_memory_allocated` is on a GPU. Prints a markdown table; --out appends it to a file.

    .venv/bin/python bench/memory/run_memory_bench.py --binary build/cli/principia
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
TORCHRUN = pathlib.Path(sys.executable).parent / "torchrun"

# About 0.1B parameters (104M with the demo's 512-token vocabulary): stage 0 on 4 ranks fits 24 GB.
SHAPE = ["model.hidden_size=768", "model.intermediate_size=3072", "model.num_layers=12",
         "model.num_heads=12", "model.num_kv_heads=4", "model.head_dim=64"]
RUN = ["data.synth_options.train_items=64", "data.synth_options.eval_items=4", "eval.every=0", "eval.max_items=1",
       "trainer.sft_steps=0", "trainer.max_steps=3", "checkpoint.every=0", "log.every=1",
       # 8 items x 2 samples: even on 4 ranks each rank has sequences enough to fill a micro-batch
       # of micro_batch_tokens, as the plan assumes (with 2 sequences a rank it measured 15 % under).
       "rollout.batch_size=8", "rollout.group_size=2", "rollout.max_new_tokens=32",
       "algorithm.kl_coef=0.001", "algorithm.micro_batch_tokens=512", "dist.bucket_mb=4"]


def gib(text, label):
    m = re.search(r"^\s*" + re.escape(label) + r"\s+([0-9.]+) GiB", text, re.M)
    if not m:
        raise RuntimeError(f"plan output has no '{label}':\n{text}")
    return float(m.group(1))


def plan(binary, overrides, world):
    out = subprocess.run([binary, "plan", str(DEMO), *overrides, "--world-size", str(world), "--gpu-memory-gib", "0"],
                         capture_output=True, text=True, check=True).stdout
    return {"rollout": gib(out, "rollout phase (no gradients)"), "update": gib(out, "update phase"),
            "peak": gib(out, "peak")}


def measure(binary, overrides, world, work):
    run_dir = pathlib.Path(work) / f"w{world}-{'-'.join(o.split('=')[1] for o in overrides if 'zero_stage' in o)}"
    shutil.rmtree(run_dir, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_", "MASTER_"))}
    env.update(MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // world)))
    cmd = [binary, "train", str(DEMO), f"run.output_dir={run_dir}", *overrides]
    if world > 1:
        cmd = [str(TORCHRUN), "--standalone", "--nproc-per-node", str(world), "--no-python", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError(f"run failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines() if l]
    last = rows[-1]
    return last["memory/peak_rss_gib"] - last["memory/baseline_rss_gib"], last["memory/baseline_rss_gib"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build" / "cli" / "principia"))
    ap.add_argument("--worlds", default="1,2,4")
    ap.add_argument("--stages", default="0,1,2,3")
    ap.add_argument("--out", help="append the table to this file")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="principia-mem-") as work:
        for world in [int(w) for w in args.worlds.split(",")]:
            for stage in [int(s) for s in args.stages.split(",")]:
                if world == 1 and stage > 0:
                    continue  # one rank: nothing to shard, every stage is stage 0
                overrides = SHAPE + RUN + [f"optim.zero_stage={stage}"]
                planned = plan(args.binary, overrides, world)
                used, baseline = measure(args.binary, overrides, world, work)
                rows.append((world, stage, planned, used, baseline))
                print(f"world {world} stage {stage}: planned {planned}, measured {used:.3f} GiB "
                      f"(baseline {baseline:.3f})", flush=True)
    lines = [f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} "
             f"({os.cpu_count()} cores), `{' '.join(['python', 'bench/memory/run_memory_bench.py'] + sys.argv[1:])}`:",
             "", "| ranks | stage | planned rollout | planned update | planned peak | measured peak (rank 0) | measured / planned |",
             "|---|---|---|---|---|---|---|"]
    for world, stage, planned, used, _ in rows:
        lines.append(f"| {world} | {stage} | {planned['rollout']:.3f} GiB | {planned['update']:.3f} GiB | "
                     f"{planned['peak']:.3f} GiB | {used:.3f} GiB | {used / planned['peak']:.2f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        with open(args.out, "a") as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
