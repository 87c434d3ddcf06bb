"""principia's tokenizers against the reference Python clients on the same text:
SentencePiece (llama2-spm) == python sentencepiece; byte-level BPE on the Qwen ranks == tiktoken
(same ranks, pattern and specials) on a few MB of mixed text; and the same ranks as a Hugging Face
tokenizer.json (made by transformers' TikTokenConverter) == the `tokenizers` library, with merges,
with ignore_merges, and with an NFC normalizer. Each side encodes the whole batch in one call."""
import base64
import json
import os
import pathlib
import sys

import pytest

from conftest import run

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "tokenizer"))
from mixed_text import mixed_text  # noqa: E402

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CL100K_PATTERN = (r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"
                  r"|\s*[\r\n]|\s+(?!\S)|\s+")
QWEN_SPECIALS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}


def chunks(text, size, seed_offsets=(0, 1, 3, 7)):
    """Cut text into pieces of about `size` characters, at varying offsets (mid-word, mid-run)."""
    out, pos, k = [], 0, 0
    while pos < len(text):
        n = size + seed_offsets[k % len(seed_offsets)] * 37
        out.append(text[pos:pos + n])
        pos += n
        k += 1
    return out


def principia_encode(bin_, tokenizer, texts, tmp_path, extra=()):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    p = run([bin_, "tokenize", "--tokenizer", str(tokenizer), "--jsonl", "--input-file", str(src), *extra])
    lines = p.stdout.splitlines()
    assert len(lines) == len(texts)
    return [json.loads(line) for line in lines]


def assert_same(ours, theirs, texts, what):
    bad = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    if bad:
        i = bad[0]
        pytest.fail(f"{what}: {len(bad)}/{len(texts)} texts differ; first: {texts[i]!r}\n"
                    f"ours:   {ours[i][:60]}\ntheirs: {theirs[i][:60]}")


def varied_texts():
    texts = ["", " ", "  ", "\n", " leading", "trailing ", "a  b   c", "Hello world", "ÄÖÜ ß",
             "中文测试", "🚀🚀 emoji", "1234567890", "tab\there", "line\nbreak\r\nwin", "x" * 500,
             "don't it's I'M", "   \n\n   ", "<s> </s> <unk>", "\u2028\u00a0nbsp", "e\u0301 composed?"]
    return texts + chunks(mixed_text(600_000, seed=7), 900)


def test_sentencepiece_matches_python_sentencepiece(principia_bin, shared_data, tmp_path):
    import sentencepiece as spm
    model = shared_data / "tokenizers" / "llama2-spm" / "tokenizer.model"
    sp = spm.SentencePieceProcessor(model_file=str(model))
    texts = varied_texts()
    theirs = [sp.encode(t) for t in texts]
    ours = principia_encode(principia_bin, model, texts, tmp_path)
    assert_same(ours, theirs, texts, "sentencepiece")
    with_bos = principia_encode(principia_bin, model, texts[:50], tmp_path, ["--bos"])
    assert with_bos == [sp.encode(t, add_bos=True) for t in texts[:50]]


def load_ranks(path):
    ranks = {}
    for line in path.read_bytes().splitlines():
        if line.strip():
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    return ranks


@pytest.fixture(scope="module")
def qwen_ranks():
    from conftest import shared_data_dir
    d = shared_data_dir()
    if d is None:
        pytest.skip("shared test data not found")
    return d / "tokenizers" / "qwen2-bpe" / "qwen.tiktoken"


