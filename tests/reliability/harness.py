"""Fault injection around `principia train`: a tiny run (seconds on a CPU), killed or signalled
at chosen moments, then resumed with `--resume auto`; the final weights must be bitwise equal to
an uninterrupted run. Used by test_reliability.py (short, in CI) and by
`python tests/reliability/harness.py --kills 20` (the full run that writes docs/RELIABILITY.md).
"""
import argparse
import datetime
import hashlib
import json
import os
import pathlib
import platform
import random
import shutil
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
EXIT_PREEMPTED = 75  # core/stop_signal.h

# demo.yaml shrunk: a tiny model, few items, short outputs; 8 GRPO steps, a checkpoint every 2.
TINY = [
    "data.synth_options.train_items=200", "data.synth_options.eval_items=4",
    "tokenizer.train_vocab_size=400",
    "model.hidden_size=32", "model.intermediate_size=64", "model.num_layers=1",
    "model.num_heads=2", "model.num_kv_heads=1", "model.head_dim=16",
    "rollout.group_size=4", "rollout.batch_size=3", "rollout.max_new_tokens=12",
    "trainer.sft_steps=6", "trainer.sft_batch_size=4", "trainer.max_steps=8",
    "checkpoint.every=2", "checkpoint.keep_last=2", "eval.max_items=4", "log.every=1",
]


def train_cmd(binary, run_dir, extra=()):
    return [binary, "train", str(DEMO), f"run.output_dir={run_dir}", *TINY, *extra]


def final_digest(run_dir):
    """sha256 of the model weights in the newest checkpoint (the run's final state)."""
    latest = (pathlib.Path(run_dir) / "checkpoints" / "latest").read_text().strip()
    data = (pathlib.Path(run_dir) / "checkpoints" / latest / "model" / "model.safetensors").read_bytes()
    return latest, hashlib.sha256(data).hexdigest()


def run_to_end(binary, run_dir, extra=(), env=None):
    p = subprocess.run(train_cmd(binary, run_dir, extra), capture_output=True, text=True, env=env)
    return p.returncode, p.stdout + p.stderr


def start(binary, run_dir, extra=(), env=None):
    log = open(pathlib.Path(str(run_dir) + ".log"), "ab")
    return subprocess.Popen(train_cmd(binary, run_dir, extra), stdout=log, stderr=subprocess.STDOUT,
                            env=env)


def reference_run(binary, work):
    ref = pathlib.Path(work) / "reference-run"
    shutil.rmtree(ref, ignore_errors=True)
    rc, out = run_to_end(binary, ref)
    if rc != 0:
        raise RuntimeError(f"uninterrupted run failed ({rc}):\n{out}")
    return ref, final_digest(ref)


def timed_reference(binary, work):
    t0 = time.monotonic()
    ref, digest = reference_run(binary, work)
    return ref, digest, time.monotonic() - t0


def kill_and_resume(binary, work, index, delay_s, digest, sig=signal.SIGKILL):
    """Starts a fresh run, sends `sig` after delay_s seconds, resumes it with --resume auto and
    compares the final weights with `digest` (the uninterrupted run's). Returns a result dict."""
    run_dir = pathlib.Path(work) / f"kill-{index:02d}"
    shutil.rmtree(run_dir, ignore_errors=True)
    p = start(binary, run_dir)
    if sig == signal.SIGKILL:
        time.sleep(delay_s)
        killed = p.poll() is None
        if killed:
            p.send_signal(sig)
    else:
        # Preemption lands during GRPO: after `delay_s` (used as a number of finished steps).
        metrics = run_dir / "metrics.jsonl"
        while p.poll() is None and (not metrics.exists() or len(metrics.read_text().splitlines()) < delay_s):
            time.sleep(0.01)
        killed = p.poll() is None
        if killed:  # frozen while signalled, so the signal lands mid-run, not after the end
            p.send_signal(signal.SIGSTOP)
            p.send_signal(sig)
            p.send_signal(signal.SIGCONT)
    rc_first = p.wait()
    ckpts = sorted(d.name for d in (run_dir / "checkpoints").glob("step-*")) if (run_dir / "checkpoints").exists() else []
    phase = "after the run ended" if not killed else moment(run_dir)
    rc, out = run_to_end(binary, run_dir, ["--resume", "auto"])
    result = {"index": index, "delay_s": round(delay_s, 3), "signal": signal.Signals(sig).name,
              "killed": killed, "exit_code": rc_first, "phase": phase, "checkpoints_at_kill": ckpts,
              "resume_exit_code": rc}
    if rc != 0:
        result.update(ok=False, reason=out[-2000:])
        return result
    latest, d = final_digest(run_dir)
    result.update(final=latest, weights_equal=(d == digest[1] and latest == digest[0]),
                  ok=(d == digest[1] and latest == digest[0]))
    return result


