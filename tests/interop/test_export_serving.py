"""Exports that serve: a run that trains its own SentencePiece tokenizer (configs/demo.yaml,
shrunk) is exported and read back by the real transformers client.

- config.json / generation_config.json carry the tokenizer's bos/eos ids;
- AutoTokenizer.from_pretrained(export) gives principia's ids (`principia tokenize`) on the eval
  texts, the rendered judge prompts and real judge data;
- apply_chat_template renders principia's chat text (`principia prompt --chat`) byte for byte, for
  the plain, qwen3 and llama3 templates, and tokenizes to principia's prompt ids;
- transformers' greedy generation stops at EOS and equals `principia generate`'s ids;
- `principia generate --request` on the export stops at EOS and parses the judgment, with the
  templates the export records;
- principia reads its own export's tokenizer back (tokenizer.model beside tokenizer.json).
"""
import json
import os
import pathlib

import pytest

from conftest import run, shared_data_dir

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
# The demo shrunk to a short run, with enough SFT that greedy judgments are well-formed and end
# at EOS (the demo's template: compact-v1 in the plain chat template, BPE SentencePiece).
SMALL = [
    "data.synth_options.train_items=400", "data.synth_options.eval_items=8",
    "model.hidden_size=64", "model.intermediate_size=192", "model.num_layers=2",
    "model.num_heads=2", "model.num_kv_heads=1", "model.head_dim=32",
    "trainer.sft_steps=250", "trainer.sft_batch_size=16",
    "rollout.group_size=2", "rollout.batch_size=2", "rollout.max_new_tokens=16",
    "trainer.max_steps=1", "checkpoint.every=1", "eval.max_items=2", "log.every=1",
]
SYSTEM = "You are a careful judge.  Two spaces, a tab\tand a line\nend here."


def principia_binary():
    b = os.environ.get("PRINCIPIA_BIN")
    if not b or not os.path.exists(b):
        pytest.skip("PRINCIPIA_BIN not set (run through ctest)")
    return b


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    b = principia_binary()
    d = tmp_path_factory.mktemp("serving") / "run"
    run([b, "train", str(DEMO), f"run.output_dir={d}", *SMALL])
    assert (d / "export" / "config.json").exists()
    return d


