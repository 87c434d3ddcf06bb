"""principia data pack -> h5py: every field of the store matches the JSONL it was packed from."""
import json
import pathlib

import h5py
import numpy as np
import pytest

from conftest import run


def ragged(f, field):
    data = f[f"{field}_bytes"][...].tobytes()
    off = f[f"{field}_offsets"][...]
    return [data[off[i]:off[i + 1]].decode("utf-8") for i in range(len(off) - 1)]


def check_store(h5_path, jsonl_path, expect_lengths):
    records = [json.loads(line) for line in pathlib.Path(jsonl_path).read_text(encoding="utf-8").splitlines()
               if line.strip()]
    with h5py.File(h5_path, "r") as f:
        assert f.attrs["schema_version"] == 1
        fmt = f.attrs["format"]
        assert (fmt.decode() if isinstance(fmt, bytes) else fmt) == "principia-records"
        n = len(records)
        assert f["prompt_tokens"].shape == (n,)
        for name in ["id_bytes", "text_bytes", "score", "ranking"]:
            ds = f[name]
            assert ds.chunks is not None, f"{name} must be chunked"
            assert ds.compression == "gzip", f"{name} must be deflate-compressed"
            assert ds.dtype.kind != "O", "no variable-length types"
        ids, principles, prompts = ragged(f, "id"), ragged(f, "principle"), ragged(f, "prompt")
        domains, categories, metas = ragged(f, "domain"), ragged(f, "category"), ragged(f, "meta")
        names, texts = ragged(f, "name"), ragged(f, "text")
        roff = f["response_offsets"][...]
        scores, ranking = f["score"][...], f["ranking"][...]
        tokens = f["prompt_tokens"][...]
        for i, r in enumerate(records):
            assert ids[i] == r["id"]
            assert principles[i] == r["principle"]
            assert prompts[i] == r["prompt"]
            assert domains[i] == r.get("domain", "")
            assert categories[i] == r.get("category", "")
            assert (json.loads(metas[i]) if metas[i] else {}) == r.get("meta", {})
            a, b = roff[i], roff[i + 1]
            assert names[a:b] == list(r["responses"].keys())
            assert texts[a:b] == list(r["responses"].values())
            assert np.allclose(scores[a:b], [r["scores"][k] for k in r["responses"]])
            rk = [names[a + int(j)] for j in ranking[a:b]]
            if "ranking" in r:
                assert rk == r["ranking"]
            else:  # derived: best first, ties in file order
                order = sorted(range(b - a), key=lambda j: -r["scores"][names[a + j]])
                assert rk == [names[a + j] for j in order]
            if expect_lengths:
                assert tokens[i] > 0
            else:
                assert tokens[i] == -1


def test_synth_pack_matches_jsonl(principia_bin, tmp_path, shared_data):
    jsonl, h5 = tmp_path / "s.jsonl", tmp_path / "s.h5"
    run([principia_bin, "data", "synth", "--n", "500", "--seed", "3", "--out", str(jsonl), "--split", "all",
         "--candidates", "4"])
    tok = shared_data / "tokenizers" / "llama2-spm" / "tokenizer.model"
    run([principia_bin, "data", "pack", str(jsonl), str(h5), "--tokenizer", str(tok), "--chat-template", "plain"])
    check_store(h5, jsonl, expect_lengths=True)
    out = run([principia_bin, "data", "inspect", str(h5)]).stdout
    assert "500 records" in out and "by category" in out


def test_lengths_match_the_tokenizer(principia_bin, tmp_path, shared_data):
    """The stored length is the token count of the rendered plain-chat judge prompt."""
    import sentencepiece as spm
    jsonl, h5 = tmp_path / "s.jsonl", tmp_path / "s.h5"
    run([principia_bin, "data", "synth", "--n", "20", "--seed", "9", "--out", str(jsonl)])
    tok = shared_data / "tokenizers" / "llama2-spm" / "tokenizer.model"
    run([principia_bin, "data", "pack", str(jsonl), str(h5), "--tokenizer", str(tok), "--chat-template", "plain"])
    sp = spm.SentencePieceProcessor(model_file=str(tok))
    system = (shared_data / "judge" / "system_prompt.txt").read_text(encoding="utf-8")
    with h5py.File(h5, "r") as f:
        tokens = f["prompt_tokens"][...]
    for i, line in enumerate(jsonl.read_text().splitlines()):
        r = json.loads(line)
        user = json.dumps({"principle": r["principle"], "prompt": r["prompt"],
                           "responses": {f"model-{k + 1}": t for k, t in enumerate(r["responses"].values())}},
                          ensure_ascii=False)
        text = f"System: {system}\n\nUser: {user}\n\nAssistant: "
        expected = 1 + len(sp.encode(text))  # BOS + text
        assert abs(int(tokens[i]) - expected) <= 2, (i, int(tokens[i]), expected)


def test_real_imports_pack(principia_bin, tmp_path, shared_data):
    for fmt, name in [("rmbench", "rmbench_chat.json"), ("prometheus", "prometheus_mt_bench_eval.json")]:
        jsonl, h5 = tmp_path / f"{fmt}.jsonl", tmp_path / f"{fmt}.h5"
        run([principia_bin, "data", "import", "--from", fmt, str(shared_data / "real" / name), str(jsonl)])
        run([principia_bin, "data", "validate", str(jsonl)])
        run([principia_bin, "data", "pack", str(jsonl), str(h5)])
        check_store(h5, jsonl, expect_lengths=False)


def test_truncated_and_foreign_files_fail_cleanly(principia_bin, tmp_path):
    jsonl, h5 = tmp_path / "s.jsonl", tmp_path / "s.h5"
    run([principia_bin, "data", "synth", "--n", "300", "--out", str(jsonl)])
    run([principia_bin, "data", "pack", str(jsonl), str(h5)])
    data = h5.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    for path in [cut, foreign]:
        p = run([principia_bin, "data", "inspect", str(path)], check=False)
        assert p.returncode == 2, p.stderr
        assert str(path) in p.stderr and "error:" in p.stderr
        assert "HDF5-DIAG" not in p.stderr, "HDF5's own error stack must be silenced"
