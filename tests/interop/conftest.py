"""Shared fixtures for interop tests: the principia binary, shared data, a temp dir."""
import os
import pathlib
import subprocess

import pytest


def shared_data_dir():
    d = os.environ.get("PRINCIPIA_TEST_DATA") or os.environ.get("PRINCIPIA_TEST_DATA_DEFAULT")
    if not d:
        d = str(pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data")
    return pathlib.Path(d) if pathlib.Path(d).is_dir() else None


@pytest.fixture
def shared_data():
    d = shared_data_dir()
    if d is None:
        pytest.skip("shared test data not found (set PRINCIPIA_TEST_DATA)")
    return d


@pytest.fixture
def principia_bin():
    b = os.environ.get("PRINCIPIA_BIN")
    if not b or not os.path.exists(b):
        pytest.skip("PRINCIPIA_BIN not set (run through ctest)")
    return b


def run(args, check=True, **kw):
    """Run a command, return CompletedProcess with text output."""
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p