@pytest.fixture(scope="module")
def eval_items(demo_run):
    lines = (demo_run / "data" / "eval.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def write_request(item, path):
    path.write_text(json.dumps({k: item[k] for k in ("principle", "prompt", "responses")}),
                    encoding="utf-8")
    return path


def principia_text(args):
    return run([principia_binary(), *args]).stdout


def principia_encode(tokenizer, texts, tmp_path, extra=()):
    src = tmp_path / "texts.jsonl"
    src.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    out = principia_text(["tokenize", "--tokenizer", str(tokenizer), "--jsonl", "--input-file", str(src),
                          *extra])
    ids = [json.loads(line) for line in out.splitlines()]
    assert len(ids) == len(texts)
    return ids


def as_ids(encoded):
    """apply_chat_template(tokenize=True) gives a list or a BatchEncoding, by version."""
    if hasattr(encoded, "keys") and "input_ids" in encoded:
        encoded = encoded["input_ids"]
    if encoded and isinstance(encoded[0], list):
        encoded = encoded[0]
    return list(encoded)


def real_texts():
    d = shared_data_dir()
    if d is None:
        return []
    out = []
    for f in sorted((d / "real").glob("*.json")):
        for rec in json.loads(f.read_text(encoding="utf-8"))[:20]:
            for key in ("prompt", "chosen", "rejected"):
                v = rec.get(key)
                out += v if isinstance(v, list) else [v] if isinstance(v, str) else []
    return [t for t in out if isinstance(t, str)]


def test_configs_carry_the_tokenizer_ids(demo_run):
    spm = pytest.importorskip("sentencepiece")
    export = demo_run / "export"
    sp = spm.SentencePieceProcessor(model_file=str(export / "tokenizer.model"))
    config = json.loads((export / "config.json").read_text())
    gen = json.loads((export / "generation_config.json").read_text())
    assert config["bos_token_id"] == sp.bos_id() == 1
    assert config["eos_token_id"] == sp.eos_id() == 2
    assert gen["bos_token_id"] == 1 and gen["eos_token_id"] == 2
    # What transformers reads from them.
    assert transformers.GenerationConfig.from_pretrained(str(export)).eos_token_id == 2
    tc = json.loads((export / "tokenizer_config.json").read_text())
    assert tc["principia_chat_template"] == "plain"
    assert tc["principia_prompt_template"] == "compact-v1"


def test_autotokenizer_ids_equal_principia(demo_run, eval_items, tmp_path):
    export = demo_run / "export"
    tok = transformers.AutoTokenizer.from_pretrained(str(export))
    texts = ["", " ", "  two  spaces  ", "\n", "line\nbreak\r\nwin", "tab\there", "ÄÖÜ ß 中文 🚀",
             "model-1 model-2 <think>x</think>", "<s> </s> <unk>", "1234567890", "e\u0301 \u00a0nbsp"]
    for item in eval_items:
        texts += [item["principle"], item["prompt"], *item["responses"].values()]
        req = write_request(item, tmp_path / "req.json")
        texts.append(principia_text(["prompt", "--template", "compact-v1", str(req)]))
        texts.append(principia_text(["prompt", "--template", "compact-v1", "--chat", "--chat-template",
                                     "plain", str(req)]))
    texts += real_texts()
    # principia's encode() reads "<s>" in text as text; transformers does with
    # split_special_tokens, and by default maps it to the special id, as principia's --specials.
    plain = principia_encode(export, texts, tmp_path)
    for ours, theirs in [
        (plain,
         tok(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]),
        (principia_encode(export, texts, tmp_path, ["--specials"]),
         tok(texts, add_special_tokens=False)["input_ids"])]:
        bad = [i for i in range(len(texts)) if ours[i] != theirs[i]]
        assert not bad, (f"{len(bad)}/{len(texts)} texts differ; first {texts[bad[0]]!r}:\n"
                         f"principia    {ours[bad[0]][:40]}\ntransformers {theirs[bad[0]][:40]}")
    theirs = tok(texts, add_special_tokens=False)["input_ids"]
    # add_special_tokens adds nothing: the chat template writes BOS, so a rendered prompt
    # tokenizes the same whether the caller adds special tokens or not.
    assert tok(texts[:40], split_special_tokens=True)["input_ids"] == plain[:40]
    # Decoding gives the text back where SentencePiece's normalisation keeps it.
    for t, ids in zip(texts, theirs):
        if t == " ".join(t.split()) and t.isascii() and "<" not in t:
            assert tok.decode(ids) == t


@pytest.mark.parametrize("chat", ["plain", "qwen3", "llama3"])
def test_chat_template_renders_principia_prompt(chat, demo_run, eval_items, tmp_path):
    export = demo_run / "export"
    if chat != "plain":  # the same model exported with another chat template
        export = tmp_path / f"export-{chat}"
        ckpt = demo_run / "checkpoints" / (demo_run / "checkpoints" / "latest").read_text().strip()
        principia_text(["export", str(ckpt), str(export), "--chat-template", chat])
    tok = transformers.AutoTokenizer.from_pretrained(str(export))
    system_file = tmp_path / "system.txt"
    system_file.write_text(SYSTEM, encoding="utf-8")
    for item in eval_items[:4]:
        req = write_request(item, tmp_path / "req.json")
        user = principia_text(["prompt", "--template", "compact-v1", str(req)])
        ours = principia_text(["prompt", "--template", "compact-v1", "--system-prompt-file", str(system_file),
                               "--chat", "--chat-template", chat, str(req)])
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        theirs = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # The plain template starts with the BOS token, which principia adds as an id.
        assert theirs == ("<s>" if chat == "plain" else "") + ours
        if chat == "plain":
            ids = as_ids(tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))
            assert ids == principia_encode(export, [ours], tmp_path, ["--bos"])[0]
            assert tok(theirs)["input_ids"] == ids  # no second BOS from add_special_tokens


@pytest.fixture(scope="module")
def served(demo_run):
    export = demo_run / "export"
    tok = transformers.AutoTokenizer.from_pretrained(str(export))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(export), dtype=torch.float32)
    model.eval()
    return export, tok, model


def test_transformers_greedy_stops_at_eos_like_principia(served, eval_items, tmp_path):
    export, tok, model = served
    stopped = 0
    for item in eval_items[:4]:
        req = write_request(item, tmp_path / "req.json")
        user = principia_text(["prompt", "--template", "compact-v1", str(req)])
        chat = principia_text(["prompt", "--template", "compact-v1", "--chat", "--chat-template", "plain",
                               str(req)])
        system = chat[len("System: "):chat.index("\n\nUser: " + user)]
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        prompt = as_ids(tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))
        with torch.no_grad():  # the stop ids come from the export's generation_config.json
            out = model.generate(torch.tensor([prompt]), max_new_tokens=160, do_sample=False)
        new = out[0, len(prompt):].tolist()
        if new and new[-1] == tok.eos_token_id:
            stopped += 1
            assert tok.eos_token_id not in new[:-1]
        ours = principia_text(["generate", "--model", str(export), "--prompt-ids", " ".join(map(str, prompt)),
                               "--greedy", "--max-new-tokens", "160"])
        assert [int(x) for x in ours.split()] == new
    assert stopped >= 3, f"only {stopped} of 4 greedy judgments ended at EOS"


