"""Training under torchrun (distributed.py): two CPU processes with gloo shard each step, agree on their weights,
resume from rank 0's checkpoint; and a clear error where there are more processes than GPUs.
Run: python -m pytest tests/test_distributed.py
"""

import json
import subprocess
import sys

import pytest
import torch
from helpers import TINY, assert_one_line_error, assert_same_run, run_cli


def torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "vanilla_gan", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_torchrun_two_processes_train_resume_and_agree(tmp_path):
    """gloo on CPU: 2 ranks shard each step, end with identical replicas, and resume from rank 0's checkpoint."""
    run = tmp_path / "ddp"
    args = [*TINY, "--seed", "4", "--device", "cpu", "--out", run]
    first = torchrun("train", *args, "--epochs", "1")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "x 2 processes" in first.stdout and "replicas' weights are identical" in first.stdout
    assert first.stdout.count("epoch 1/1") == 1, "only rank 0 reports"
    config = json.loads((run / "config.json").read_text())
    assert config["world_size"] == 2 and config["steps_per_epoch"] == 512 // (64 * 2)
    assert config["mkl_cbwr"] in ("AUTO,STRICT", None)  # each rank's MKL (None: PyTorch without MKL)

    resumed = torchrun("train", "--out", run, "--resume", "--epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stdout and "replicas' weights are identical" in resumed.stdout
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["rng"]) == 2

    # The same run, straight: a resumed distributed run continues exactly.
    straight = torchrun("train", *[a if a != run else tmp_path / "straight" for a in args], "--epochs", "2")
    assert straight.returncode == 0, straight.stderr[-2000:]
    assert_same_run(run, tmp_path / "straight")  # both ranks' RNG states, Adam, EMA, position: bit for bit

    # A single process cannot resume a 2-process run: its per-rank RNG states would not fit.
    line = assert_one_line_error(run_cli("train", "--out", run, "--resume", "--epochs", "3"), 2)
    assert "--nproc_per_node=2" in line


def test_more_processes_than_gpus_is_a_clear_error_before_joining(monkeypatch):
    """torchrun --nproc_per_node=2 on a one-GPU machine: every rank stops with the same message, none hangs."""
    from vanilla_gan.errors import UsageError
    from vanilla_gan.training import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(UsageError, match=r"2 processes on this machine but it has 1 GPU\(s\): use --nproc_per_node=1"):
        distributed.setup("auto")
    assert not torch.distributed.is_initialized()