def test_bpe_matches_tiktoken_on_mixed_text(principia_bin, qwen_ranks, tmp_path):
    import tiktoken
    enc = tiktoken.Encoding("qwen2-test", pat_str=QWEN2_PATTERN, mergeable_ranks=load_ranks(qwen_ranks),
                            special_tokens=QWEN_SPECIALS)
    text = mixed_text(3_000_000, seed=2024)
    texts = chunks(text, 4000) + varied_texts()[:20]
    theirs = enc.encode_ordinary_batch(texts, num_threads=1)
    ours = principia_encode(principia_bin, qwen_ranks, texts, tmp_path)
    assert_same(ours, theirs, texts, "tiktoken")
    assert sum(len(x) for x in ours) > 500_000

    # Special tokens split out first (tiktoken's allowed_special="all" == our --specials).
    chat = ["<|im_start|>system\nYou judge.<|im_end|>\n<|im_start|>user\n{\"a\": 1}<|im_end|>\n<|im_start|>assistant\n",
            "text<|endoftext|>more<|im_end|><|im_end|>x", "<|im_end", "<|endoftext|>"]
    ours = principia_encode(principia_bin, qwen_ranks, chat, tmp_path, ["--specials"])
    assert ours == [enc.encode(t, allowed_special="all") for t in chat]
    # Without --specials, special text is ordinary text (tiktoken's encode_ordinary).
    ours = principia_encode(principia_bin, qwen_ranks, chat, tmp_path)
    assert ours == [enc.encode_ordinary(t) for t in chat]


@pytest.mark.parametrize("name,pattern", [("llama3", LLAMA3_PATTERN), ("cl100k", CL100K_PATTERN)])
def test_bpe_other_named_patterns_match_tiktoken(principia_bin, qwen_ranks, tmp_path, name, pattern):
    """The same ranks under the Llama-3 and cl100k pre-tokenizer patterns (`--pattern NAME`)."""
    import tiktoken
    enc = tiktoken.Encoding(f"{name}-test", pat_str=pattern, mergeable_ranks=load_ranks(qwen_ranks),
                            special_tokens={})
    texts = chunks(mixed_text(1_000_000, seed=5), 4000) + varied_texts()[:20]
    theirs = enc.encode_ordinary_batch(texts, num_threads=1)
    ours = principia_encode(principia_bin, qwen_ranks, texts, tmp_path, ["--pattern", name])
    assert_same(ours, theirs, texts, f"tiktoken ({name} pattern)")


@pytest.fixture(scope="module")
def hf_tokenizer_json(qwen_ranks, tmp_path_factory):
    pytest.importorskip("tokenizers")
    from transformers.convert_slow_tokenizer import TikTokenConverter
    tok = TikTokenConverter(vocab_file=str(qwen_ranks), pattern=QWEN2_PATTERN,
                            extra_special_tokens=list(QWEN_SPECIALS)).converted()
    d = tmp_path_factory.mktemp("hf-qwen")
    tok.save(str(d / "base.json"))
    return json.loads((d / "base.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("variant", ["as-converted", "merges-only", "nfc"])
def test_hf_tokenizer_json_matches_tokenizers(principia_bin, hf_tokenizer_json, variant, tmp_path):
    from tokenizers import Tokenizer
    j = json.loads(json.dumps(hf_tokenizer_json))
    if variant in ("merges-only", "nfc"):
        j["model"]["ignore_merges"] = False  # the merge ranks alone decide
    if variant == "nfc":
        j["normalizer"] = {"type": "NFC"}   # as Qwen2's own tokenizer.json
    d = tmp_path / "model"
    d.mkdir()
    (d / "tokenizer.json").write_text(json.dumps(j, ensure_ascii=False), encoding="utf-8")
    hf = Tokenizer.from_file(str(d / "tokenizer.json"))
    texts = chunks(mixed_text(800_000, seed=99), 3000) + varied_texts()[:20]
    theirs = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    ours = principia_encode(principia_bin, d, texts, tmp_path)
    assert_same(ours, theirs, texts, f"tokenizers ({variant})")
    # Added tokens are split out before the BPE, as HF does for every added token.
    chat = ["<|im_start|>user\nhi<|im_end|>\n", "a<|endoftext|>b"]
    assert principia_encode(principia_bin, d, chat, tmp_path, ["--specials"]) == \
        [hf.encode(t, add_special_tokens=False).ids for t in chat]
