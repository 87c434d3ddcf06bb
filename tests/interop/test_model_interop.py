"""Our transformer against Hugging Face transformers on the same weights (CPU, fp32).

Random Qwen3 and Llama models (GQA; tied and untied heads) are made and saved with transformers;
principia_model_probe dumps our logits for the same ids and they must agree within 1e-4. A model
we train for a few AdamW steps and `principia export` (sharded) must load in transformers with
matching logits. `principia generate --greedy` must equal transformers' greedy generate, and on
stories260k the expected ids exactly.
"""
import json
import os
import pathlib

import pytest

from conftest import run

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file  # noqa: E402


def probe_bin():
    build = os.environ.get("PRINCIPIA_BUILD_DIR")
    p = pathlib.Path(build or "") / "tests" / "unit" / "model" / "principia_model_probe"
    if not build or not p.exists():
        pytest.skip("principia_model_probe not built (run through ctest)")
    return str(p)


def make_model(kind, tied, path, seed=0):
    torch.manual_seed(seed)
    common = dict(vocab_size=211, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                  num_attention_heads=8, num_key_value_heads=2, head_dim=16,
                  tie_word_embeddings=tied, max_position_embeddings=256, rms_norm_eps=1e-6,
                  bos_token_id=1, eos_token_id=2)
    if kind == "qwen3":
        cfg = transformers.Qwen3Config(rope_theta=1000000.0, **common)
        model = transformers.Qwen3ForCausalLM(cfg)
    else:
        cfg = transformers.LlamaConfig(rope_theta=10000.0, **common)
        model = transformers.LlamaForCausalLM(cfg)
    # Spread the weights so logits differ clearly (default init gives near-uniform outputs) and
    # the norms are not all ones (a wrong norm would go unnoticed).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.normal_(0, 0.15)
    model.eval()
    model.save_pretrained(path)
    return model


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits.float()


def our_logits(model_dir, ids, tmp_path):
    out = tmp_path / "logits.safetensors"
    run([probe_bin(), "logits", str(model_dir), str(out)] + [str(i) for i in ids])
    return load_file(str(out))["logits"]


IDS = [1, 17, 93, 4, 150, 200, 33, 33, 7, 88, 120, 5, 9, 61, 2, 190, 45, 3, 77, 101]


@pytest.mark.parametrize("kind", ["qwen3", "llama"])
@pytest.mark.parametrize("tied", [False, True])
def test_logits_match_transformers(kind, tied, tmp_path):
    d = tmp_path / "hf"
    model = make_model(kind, tied, d)
    ref = hf_logits(model, IDS)
    ours = our_logits(d, IDS, tmp_path)
    assert ours.shape == ref.shape
    diff = (ours - ref).abs().max().item()
    assert diff < 1e-4, f"{kind} tied={tied}: max |logit diff| {diff}"


@pytest.mark.parametrize("kind", ["qwen3", "llama"])
def test_trained_then_exported_model_loads_in_transformers(kind, tmp_path, principia_bin):
    base = tmp_path / "base"
    make_model(kind, kind == "llama", base, seed=3)
    trained = tmp_path / "ckpt" / "model"  # the trainer's checkpoint layout: CKPT/model/
    run([probe_bin(), "train", str(base), str(trained), "3", "7"])
    out = tmp_path / "export"
    run([principia_bin, "export", str(tmp_path / "ckpt"), str(out), "--max-shard-size", "100KB"])
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1
    for s in shards:
        assert (out / s).stat().st_size <= 100_000 + 8192  # one tensor may not be split
    model = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    model.eval()
    base_model = transformers.AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    ref = hf_logits(model, IDS)
    # The steps changed the weights...
    assert (ref - hf_logits(base_model, IDS)).abs().max().item() > 1e-3
    # ...and transformers reads back exactly what we compute.
    ours = our_logits(trained, IDS, tmp_path)
    assert (ours - ref).abs().max().item() < 1e-4


@pytest.mark.parametrize("kind", ["qwen3", "llama"])
def test_greedy_generate_matches_transformers(kind, tmp_path, principia_bin):
    d = tmp_path / "hf"
    model = make_model(kind, False, d, seed=5)
    prompt = [1, 45, 9, 130, 77]
    with torch.no_grad():  # both stop at the config's EOS (id 2)
        ref = model.generate(torch.tensor([prompt]), max_new_tokens=24, do_sample=False,
                             eos_token_id=2, pad_token_id=0)[0, len(prompt):].tolist()
    p = run([principia_bin, "generate", "--model", str(d), "--prompt-ids",
             " ".join(map(str, prompt)), "--greedy", "--max-new-tokens", "24"])
    assert [int(x) for x in p.stdout.split()] == ref


def test_stories260k_greedy_cli(shared_data, principia_bin):
    d = shared_data / "models" / "stories260k"
    expected = json.loads((d / "expected.json").read_text())
    p = run([principia_bin, "generate", "--model", str(d), "--prompt-ids", "1",
             "--max-new-tokens", "200", "--greedy"])
    assert p.stdout.splitlines()[0].split() == [str(i) for i in expected["greedy_ids"]]


def test_generate_reports_bad_model_dir(tmp_path, principia_bin):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    p = run([principia_bin, "generate", "--model", str(tmp_path), "--prompt-ids", "1"], check=False)
    assert p.returncode == 2
    assert "gpt2" in p.stderr and "config.json" in p.stderr
