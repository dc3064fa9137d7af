"""Fixtures shared by the tests (helpers to import are in helpers.py). Run the suite with `python -m pytest`."""

from __future__ import annotations

import os

# pytest-xdist runs the tests in one process per core (pyproject's -n auto): each gets one thread, and so do the
# command lines it starts, so that processes do not fight over the cores (PyTorch's threads wait for each other).
# Set before torch is imported; -n 0 (one process) keeps PyTorch's default.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from helpers import TINY, Server, run_cli

from vanilla_gan.data import load_dataset
from vanilla_gan.evaluation import classifier

# Module fixtures that train or evaluate for tens of seconds: the tests that use one run on one xdist worker
# (pyproject's --dist loadgroup), so that it is built once, not once per worker.
SHARED_FIXTURES = ("finished", "baselines", "evaluated_run")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the tests' ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        shared = [name for name in SHARED_FIXTURES if name in getattr(item, "fixturenames", ())]
        if shared:
            item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}.{shared[0]}"))


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """640 embedded digits, uint8 (640, 28, 28): enough for 10 steps of the small model."""
    return load_dataset("digits")[0][:640]


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """All the embedded digits and their labels."""
    return load_dataset("digits")


@pytest.fixture(scope="module")
def evaluator() -> classifier.DigitClassifier:
    """The shipped digit classifier (SHA-256 checked)."""
    return classifier.load_evaluator()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished 2-epoch run of the tiny model, shared by read-only tests."""
    run = tmp_path_factory.mktemp("runs") / "tiny"
    result = run_cli("train", *TINY, "--epochs", "2", "--seed", "3", "--out", run)
    assert result.returncode == 0, result.stderr
    # what train wrote, listed beside the folder: tests that evaluate it add evaluation.json and the lock file
    (run.parent / "tiny.files").write_text("\n".join(sorted(p.name for p in run.iterdir())))
    return run


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
