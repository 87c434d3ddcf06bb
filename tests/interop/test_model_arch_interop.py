"""The base-model families people start from, against transformers on the same random weights
(CPU, fp32): Qwen2 (q/k/v biases, no q/k norm) and RoPE scaling (linear, dynamic NTK, Llama 3.1's
llama3, YaRN) on Llama, Qwen2 and Qwen3 shapes.

Each model is made by transformers from a config (torch.manual_seed) and saved with
save_pretrained; principia loads it: logits within 1e-4 over 320 positions (past
max_position_embeddings = 128, so every scaling is exercised), greedy generation equal token for
token (dynamic NTK re-derives its frequencies as the sequence grows, as transformers does), and the
config survives `principia export`. Unsupported variants keep their clear error.
"""
import json
import os
import pathlib

import pytest

from conftest import run

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file  # noqa: E402

VOCAB = 211
ROPES = {
    "default": None,
    "linear": {"rope_type": "linear", "factor": 2.0},
    "dynamic": {"rope_type": "dynamic", "factor": 2.0},
    "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64},
    "yarn": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32},
}
CASES = [("qwen2", "default"), ("qwen2", "yarn"), ("qwen2", "dynamic"), ("llama", "llama3"),
         ("llama", "linear"), ("llama", "dynamic"), ("llama", "yarn"), ("qwen3", "yarn"), ("qwen3", "linear")]


def probe_bin():
    build = os.environ.get("PRINCIPIA_BUILD_DIR")
    p = pathlib.Path(build or "") / "tests" / "unit" / "model" / "principia_model_probe"
    if not build or not p.exists():
        pytest.skip("principia_model_probe not built (run through ctest)")
    return str(p)


def make_model(kind, rope, path, seed=0, tied=False):
    torch.manual_seed(seed)
    common = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=16, tie_word_embeddings=tied,
                  max_position_embeddings=128, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2,
                  rope_theta=10000.0)
    if ROPES[rope] is not None:
        common["rope_scaling"] = dict(ROPES[rope])
    cls = {"qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM),
           "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM),
           "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM)}[kind]
    model = cls[1](cls[0](**common))
    # Spread the weights (and the biases) so a wrong term shows clearly in the logits.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.normal_(0, 0.15)
    model.eval()
    model.save_pretrained(path)
    return model


def ids(n, seed):
    g = torch.Generator().manual_seed(seed)
    return [1] + torch.randint(3, VOCAB, (n - 1,), generator=g).tolist()


@pytest.mark.parametrize("kind,rope", CASES)
def test_logits_match_transformers_over_320_positions(kind, rope, tmp_path):
    d = tmp_path / "hf"
    model = make_model(kind, rope, d, seed=11)
    saved = json.loads((d / "config.json").read_text())
    assert saved["model_type"] == kind
    x = ids(320, seed=3)
    with torch.no_grad():
        ref = model(torch.tensor([x])).logits.float()
    out = tmp_path / "logits.safetensors"
    run([probe_bin(), "logits", str(d), str(out)] + [str(i) for i in x])
    ours = load_file(str(out))["logits"]
    assert ours.shape == ref.shape
    diff = (ours - ref).abs().max().item()
    assert diff < 1e-4, f"{kind} rope={rope}: max |logit diff| {diff}"
    if rope != "default":  # the scaling matters here: unscaled RoPE gives other logits
        cfg = json.loads((d / "config.json").read_text())
        cfg.pop("rope_scaling", None)
        cfg["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0}
        (d / "config.json").write_text(json.dumps(cfg))
        plain = transformers.AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32)
        with torch.no_grad():
            assert (plain(torch.tensor([x])).logits - ref).abs().max().item() > 1e-2


@pytest.mark.parametrize("kind,rope", CASES)
def test_greedy_generation_matches_transformers(kind, rope, tmp_path, principia_bin):
    d = tmp_path / "hf"
    model = make_model(kind, rope, d, seed=5, tied=kind == "qwen2")
    prompt = ids(100, seed=9)
    with torch.no_grad():  # both stop at the config's EOS (id 2); 100 + 60 crosses 128 positions
        ref = model.generate(torch.tensor([prompt]), max_new_tokens=60, do_sample=False, pad_token_id=0)
    ref = ref[0, len(prompt):].tolist()
    assert len(ref) > 28, "stopped before position 128"
    p = run([principia_bin, "generate", "--model", str(d), "--prompt-ids", " ".join(map(str, prompt)),
             "--greedy", "--max-new-tokens", "60"])
    assert [int(t) for t in p.stdout.split()] == ref


@pytest.mark.parametrize("kind,rope", [("qwen2", "yarn"), ("llama", "llama3"), ("llama", "dynamic")])
def test_config_round_trips_through_export(kind, rope, tmp_path, principia_bin):
    d = tmp_path / "hf"
    model = make_model(kind, rope, d, seed=2)
    out = tmp_path / "export"
    run([principia_bin, "export", str(d), str(out)])
    a = transformers.AutoConfig.from_pretrained(str(d))
    b = transformers.AutoConfig.from_pretrained(str(out))
    assert b.model_type == a.model_type
    assert b.rope_parameters == a.rope_parameters
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    x = ids(40, seed=1)
    with torch.no_grad():
        assert torch.equal(reloaded(torch.tensor([x])).logits, model(torch.tensor([x])).logits)
    # ...and principia reads the export as it read the original.
    p = run([principia_bin, "generate", "--model", str(out), "--prompt-ids", "1 5 7", "--greedy",
             "--max-new-tokens", "8"])
    q = run([principia_bin, "generate", "--model", str(d), "--prompt-ids", "1 5 7", "--greedy",
             "--max-new-tokens", "8"])
    assert p.stdout == q.stdout


@pytest.mark.parametrize("patch,needle", [
    ({"rope_scaling": {"rope_type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}}, "longrope"),
    ({"rope_parameters": {"rope_type": "llama3", "factor": 8.0, "rope_theta": 10000.0}}, "low_freq_factor"),
    ({"use_sliding_window": True, "sliding_window": 64}, "use_sliding_window"),
    ({"model_type": "qwen2_moe"}, "qwen2_moe"),
])
def test_unsupported_variants_keep_a_clear_error(patch, needle, tmp_path, principia_bin):
    d = tmp_path / "hf"
    make_model("qwen2", "default", d, seed=1)
    cfg = json.loads((d / "config.json").read_text())
    cfg.pop("rope_parameters", None) if "rope_scaling" in patch else None
    cfg.update(patch)
    (d / "config.json").write_text(json.dumps(cfg))
    p = run([principia_bin, "generate", "--model", str(d), "--prompt-ids", "1 2"], check=False)
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr and "config.json" in p.stderr
