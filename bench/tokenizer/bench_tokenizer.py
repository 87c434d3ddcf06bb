#!/usr/bin/env python3
"""principia's byte-level BPE vs tiktoken, side by side in one run: the same text (deterministic
mixed text, mixed_text.py), the same ranks, the same pre-tokenizer pattern, one thread each.
Checks that both produce the same ids, then prints MB/s for each and the ratio ours/tiktoken.

  python bench/tokenizer/bench_tokenizer.py --bench BUILD/bench/tokenizer/bench_tokenizer \
      --ranks ../shared/data/tokenizers/qwen2-bpe/qwen.tiktoken [--mb 4] [--passes 5]
"""
import argparse
import base64
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mixed_text import mixed_text  # noqa: E402

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def load_ranks(path):
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                tok, rank = line.split()
                ranks[base64.b64decode(tok)] = int(rank)
    return ranks


def fnv1a_ids(ids):
    h = 1469598103934665603
    for i in ids:
        for c in (str(i) + ",").encode():
            h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path of the bench_tokenizer binary")
    ap.add_argument("--ranks", required=True, help="qwen.tiktoken")
    ap.add_argument("--mb", type=float, default=4.0)
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args()

    import tiktoken
    text = mixed_text(int(args.mb * 1e6), seed=1234)
    data = text.encode("utf-8")
    enc = tiktoken.Encoding("qwen2-bench", pat_str=QWEN2_PATTERN, mergeable_ranks=load_ranks(args.ranks),
                            special_tokens={})
    best = 1e30
    for _ in range(args.passes):
        t0 = time.perf_counter()
        ids = enc.encode_ordinary(text)
        best = min(best, time.perf_counter() - t0)
    tk = {"tokens": len(ids), "fnv1a_ids": fnv1a_ids(ids), "best_seconds": best, "mb_per_s": len(data) / best / 1e6}

    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(data)
        path = f.name
    try:
        out = subprocess.run([args.bench, "--tokenizer", args.ranks, "--input", path, "--passes", str(args.passes)],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    ours = json.loads(out)
    same = ours["tokens"] == tk["tokens"] and ours["fnv1a_ids"] == tk["fnv1a_ids"]
    result = {
        "text_bytes": len(data),
        "text_sha256": hashlib.sha256(data).hexdigest()[:16],
        "tiktoken_version": tiktoken.__version__ if hasattr(tiktoken, "__version__") else "?",
        "tiktoken_mb_per_s": round(tk["mb_per_s"], 2),
        "principia_mb_per_s": round(ours["mb_per_s"], 2),
        "ratio_principia_over_tiktoken": round(ours["mb_per_s"] / tk["mb_per_s"], 3),
        "tokens": tk["tokens"],
        "identical_ids": same,
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, {platform.platform()}",
    }
    print(json.dumps(result, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
