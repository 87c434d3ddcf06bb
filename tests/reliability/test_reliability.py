"""Preemption, crashes and non-finite steps around `principia train`, on the harness's tiny run.
The full 20-kill run is `python tests/reliability/harness.py` (docs/RELIABILITY.md)."""
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import harness  # noqa: E402


@pytest.fixture(scope="module")
def binary():
    b = os.environ.get("PRINCIPIA_BIN")
    if not b or not os.path.exists(b):
        pytest.skip("PRINCIPIA_BIN not set (run through ctest)")
    return b


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="module")
def uninterrupted(binary, work):
    return harness.timed_reference(binary, work)


def wait_for_metrics(run_dir, rows, timeout=120):
    path = pathlib.Path(run_dir) / "metrics.jsonl"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and len(path.read_text().splitlines()) >= rows:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path}: fewer than {rows} rows after {timeout}s")


def metrics(run_dir):
    return [json.loads(l) for l in (pathlib.Path(run_dir) / "metrics.jsonl").read_text().splitlines() if l]


def test_sigterm_during_grpo_checkpoints_exits_75_and_resume_matches(binary, work, uninterrupted):
    _, digest, _ = uninterrupted
    run_dir = work / "sigterm"
    p = harness.start(binary, run_dir)
    wait_for_metrics(run_dir, 3)  # in GRPO, past step 3
    p.send_signal(signal.SIGSTOP)  # steps take ~0.1 s: freeze it so the signal lands mid-run
    p.send_signal(signal.SIGTERM)
    p.send_signal(signal.SIGCONT)
    assert p.wait(timeout=120) == harness.EXIT_PREEMPTED
    log = pathlib.Path(str(run_dir) + ".log").read_text()
    assert "stopping on SIGTERM after step" in log, log
    stopped_at = len(metrics(run_dir))
    assert 3 <= stopped_at < 8
    # The checkpoint of the step it stopped after exists and is the newest.
    latest = (run_dir / "checkpoints" / "latest").read_text().strip()
    assert latest == f"step-{stopped_at:06d}", (latest, stopped_at)
    rc, out = harness.run_to_end(binary, run_dir, ["--resume", "auto"])
    assert rc == 0, out
    assert harness.final_digest(run_dir) == digest
    assert [m["step"] for m in metrics(run_dir)] == list(range(1, 9))


def test_second_signal_exits_at_once(binary, work):
    run_dir = work / "double"
    p = harness.start(binary, run_dir, ["trainer.max_steps=100000"])
    wait_for_metrics(run_dir, 1)
    # Stopped, the process queues both (two different signals do not coalesce); resumed, it
    # takes the first as "stop after this step" and the second as "exit now".
    p.send_signal(signal.SIGSTOP)
    p.send_signal(signal.SIGTERM)
    p.send_signal(signal.SIGUSR1)
    p.send_signal(signal.SIGCONT)
    assert p.wait(timeout=60) in (128 + signal.SIGTERM, 128 + signal.SIGUSR1)
    assert "second stop signal: exiting now" in pathlib.Path(str(run_dir) + ".log").read_text()


def test_sigterm_during_sft_exits_75_and_a_resumed_run_starts_over(binary, work, uninterrupted):
    _, digest, _ = uninterrupted
    run_dir = work / "sft-term"
    p = harness.start(binary, run_dir, ["trainer.sft_steps=1000000"])
    log = pathlib.Path(str(run_dir) + ".log")
    end = time.monotonic() + 120
    while "sft [" not in (log.read_text() if log.exists() else "") and time.monotonic() < end:
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == harness.EXIT_PREEMPTED
    assert "during SFT" in log.read_text()
    assert not (run_dir / "checkpoints").exists()
    rc, out = harness.run_to_end(binary, run_dir, ["--resume", "auto"])
    assert rc == 0, out
    assert harness.final_digest(run_dir) == digest


def test_sigkill_at_random_moments_resumes_bitwise_equal(binary, work, uninterrupted):
    _, digest, duration = uninterrupted
    rng = random.Random(7)
    kills = int(os.environ.get("PRINCIPIA_RELIABILITY_KILLS", "4"))
    for i in range(kills):
        r = harness.kill_and_resume(binary, work, i, rng.uniform(0.2, duration * 0.95), digest)
        assert r["ok"], r


def test_nonfinite_step_is_skipped_and_counted(binary, work, uninterrupted):
    run_dir = work / "nan-once"
    env = dict(os.environ, PRINCIPIA_FAULT_NONFINITE_STEPS="2")
    rc, out = harness.run_to_end(binary, run_dir, env=env)
    assert rc == 0, out
    rows = metrics(run_dir)
    assert [m["optim/skipped_updates"] for m in rows] == [0, 0, 1, 0, 0, 0, 0, 0]
    assert "step 3: non-finite loss or gradient, update skipped" in out
    # A skipped update keeps the weights: the run differs from the uninterrupted one from there.
    assert harness.final_digest(run_dir) != uninterrupted[1]


