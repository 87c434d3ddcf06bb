#!/usr/bin/env python3
"""Model throughput: principia (LibTorch, C++) vs Hugging Face transformers, same weights.

One invocation does both: builds a random Qwen3-shaped model of ~30M parameters with
transformers, saves it, times transformers' forward+backward and generate() in this process,
runs build/bench/model/principia_bench_model on the saved directory, prints the ratios and
records them in bench/RESULTS.md under "## Model (CPU)" (or "## Model (CUDA)" with --device cuda).

  .venv/bin/python bench/model/run_bench.py --build-dir build-model [--threads 2] [--no-write]
  python3 bench/model/run_bench.py --device cuda --dtype bfloat16 ...   (a GPU machine)
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parents[2]


def qwen3_30m():
    # 28.9M parameters: vocab 32000 x 384 tied embedding (12.3M) + 10 layers of 1.66M.
    return transformers.Qwen3Config(
        vocab_size=32000, hidden_size=384, intermediate_size=1024, num_hidden_layers=10,
        num_attention_heads=6, num_key_value_heads=2, head_dim=64, tie_word_embeddings=True,
        max_position_embeddings=2048, rope_theta=1000000.0, bos_token_id=1, eos_token_id=2)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def hf_train(model, batch, seq, steps, device="cpu"):
    model.train()
    g = torch.Generator().manual_seed(0)

    def step():
        ids = torch.randint(0, model.config.vocab_size, (batch, seq + 1), generator=g).to(device)
        out = model(input_ids=ids[:, :seq], labels=None)
        # The same loss as ours: mean next-token NLL over every position.
        loss = torch.nn.functional.cross_entropy(
            out.logits.float().reshape(-1, out.logits.shape[-1]), ids[:, 1:].reshape(-1))
        model.zero_grad(set_to_none=False)
        loss.backward()
        return loss.item()

    step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    s = time.perf_counter() - t0
    return batch * seq * steps / s, s


def hf_sample(model, batch, prompt_len, new_tokens, device="cpu"):
    model.eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, model.config.vocab_size, (batch, prompt_len), generator=g).to(device)
    kw = dict(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, eos_token_id=None,
              pad_token_id=0)
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=4, min_new_tokens=4, **kw)
        sync(device)
        t0 = time.perf_counter()
        out = model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kw)
        sync(device)
        s = time.perf_counter() - t0
    n = (out.shape[1] - prompt_len) * batch
    return n / s, s


def ours(binary, mode, model_dir, a, b, c, threads, device="cpu", dtype="float32"):
    p = subprocess.run([str(binary), mode, str(model_dir), str(a), str(b), str(c), str(threads), device, dtype],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{binary} {mode} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def write_results(section, head):
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(head)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + text[nxt + 1:] if nxt >= 0 else "")
    path.write_text(text if text.endswith("\n") else text + "\n")
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=str(ROOT / "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-batch", type=int, default=4)
    ap.add_argument("--train-seq", type=int, default=256)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--sample-batch", type=int, default=16)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--repeat", type=int, default=3, help="measure this many times; report medians")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    binary = pathlib.Path(args.build_dir) / "bench" / "model" / "principia_bench_model"
    if not binary.exists():
        sys.exit(f"{binary} not found: build the principia_bench_model target first")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = qwen3_30m()
    model = transformers.Qwen3ForCausalLM(cfg).float()
    n_params = sum(p.numel() for p in model.parameters())
    dev, dt = args.device, args.dtype
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        model = model.to(device=dev, dtype=getattr(torch, dt))
        runs = []  # the engines alternate within each repeat, so a slow spell hits both
        tb, ts, tn = args.train_batch, args.train_seq, args.train_steps
        sb, pl, nt = args.sample_batch, args.prompt_len, args.new_tokens
        for _ in range(args.repeat):
            r = {"train_hf": hf_train(model, tb, ts, tn, dev)[0],
                 "train_ours": ours(binary, "train", tmp, tb, ts, tn, args.threads, dev, dt)["tokens_per_s"],
                 "sample_hf": hf_sample(model, sb, pl, nt, dev)[0],
                 "sample_ours": ours(binary, "sample", tmp, sb, pl, nt, args.threads, dev, dt)["tokens_per_s"]}
            r["train_ratio"] = r["train_ours"] / r["train_hf"]
            r["sample_ratio"] = r["sample_ours"] / r["sample_hf"]
            runs.append(r)
    results = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    train_ratio, sample_ratio = results["train_ratio"], results["sample_ratio"]
    per_run = lambda k: ", ".join(f"{r[k]:.2f}x" for r in runs)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = " ".join([".venv/bin/python bench/model/run_bench.py"] + sys.argv[1:])
    head = "## Model (CUDA)" if dev.startswith("cuda") else "## Model (CPU)"
    where = (f"{torch.cuda.get_device_name()}, CUDA {torch.version.cuda}, host " if dev.startswith("cuda") else "")
    lines = [
        head,
        "",
        f"Qwen3-shaped model, {n_params / 1e6:.1f}M parameters (hidden 384, 10 layers, 6 heads / "
        f"2 KV heads, head_dim 64, vocab 32000, tied), {dt} on {dev}, random weights made and saved by "
        f"transformers and loaded by both. {args.threads} threads each "
        f"(torch.set_num_threads / at::set_num_threads).",
        "",
        f"- Machine: {where}{cpu_name()}, {os.cpu_count()} cores (1-min load average at the end "
        f"{os.getloadavg()[0]:.1f}: the machine is shared, so figures are noisy); "
        f"torch {torch.__version__}, "
        f"transformers {transformers.__version__}",
        f"- Date: {now}",
        f"- Command: `{cmd}`",
        "",
        "| workload | transformers tok/s | principia tok/s | ratio | goal |",
        "|---|---|---|---|---|",
        f"| forward+backward, batch {tb} x {ts} tokens | {results['train_hf']:.0f} | "
        f"{results['train_ours']:.0f} | {train_ratio:.2f}x | >= 1.1x |",
        f"| sampling, batch {sb}, prompt {pl}, {nt} new tokens | {results['sample_hf']:.1f} | "
        f"{results['sample_ours']:.1f} | {sample_ratio:.2f}x | >= 2.0x |",
        "",
        f"Medians of {len(runs)} repeats in this invocation (each repeat runs both, one after the "
        f"other). Ratio per repeat: forward+backward {per_run('train_ratio')}; sampling "
        f"{per_run('sample_ratio')}.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        print(f"written to {write_results(section, head)}")


if __name__ == "__main__":
    main()