def moment(run_dir):
    """Where the run was when it died, from what it left behind."""
    ck = run_dir / "checkpoints"
    temps = [d.name for d in ck.glob("*")] if ck.exists() else []
    if any(".tmp" in n or "partial" in n for n in temps):
        return "inside a checkpoint write"
    metrics = run_dir / "metrics.jsonl"
    if metrics.exists() and metrics.stat().st_size > 0:
        return "during GRPO"
    if (run_dir / "tokenizer" / "tokenizer.model").exists():
        return "during SFT / before GRPO"
    return "during set-up (data, tokenizer)"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", default=str(ROOT / "build" / "cli" / "principia"))
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=str(ROOT / "build" / "reliability"))
    ap.add_argument("--report", default=str(ROOT / "docs" / "RELIABILITY.md"))
    args = ap.parse_args()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ref, digest, duration = timed_reference(args.binary, work)
    rng = random.Random(args.seed)
    results, missed, i = [], 0, 0
    while len(results) < args.kills:  # a delay past the run's end is no kill: draw again
        r = kill_and_resume(args.binary, work, i, rng.uniform(0.2, duration * 0.95), digest)
        i += 1
        print(json.dumps(r), flush=True)
        if r["killed"] and r["exit_code"] == -9:
            results.append(r)
        else:
            missed += 1
    term = [kill_and_resume(args.binary, work, 100 + i, rng.randint(1, 6), digest, signal.SIGTERM)
            for i in range(5)]
    for r in term:
        print(json.dumps(r), flush=True)
    (work / "results.json").write_text(json.dumps({"kills": results, "sigterm": term}, indent=1))
    write_report(args, duration, results, term, missed)
    return 0 if all(r["ok"] for r in results + term) else 1


def write_report(args, duration, kills, term, missed):
    def row(fault, injected, rs):
        ok = sum(r["ok"] for r in rs)
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(
            {c: sum(r["exit_code"] == c for r in rs) for c in {r["exit_code"] for r in rs}}.items()))
        return (f"| {fault} | {injected} | {len(rs)} | exit codes {codes}; {ok}/{len(rs)} resumed with "
                "final weights bitwise equal to the uninterrupted run |")
    phases = {}
    for r in kills:
        phases.setdefault(r["phase"], []).append(r)
    lines = [
        "# Reliability",
        "",
        "Generated by `python tests/reliability/harness.py --kills %d --seed %d` on %s (%s, %s); do not edit by hand."
        % (args.kills, args.seed, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           platform.machine(), platform.node() and "Linux " + platform.release()),
        "",
        "The run under test: `configs/demo.yaml` shrunk to seconds (tests/reliability/harness.py `TINY`: 6 SFT",
        "steps, 8 GRPO steps, a checkpoint every 2 steps, keep_last 2); uninterrupted it takes %.1f s." % duration,
        "Each fault starts a fresh run, injects the fault at a uniformly random moment, then runs",
        "`principia train … --resume auto` and compares the final checkpoint's `model.safetensors` (sha256)",
        "with the uninterrupted run's. %d drawn delays fell after the run had ended and were drawn again." % missed,
        "",
        "| fault | how it was injected | times | outcome |",
        "|---|---|---|---|",
    ]
    for phase, rs in sorted(phases.items()):
        lines.append(row(f"SIGKILL {phase}", "`kill -9` after a random delay", rs))
    lines.append(row("SIGTERM (preemption)", "`kill -TERM` after 1-6 GRPO steps (random): the run finishes the step, checkpoints, exits 75", term))
    lines += [
        "",
        "Also tested in CI (tests/reliability/test_reliability.py, tests/unit/trainer/test_checkpoint.cpp):",
        "a truncated or bit-flipped file of each kind in a checkpoint is named through the MANIFEST and",
        "`--resume auto` falls back to the previous checkpoint; a second SIGTERM exits at once; a",
        "non-finite loss (injected with `PRINCIPIA_FAULT_NONFINITE_STEPS`) skips the update and is",
        "counted, and `trainer.max_bad_steps` in a row stop the run with a checkpoint of the last good state.",
        "",
    ]
    pathlib.Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.report).write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