def test_max_bad_steps_in_a_row_stop_with_a_checkpoint_of_the_last_good_state(binary, work):
    run_dir = work / "nan-stop"
    env = dict(os.environ, PRINCIPIA_FAULT_NONFINITE_STEPS="2,3")
    rc, out = harness.run_to_end(binary, run_dir, ["trainer.max_bad_steps=2"], env=env)
    assert rc == 2, out
    assert "2 steps in a row had a non-finite loss or gradient" in out, out
    # Stopped after step 4 (steps 3 and 4 bad); its checkpoint holds the weights of step 2.
    ck = run_dir / "checkpoints"
    w2 = (ck / "step-000002" / "model" / "model.safetensors").read_bytes()
    w4 = (ck / "step-000004" / "model" / "model.safetensors").read_bytes()
    assert w2 == w4


def test_preflight_refuses_a_disk_without_room_for_a_checkpoint(binary, tmp_path):
    """The demo model (~0.85M parameters, ~11 MiB a checkpoint) on a 2 MiB tmpfs: one clear
    message and exit 2 before the data, tokenizer or model are made."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        run_dir = mnt / "run"
        p = subprocess.run([binary, "train", str(harness.DEMO), f"run.output_dir={run_dir}"],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 2, p.stdout + p.stderr
        err = p.stderr.strip().splitlines()
        assert len(err) == 1 and "MiB free, a checkpoint of" in err[0] and str(run_dir) in err[0], p.stderr
        assert not (run_dir / "data").exists() and not (run_dir / "tokenizer").exists()
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_second_run_on_the_same_directory_exits_2_at_once(binary, work, uninterrupted):
    _, digest, _ = uninterrupted
    for i, resume in enumerate((False, True)):
        r = harness.two_writers(binary, work, i, digest, resume_second=resume)
        assert r["ok"], r
        assert r["second_s"] < 10, r


def test_sigkill_before_the_first_checkpoint_keeps_one_history(binary, work, uninterrupted):
    _, digest, _ = uninterrupted
    r = harness.kill_before_first_checkpoint(binary, work, 0, digest, rows=2)
    assert r["ok"], r


def test_every_checkpoint_damaged_restarts_from_scratch_with_one_history(binary, work, uninterrupted):
    _, digest, _ = uninterrupted
    r = harness.every_checkpoint_damaged(binary, work, 0, digest)
    assert r["ok"], r


def test_resume_of_a_missing_path_is_refused_before_any_work(binary, tmp_path):
    run_dir = tmp_path / "run"
    p = subprocess.run(harness.train_cmd(binary, run_dir, ["--resume", str(tmp_path / "nonexistent")]),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "no such checkpoint directory" in p.stderr, p.stderr
    assert not (run_dir / "data").exists() and not (run_dir / "tokenizer").exists()


def test_a_copied_run_directory_resumes_without_a_config_warning(binary, work, uninterrupted):
    _, digest, _ = uninterrupted
    run_dir = work / "to-copy"
    p = harness.start(binary, run_dir)
    wait_for_metrics(run_dir, 3)
    p.send_signal(signal.SIGSTOP)
    p.send_signal(signal.SIGTERM)
    p.send_signal(signal.SIGCONT)
    assert p.wait(timeout=120) == harness.EXIT_PREEMPTED
    copy = work / "copied"
    subprocess.run(["cp", "-a", str(run_dir), str(copy)], check=True)
    rc, out = harness.run_to_end(binary, copy, ["--resume", "auto"])
    assert rc == 0, out
    assert "resuming from" in out and "different config" not in out, out
    assert harness.final_digest(copy) == digest
    # and a real change of config still warns
    rc, out = harness.run_to_end(binary, run_dir, ["--resume", "auto", "trainer.max_bad_steps=7"])
    assert rc == 0 and "different config" in out, out


def test_a_10mb_bad_judgment_line_gives_an_error_under_1kb(binary, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "a", "principle": "p", "prompt": "q", "responses": {"r1": "x", "r2": "y"},
                                "scores": {"r1": 5, "r2": 1}}) + "\n")
    judgments = tmp_path / "judgments.jsonl"
    judgments.write_text('{"id": "a", "output": "' + "z" * 10_000_000 + "\n")
    p = subprocess.run([binary, "score", "--gold", str(gold), "--judgments", str(judgments)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr[:2000]
    assert len(p.stderr.encode()) < 1024, p.stderr[:2000]
    assert "judgments.jsonl:1" in p.stderr and "not valid JSON" in p.stderr, p.stderr
    assert "(line of 10000023 bytes)" in p.stderr, p.stderr  # the line's length is named


def test_an_unquoted_huge_value_in_a_message_is_cut_per_line(binary, tmp_path):
    """The CLI's net under every message: a config value echoed whole by its error is cut at
    1000 bytes a line, control characters escaped."""
    value = "x" * 5000 + "\x01"
    p = subprocess.run([binary, "train", str(harness.DEMO), f"run.output_dir={tmp_path / 'run'}",
                        f"run.device={value}"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr[:3000]
    assert len(p.stderr.encode()) < 1200, p.stderr[:3000]
    assert "more bytes)" in p.stderr and "run.device" in p.stderr, p.stderr
