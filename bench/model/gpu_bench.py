#!/usr/bin/env python3
"""GPU benchmarks: principia beside transformers on the same GPU and the same weights.

Random weights in Qwen3 shapes, made by transformers in bf16 on the GPU, saved as a Hugging Face
directory and loaded by both:
  1. the machine's two ceilings: device-to-device copy bandwidth (bytes read + written) and an
     8192^3 bf16 matrix product;
  2. sampling tokens/s, Qwen3-0.6B shape, prompt 128, 512 new tokens (temperature 1, no EOS
     stop), batch 1, 16 and 64: transformers `generate` vs principia_bench_model sample; the
     batch-1 figure as a share of the memory-bandwidth bound (weight bytes per token / copy
     bandwidth);
  3. training forward+backward, Qwen3-1.7B shape, sequence 2048, bf16, activation checkpointing
     off and on: tokens/s and MFU = model FLOPs (6·N_matmul + 12·L·H·d_head·T per token, the
     PaLM count; recomputation not counted) / peak.
Writes a markdown section (printed, and to --out); never asserts timings.

  python3 bench/model/gpu_bench.py --build-dir build-gpu --out $OUT/gpu_bench.md
"""
import argparse
import datetime
import gc
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parents[2]
H200_DENSE_BF16_TFLOPS = 989.4  # datasheet, SXM (the H100's matrix rate)


def qwen3(size, smoke=False):
    if smoke:  # a few-MB model for checking this script without a GPU (--smoke)
        return transformers.Qwen3Config(vocab_size=512, num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=2, head_dim=16, hidden_size=64, intermediate_size=128,
                                        tie_word_embeddings=True, max_position_embeddings=4096)
    common = dict(vocab_size=151936, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                  head_dim=128, tie_word_embeddings=True, max_position_embeddings=40960, rope_theta=1000000.0,
                  rms_norm_eps=1e-6, bos_token_id=151643, eos_token_id=151645)
    if size == "0.6B":
        return transformers.Qwen3Config(hidden_size=1024, intermediate_size=3072, **common)
    return transformers.Qwen3Config(hidden_size=2048, intermediate_size=6144, **common)


def matmul_params(cfg):
    """Parameters that enter a matrix product per token: every layer's projections + the head."""
    d, hd, L = cfg.hidden_size, cfg.head_dim, cfg.num_hidden_layers
    attn = d * hd * (cfg.num_attention_heads * 2 + cfg.num_key_value_heads * 2)
    mlp = 3 * d * cfg.intermediate_size
    return L * (attn + mlp) + cfg.vocab_size * d


DEVICE = "cuda"


def sync():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def events_ms(fn, reps):
    """Median milliseconds of fn() (CUDA events on a GPU, the host clock otherwise)."""
    times = []
    for _ in range(reps):
        if DEVICE.startswith("cuda"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def ceilings(smoke):
    n = (1 << 20) if smoke else (1 << 30)  # 2 GiB of bf16, far beyond L2
    src = torch.randn(n, device=DEVICE, dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    ms = events_ms(lambda: dst.copy_(src), 20)
    copy_gbs = 2 * src.numel() * src.element_size() / (ms / 1e3) / 1e9
    src = dst = None
    k = 256 if smoke else 8192
    x = torch.randn(k, k, device=DEVICE, dtype=torch.bfloat16)
    y = torch.randn(k, k, device=DEVICE, dtype=torch.bfloat16)
    for _ in range(3):
        x @ y
    ms = events_ms(lambda: x @ y, 10)
    mm_tflops = 2 * k**3 / (ms / 1e3) / 1e12
    x = y = None
    empty_cache()
    return copy_gbs, mm_tflops


def empty_cache():
    gc.collect()
    if DEVICE.startswith("cuda"):
        torch.cuda.empty_cache()


def make_model(size, directory, smoke):
    cfg = qwen3(size, smoke)
    torch.manual_seed(0)
    with torch.device(DEVICE):
        model = transformers.Qwen3ForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(directory)
    return cfg, model


def hf_sample(model, batch, prompt_len, new_tokens):
    model.eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, model.config.vocab_size, (batch, prompt_len), generator=g).to(DEVICE)
    kw = dict(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, eos_token_id=None, pad_token_id=0,
              attention_mask=torch.ones_like(ids))
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=8, min_new_tokens=8, **kw)
        sync()
        t0 = time.perf_counter()
        out = model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kw)
        sync()
        s = time.perf_counter() - t0
    return (out.shape[1] - prompt_len) * batch / s


