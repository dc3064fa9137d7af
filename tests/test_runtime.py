"""The process (runtime.py): one seed repeats everything, RNG states round-trip as plain data, devices, and the
stop flag that SIGINT sets (a second SIGINT raises). Run: python -m pytest tests/test_runtime.py
"""

import os
import random
import signal

import numpy as np
import pytest
import torch

from vanilla_gan.errors import UsageError
from vanilla_gan.runtime import StopFlag, bf16_seconds, draw_seed, resolve_device, rng_state, set_rng_state, set_seed


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
    from vanilla_gan import runtime

    class CpuInfo:
        def __init__(self, flags):
            self.flags = flags

        def __call__(self, path):
            return self

        def read_text(self):
            return f"flags\t\t: fpu sse avx2 {self.flags}\n"

    monkeypatch.setattr(runtime, "Path", CpuInfo(""))
    warning = runtime.bf16_warning("bf16", torch.device("cpu"))
    assert "without native bf16" in warning and torch.backends.cpu.get_cpu_capability() in warning
    assert runtime.bf16_warning("fp32", torch.device("cpu")) is None
    monkeypatch.setattr(runtime, "Path", CpuInfo("avx512_bf16"))
    monkeypatch.setattr(runtime, "bf16_seconds", lambda batch: (0.001, 0.002))  # native and measured faster
    assert runtime.bf16_warning("bf16", torch.device("cpu")) is None
    monkeypatch.setattr(runtime, "bf16_seconds", lambda batch: (0.003, 0.002))  # native, but slower at this batch
    warning = runtime.bf16_warning("bf16", torch.device("cpu"), 8)
    assert "measured slower than fp32" in warning and "at batch 8" in warning and "3.00 ms against 2.00 ms" in warning


def test_bf16_seconds_times_both_precisions_and_moves_no_rng():
    state = torch.get_rng_state()
    bf16, fp32 = bf16_seconds(8, repeats=2)
    assert 0 < bf16 < 5 and 0 < fp32 < 5
    assert torch.equal(torch.get_rng_state(), state)
