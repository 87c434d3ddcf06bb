"""principia's native TensorBoard writer, read back by tensorboard's own EventAccumulator.

tb_write_fixture (tests/unit/trainer/tb_write_fixture.cpp) writes known scalars; this test
checks tags, steps, values and wall times, and that every record's masked CRC32C matches
tensorboard's own crc32c implementation.
"""
import os
import pathlib
import struct

import pytest

from conftest import run


def fixture_binary():
    build = os.environ.get("PRINCIPIA_BUILD_DIR")
    if not build:
        pytest.skip("PRINCIPIA_BUILD_DIR not set (run through ctest)")
    if os.environ.get("PRINCIPIA_WITH_TORCH", "1") in ("0", "OFF", "FALSE", "false"):
        pytest.skip("built without LibTorch: no trainer")
    exe = pathlib.Path(build) / "tests" / "unit" / "trainer" / "tb_write_fixture"
    if not exe.exists():
        pytest.fail(f"{exe} not built (ninja tb_write_fixture)")
    return str(exe)


@pytest.fixture
def event_dir(tmp_path):
    out = run([fixture_binary(), str(tmp_path / "tb")])
    path = pathlib.Path(out.stdout.strip())
    assert path.parent == tmp_path / "tb"
    assert path.name.startswith("events.out.tfevents.")
    return tmp_path / "tb"


def test_event_accumulator_reads_scalars(event_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(event_dir), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert tags == {"reward/mean", "loss/pg", "time/rollout_s"}

    mean = acc.Scalars("reward/mean")
    assert [e.step for e in mean] == [0, 1, 2, 3, 4, 1000000]
    # steps 3, 4 were rewritten after a session START at 3 (a resumed run): the new values win
    want = [0.5, 0.6, 0.7, 13.0, 14.0, 3.0]
    assert [e.value for e in mean] == pytest.approx(want, rel=1e-6)
    assert [e.wall_time for e in mean] == [1700000000.0 + s for s in [0, 1, 2, 3, 4, 1000000]]

    pg = acc.Scalars("loss/pg")
    assert [e.step for e in pg] == [0, 1, 2, 3, 4]
    assert [e.value for e in pg] == pytest.approx([0.0, -0.25, -0.5, -30.0, -40.0])
    assert all(e.value == 1.5 for e in acc.Scalars("time/rollout_s"))


def test_records_have_valid_masked_crc32c(event_dir):
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    from tensorboard.compat.proto import event_pb2

    (path,) = list(event_dir.iterdir())
    data = path.read_bytes()
    pos, events = 0, []
    while pos < len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (len_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        assert len_crc == masked_crc32c(header)
        payload = data[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        assert data_crc == masked_crc32c(payload)
        events.append(event_pb2.Event.FromString(payload))
        pos += 16 + length
    assert pos == len(data)
    assert events[0].file_version == "brain.Event:2"
    assert len(events) == 1 + 5 + 1 + 2 + 1
    assert events[1].summary.value[0].tag == "reward/mean"
    assert events[6].session_log.status == event_pb2.SessionLog.START
    assert events[6].step == 3
    assert events[-1].step == 1000000