def hf_train(model, batch, seq, steps, ckpt):
    model.train()
    if ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_disable()
    model.config.use_cache = False
    g = torch.Generator().manual_seed(0)

    def step():
        ids = torch.randint(0, model.config.vocab_size, (batch, seq + 1), generator=g).to(DEVICE)
        out = model(input_ids=ids[:, :seq])
        loss = torch.nn.functional.cross_entropy(out.logits.float().reshape(-1, out.logits.shape[-1]),
                                                 ids[:, 1:].reshape(-1))
        model.zero_grad(set_to_none=False)
        loss.backward()
        return loss.item()

    step()
    sync()
    cuda = DEVICE.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    s = time.perf_counter() - t0
    return batch * seq * steps / s, (torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0)


def ours(build, *args):
    binary = pathlib.Path(build) / "bench" / "model" / "principia_bench_model"
    p = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"principia_bench_model {args[0]} failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])["tokens_per_s"]


def fmt(x):
    return f"{x:.0f}" if x else "failed"


def ratio(ours_tps, theirs_tps):
    return f"{ours_tps / theirs_tps:.2f}x" if ours_tps and theirs_tps else "-"


def guarded(rows, label, fn):
    """Runs one measurement; a failure becomes a row saying so, not a lost table."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - the table must survive one failed measurement
        rows.append(f"| {label} | failed: {str(e).splitlines()[-1][:200] if str(e) else type(e).__name__} | | | |")
        print(f"{label}: {e}", file=sys.stderr)
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=str(ROOT / "build-gpu"))
    ap.add_argument("--out", default="")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=512)
    ap.add_argument("--sample-batches", default="1,16,64")
    ap.add_argument("--train-batch", type=int, default=4)
    ap.add_argument("--train-seq", type=int, default=2048)
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--skip", default="", help="comma list of: sample, train")
    ap.add_argument("--device", default="cuda", help="cuda; cpu only with --smoke")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes: checks the script, measures nothing")
    args = ap.parse_args()
    global DEVICE
    DEVICE = args.device
    graph = "graph" if DEVICE.startswith("cuda") else "auto"
    skip = set(filter(None, args.skip.split(",")))
    t_all = time.perf_counter()
    name = torch.cuda.get_device_name() if DEVICE.startswith("cuda") else f"{DEVICE} (smoke run)"
    copy_gbs, mm_tflops = ceilings(args.smoke)
    print(f"ceilings: copy {copy_gbs:.0f} GB/s, bf16 matmul {mm_tflops:.0f} TFLOP/s", flush=True)
    sample_rows, train_rows = [], []

    def emit():
        """Prints nothing; (re)writes the section with the rows so far (a timeout keeps them)."""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            "## GPU",
            "",
            f"- Machine: {name}, CUDA {torch.version.cuda}, torch {torch.__version__}, transformers "
            f"{transformers.__version__}, {os.cpu_count()} host cores",
            f"- Date: {now}; {time.perf_counter() - t_all:.0f} s of the script so far",
            f"- Command: `python3 bench/model/gpu_bench.py {' '.join(sys.argv[1:])}` (from launch/gpu_check.sh)",
            f"- Ceilings measured here: device copy {copy_gbs:.0f} GB/s (read + write), bf16 8192^3 matmul "
            f"{mm_tflops:.0f} TFLOP/s. MFU is against the datasheet's {H200_DENSE_BF16_TFLOPS:.0f} TFLOP/s "
            f"(dense bf16); against the measured matmul rate multiply it by {H200_DENSE_BF16_TFLOPS / mm_tflops:.2f}.",
            "- Random weights in Qwen3 shapes (vocab 151936, 28 layers, 16 heads / 8 KV heads, head_dim 128, "
            "tied), bf16 on the GPU, made and saved by transformers, loaded by both. Sampling: temperature 1, "
            "no top-k/top-p, no EOS stop (every row makes every token).",
            "",
            "| workload | transformers tok/s | principia tok/s | ratio | goal / note |",
            "|---|---|---|---|---|",
            *sample_rows,
            *train_rows,
            "",
        ]
        if args.out:
            pathlib.Path(args.out).write_text("\n".join(lines))
        return "\n".join(lines)

    emit()
    pl, nt = args.prompt_len, args.new_tokens
    with tempfile.TemporaryDirectory(dir=os.environ.get("PRINCIPIA_BENCH_TMP")) as tmp:
        if "sample" not in skip:
            cfg, model = make_model("0.6B", tmp + "/q06", args.smoke)
            n_params = sum(p.numel() for p in model.parameters())
            weight_bytes = 2 * n_params  # bf16; the tied embedding is read once, as the head
            bound = copy_gbs * 1e9 / weight_bytes
            for b in map(int, args.sample_batches.split(",")):
                label = f"sampling, Qwen3-0.6B shape, batch {b}, prompt {pl}, {nt} new"
                hf = guarded(sample_rows, label + " (transformers)", lambda: hf_sample(model, b, pl, nt))
                empty_cache()
                us = guarded(sample_rows, label + " (principia, CUDA graph)",
                             lambda: ours(args.build_dir, "sample", tmp + "/q06", b, pl, nt, 16, DEVICE, "bfloat16",
                                          graph))
                eager = guarded(sample_rows, label + " (principia, eager)",
                                lambda: ours(args.build_dir, "sample", tmp + "/q06", b, pl, nt, 16, DEVICE,
                                             "bfloat16", "eager"))
                if hf or us:
                    extra = f"principia at {us / bound:.0%} of the bandwidth bound ({bound:.0f} tok/s; goal 60%)" \
                        if b == 1 and us else ("goal 3x at batch 64" if b == 64 else "")
                    sample_rows.append(f"| {label} | {fmt(hf)} | {fmt(us)} (eager {fmt(eager)}) | "
                                       f"{ratio(us, hf)} | {extra} |")
                print(sample_rows[-1] if sample_rows else label, flush=True)
                emit()
            model = None
            empty_cache()
        if "train" not in skip:
            cfg, model = make_model("1.7B", tmp + "/q17", args.smoke)
            tb, ts, tn = args.train_batch, args.train_seq, args.train_steps
            flops_per_token = 6 * matmul_params(cfg) + 12 * cfg.num_hidden_layers * \
                cfg.num_attention_heads * cfg.head_dim * ts
            for ckpt in (False, True):
                label = f"fwd+bwd, Qwen3-1.7B shape, {tb} x {ts} tokens, checkpointing {'on' if ckpt else 'off'}"
                hf = guarded(train_rows, label + " (transformers)", lambda: hf_train(model, tb, ts, tn, ckpt))
                model.zero_grad(set_to_none=True)
                empty_cache()
                us = guarded(train_rows, label + " (principia)",
                             lambda: ours(args.build_dir, "train", tmp + "/q17", tb, ts, tn, 16, DEVICE, "bfloat16",
                                          int(ckpt)))
                if hf or us:
                    mfu = lambda tps: f"{tps:.0f} (MFU {tps * flops_per_token / 1e12 / H200_DENSE_BF16_TFLOPS:.0%})" \
                        if tps else "failed"  # noqa: E731
                    train_rows.append(
                        f"| {label} | {mfu(hf[0] if hf else None)}{f'; peak {hf[1]:.0f} GiB' if hf else ''} | "
                        f"{mfu(us)} | {ratio(us, hf[0] if hf else None)} | goal MFU >= 40% |")
                print(train_rows[-1] if train_rows else label, flush=True)
                emit()
            model = None
    print(emit())


if __name__ == "__main__":
    main()
