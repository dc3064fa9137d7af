"""The process (process.py): MKL's reproducible mode in every entry point, one seed repeats everything, RNG
states round-trip as plain data, devices, and the stop flag that SIGINT sets (a second SIGINT raises).
Run: python -m pytest tests/test_runtime.py
"""

import json
import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from vanilla_gan.errors import UsageError
from vanilla_gan.training.process import (
    StopFlag,
    bf16_seconds,
    draw_seed,
    mkl_cbwr,
    resolve_device,
    rng_state,
    set_rng_state,
    set_seed,
)

needs_mkl = pytest.mark.skipif(mkl_cbwr() is None, reason="PyTorch here has no MKL to ask")


def mode_in_a_child(code: str, env: dict[str, str]) -> str:
    """The MKL mode of a fresh Python process that runs `code`, then a matrix product, in environment `env`
    (vanilla_gan is imported only after the product, to read the mode, unless `code` imports it)."""
    probe = f"{code}\nimport torch\ntorch.ones(64, 64) @ torch.ones(64, 64)\n" \
            "from vanilla_gan.training.process import mkl_cbwr\nprint(mkl_cbwr())"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@needs_mkl
def test_importing_the_package_makes_mkl_reproducible_in_this_and_child_processes():
    """MKL reads MKL_CBWR at its first call: the package sets it at import, before any matrix product."""
    clean = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    assert mode_in_a_child("", clean) == "OFF"  # MKL's default: its code path picked at run time
    assert mode_in_a_child("import torch\nimport vanilla_gan", clean) == "AUTO,STRICT"  # after torch: in time
    assert mode_in_a_child("import vanilla_gan", {**clean, "MKL_CBWR": "COMPATIBLE"}) == "COMPATIBLE"  # theirs wins
    assert mode_in_a_child("import vanilla_gan", {**clean, "MKL_CBWR": ""}) == "OFF"  # empty: MKL's default
    # This process imported vanilla_gan: a child it starts (a sweep worker, a torchrun rank) inherits the mode
    # even if it multiplies matrices before importing the package.
    assert os.environ.get("MKL_CBWR") is not None
    assert mode_in_a_child("", dict(os.environ)) == mode_in_a_child("import vanilla_gan", dict(os.environ))
    if os.environ["MKL_CBWR"] == "AUTO,STRICT":  # as the package set it (the test process itself)
        assert mkl_cbwr() == "AUTO,STRICT"


@needs_mkl
def test_the_cli_records_the_mode_in_config_json(tmp_path):
    from helpers import TINY, run_cli

    for name, env in (("default", {}), ("compatible", {"MKL_CBWR": "COMPATIBLE"})):
        run = tmp_path / name
        assert run_cli("train", *TINY, "--epochs", "1", "--no-report", "--out", run, env=env).returncode == 0
        recorded = json.loads((run / "config.json").read_text())["mkl_cbwr"]
        assert recorded == ("AUTO,STRICT" if name == "default" else "COMPATIBLE")


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_one_seed_repeats_python_numpy_and_torch():
    set_seed(5)
    first = draws()
    set_seed(5)
    assert draws() == first
    assert 0 <= draw_seed() < 2**31


def test_rng_state_round_trips():
    set_seed(1)
    state = rng_state()
    first = draws()
    set_rng_state(state)
    assert draws() == first
    assert isinstance(state["python"][1], list) and isinstance(state["numpy"][1], list)  # plain data


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(UsageError, match="--device cpu"):
            resolve_device("cuda")


def test_sigint_sets_the_stop_flag_and_a_second_one_stops_at_once():
    before = signal.getsignal(signal.SIGINT)
    with StopFlag() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_bf16_on_a_cpu_that_emulates_it_is_a_warning(monkeypatch):
    from vanilla_gan.training import process

    class CpuInfo:
        def __init__(self, flags):
            self.flags = flags

        def __call__(self, path):
            return self

        def read_text(self):
            return f"flags\t\t: fpu sse avx2 {self.flags}\n"

    monkeypatch.setattr(process, "Path", CpuInfo(""))
    warning = process.bf16_warning("bf16", torch.device("cpu"))
    assert "without native bf16" in warning and torch.backends.cpu.get_cpu_capability() in warning
    assert process.bf16_warning("fp32", torch.device("cpu")) is None
    monkeypatch.setattr(process, "Path", CpuInfo("avx512_bf16"))
    monkeypatch.setattr(process, "bf16_seconds", lambda batch: (0.001, 0.002))  # native and measured faster
    assert process.bf16_warning("bf16", torch.device("cpu")) is None
    monkeypatch.setattr(process, "bf16_seconds", lambda batch: (0.003, 0.002))  # native, but slower at this batch
    warning = process.bf16_warning("bf16", torch.device("cpu"), 8)
    assert "measured slower than fp32" in warning and "at batch 8" in warning and "3.00 ms against 2.00 ms" in warning


def test_bf16_seconds_times_both_precisions_and_moves_no_rng():
    state = torch.get_rng_state()
    bf16, fp32 = bf16_seconds(8, repeats=2)
    assert 0 < bf16 < 5 and 0 < fp32 < 5
    assert torch.equal(torch.get_rng_state(), state)