def test_principia_generate_on_export_stops_and_parses(demo_run, eval_items, tmp_path):
    export = demo_run / "export"
    parsed = 0
    for item in eval_items[:4]:
        req = write_request(item, tmp_path / "req.json")
        # No --template / --chat-template: the export records compact-v1 and plain.
        out = json.loads(principia_text(["generate", "--model", str(export), "--request", str(req),
                                         "--greedy", "--max-new-tokens", "160"]))
        assert out["finish_reason"] == "eos", out
        parsed += out["judgment"]["parsed"]
        if out["judgment"]["parsed"]:
            assert set(out["judgment"]["scores"]) == set(item["responses"])
    assert parsed >= 3, f"only {parsed} of 4 judgments parsed"


def test_principia_reads_its_export_back(demo_run, tmp_path):
    export = demo_run / "export"
    assert (export / "tokenizer.json").exists() and (export / "tokenizer.model").exists()
    texts = ["the principle: numbers more", "model-1 12 345"]
    assert principia_encode(export, texts, tmp_path) == principia_encode(export / "tokenizer.model", texts,
                                                                          tmp_path)
    # ...and a second export of the export keeps every serving file as it is.
    again = tmp_path / "again"
    principia_text(["export", str(export), str(again)])
    for f in ("tokenizer.json", "tokenizer_config.json", "config.json", "generation_config.json"):
        assert json.loads((again / f).read_text()) == json.loads((export / f).read_text()), f


def spm_model(kind, shared, tmp_path):
    if kind == "llama2":  # Meta's 32k BPE: identity normaliser, extra whitespace kept
        return shared / "tokenizers" / "llama2-spm" / "tokenizer.model"
    spm = pytest.importorskip("sentencepiece")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text((shared / "tokenizers" / "llama2-spm" / "vectors.json").read_text(encoding="utf-8") * 3 +
                      "".join(real_texts()), encoding="utf-8")
    spm.SentencePieceTrainer.Train(input=str(corpus), model_prefix=str(tmp_path / "uni"), vocab_size=800,
                                   model_type="unigram", byte_fallback=True, user_defined_symbols="<think>,model-",
                                   hard_vocab_limit=False, minloglevel=2)
    return tmp_path / "uni.model"


@pytest.mark.parametrize("kind", ["llama2", "unigram"])
def test_exported_tokenizer_json_encodes_like_sentencepiece(kind, shared_data, principia_bin, tmp_path):
    """The tokenizer.json an export writes for a SentencePiece model, on a model principia did not
    train (Llama 2's BPE) and on a unigram model, against libsentencepiece's own ids."""
    spm = pytest.importorskip("sentencepiece")
    src = tmp_path / "hf"
    src.mkdir()
    stories = shared_data / "models" / "stories260k"
    for f in ("config.json", "model.safetensors"):
        (src / f).write_bytes((stories / f).read_bytes())
    model = spm_model(kind, shared_data, tmp_path)
    (src / "tokenizer.model").write_bytes(model.read_bytes())
    out = tmp_path / "export"
    run([principia_bin, "export", str(src), str(out), "--chat-template", "plain"])
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    sp = spm.SentencePieceProcessor(model_file=str(model))
    vectors = json.loads((shared_data / "tokenizers" / "llama2-spm" / "vectors.json").read_text(encoding="utf-8"))
    texts = [v["text"] for v in vectors] + real_texts() + ["  lead", "trail  ", "a   b", "\t\n x \n", "model-1<think>"]
    theirs = tok(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    bad = [i for i, t in enumerate(texts) if sp.encode(t) != theirs[i]]
    assert not bad, f"{len(bad)}/{len(texts)} differ; first {texts[bad[0]]!r}"
    if kind == "llama2":
        assert [tok(v["text"], add_special_tokens=False)["input_ids"] for v in vectors] == [v["ids"] for v in vectors]
    assert principia_encode(out, texts, tmp_path) == theirs
