"""The thread policy (threads.py): how many CPUs a process may use, how it adapts to a machine's load (with a
fake clock, not by timing this machine), that changing the count changes no result, `--threads`, and the
note an epoch line and the report give when training slows down (an injected slow step).

Run: python -m pytest tests/test_threads.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import warnings
from types import SimpleNamespace

import pytest
import torch
from helpers import TINY, TINY_OPTIONS, WAIT, assert_one_line_error, run_cli

import vanilla_gan as vg
from vanilla_gan.api.session import resumed_threads_warning
from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import limit_images, load_dataset
from vanilla_gan.gan.models import build_discriminator, build_generator
from vanilla_gan.report.health import health_notes
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.runs.runlog import RunRecord
from vanilla_gan.training import threads
from vanilla_gan.training.process import mkl_cbwr
from vanilla_gan.training.progress import clock, slowdown
from vanilla_gan.training.threads import ThreadPolicy, cgroup_quota, usable_cpus
from vanilla_gan.training.trainer import Trainer

# ----------------------------------------------------------------------------- the CPUs a process may use

def test_a_containers_cpu_quota_caps_the_cpus(tmp_path):
    assert cgroup_quota(tmp_path) is None  # nothing to read: no quota
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_quota(tmp_path) == 1.5
    assert usable_cpus(tmp_path) == min(2, len(os.sched_getaffinity(0)))  # 1.5 CPUs: two threads may run
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert usable_cpus(tmp_path) == 1
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_quota(v1) is None
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    assert cgroup_quota(v1) == 1.0


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_cpu_affinity_caps_the_cpus():
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "from vanilla_gan.training.threads import usable_cpus; print(usable_cpus())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT)
    assert result.stdout.strip() == "1", result.stderr


# ----------------------------------------------------------------------------- the choice

def test_an_explicit_count_is_fixed_and_the_rest_adapts_only_where_results_cannot_change(monkeypatch):
    cpu = torch.device("cpu")
    assert ThreadPolicy.choose(3, cpu, ()).record() == {"adaptive": False, "counts": [3], "evaluation": 3,
                                                    "why": "--threads"}
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert ThreadPolicy.choose(None, cpu, ()).why == "OMP_NUM_THREADS"
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(threads, "usable_cpus", lambda: 4)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    adaptive = ThreadPolicy.choose(None, cpu, ())
    assert adaptive.adaptive and adaptive.ladder == [1, 2, 4] and adaptive.most == 4 and adaptive.running == 1
    assert not ThreadPolicy.choose(None, torch.device("cuda"), ()).adaptive
    monkeypatch.setattr(threads, "mkl_cbwr", lambda: "OFF")  # MKL's default: the count would change the numbers
    fixed = ThreadPolicy.choose(None, cpu, ())
    assert not fixed.adaptive and fixed.ladder == [4] and "strict" in fixed.why


def test_networks_whose_numbers_depend_on_the_count_keep_the_most_threads(monkeypatch):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 2)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cpu = torch.device("cpu")

    def policy(**model) -> ThreadPolicy:
        config = ModelConfig(**model)
        return ThreadPolicy.choose(None, cpu, (build_generator(config), build_discriminator(config)))

    assert policy().adaptive  # the classic networks: matrix products and element-wise functions
    for model, layer in (({"g_net": "conv"}, "BatchNorm1d"), ({"d_net": "mlp+conv"}, "Conv2d"),
                         ({"spectral_norm": True}, "ParametrizedLinear"), ({"minibatch_std": True}, "MinibatchStd")):
        fixed = policy(**model)
        assert not fixed.adaptive and fixed.ladder == [2] and fixed.why.startswith(layer), model
    assert ThreadPolicy.choose(1, cpu, (torch.nn.Conv2d(1, 1, 3),)).ladder == [1]  # --threads still rules

    class Own(torch.nn.Module):  # a user's module of steady layers may still compute anything in its forward
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 4)

        def forward(self, x):
            return torch.nn.functional.conv1d(self.linear(x)[:, None], torch.ones(1, 1, 3))[:, 0]

    own = ThreadPolicy.choose(None, cpu, (torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh()), Own()))
    assert not own.adaptive and own.why.startswith("Own")


def test_a_conv_trainer_keeps_its_count_and_says_why(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # (xdist workers run under OMP_NUM_THREADS=1)
    images = limit_images(load_dataset("digits")[0], 64)
    trainer = Trainer(ModelConfig(g_net="conv", conv_width=4), TrainConfig(seed=1, epochs=1, batch_size=8,
                                                                           eval_every=0), images, progress=False)
    recorded = trainer.threads.record()
    assert recorded["adaptive"] is False and recorded["why"].startswith("BatchNorm1d")
    classic = Trainer(ModelConfig(), TrainConfig(seed=1, epochs=1, batch_size=8, eval_every=0), images,
                      progress=False)
    assert classic.threads.why != recorded["why"]  # the classic networks adapt (or give another reason)


def test_a_conv_run_resumed_at_another_count_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    conv = {**TINY_OPTIONS, "g_net": "conv", "conv_width": 4, "limit": 128, "report": False}
    vg.train(out=tmp_path / "run", epochs=1, threads=1, **conv)
    said = "last epoch trained at"

    def resume(run: str, epochs: int) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vg.train(out=tmp_path / run, resume=True, epochs=epochs, threads=2, report=False)
        return [str(w.message) for w in caught if said in str(w.message)]

    assert re.search(r"at 1 thread.*continues at 2.*--threads 1", "".join(resume("run", 2)))
    assert resume("run", 3) == []  # the same count: nothing to say
    vg.train(out=tmp_path / "mlp", epochs=1, threads=1, **{**TINY_OPTIONS, "report": False})
    assert resume("mlp", 2) == []  # the classic layers compute the same numbers at any count


def test_a_run_whose_last_epoch_was_on_a_gpu_gets_no_thread_advice():
    # A GPU epoch records no thread count; the CPU epochs before it must not be read as the last epoch's.
    conv = build_generator(ModelConfig(g_net="conv", conv_width=4))
    trainer = SimpleNamespace(threads=SimpleNamespace(adaptive=False, most=2), device=torch.device("cpu"),
                              G=conv, D=conv, metrics=[{"threads": 1}, {"threads": None}])
    assert resumed_threads_warning(trainer) == []
    trainer.metrics = [{"threads": None}, {"threads": 1}]
    assert "--threads 1" in resumed_threads_warning(trainer)[0]


# ----------------------------------------------------------------------------- adapting, with a fake clock

class FakeMachine:
    """A clock that a step advances by its cost at torch's current thread count: `cost(threads, step)`."""

    def __init__(self, monkeypatch, cost):
        self.now, self.cost = 0.0, cost
        monkeypatch.setattr(threads.time, "perf_counter", lambda: self.now)

    def train(self, policy: ThreadPolicy, steps: int, start: int = 0) -> dict[int, int]:
        """Steps at each count."""
        used: dict[int, int] = {}
        for step in range(start, start + steps):
            n = torch.get_num_threads()
            used[n] = used.get(n, 0) + 1
            self.now += self.cost(n, step)
            policy.after_step()
        return used


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def seconds(machine_cost, used: dict[int, int], start: int = 0) -> float:
    return sum(machine_cost(n, start) * k for n, k in used.items())


def test_on_an_idle_machine_it_settles_on_the_faster_count(monkeypatch, restore_threads):
    cost = lambda n, step: {1: 1.2, 2: 1.0}[n]  # noqa: E731 - two threads 1.2x faster (batch 8, idle)
    machine, policy = FakeMachine(monkeypatch, cost), ThreadPolicy(2, True, "test")
    with policy.training():
        used = machine.train(policy, 5000)
    assert used[2] > 0.97 * 5000
    best = 5000 * 1.0
    assert seconds(cost, used) <= best / 0.97  # within 3% of always taking the faster count


def test_beside_a_busy_program_one_collapsing_probe_costs_about_a_step(monkeypatch, restore_threads):
    cost = lambda n, step: {1: 1.0, 2: 13.0}[n]  # noqa: E731 - two threads collapse (seen: 13x at batch 8)
    machine, policy = FakeMachine(monkeypatch, cost), ThreadPolicy(2, True, "test")
    with policy.training():
        used = machine.train(policy, 20000)
    assert seconds(cost, used) <= 20000 / 0.95  # at least 0.95x of one thread all along
    assert used[2] < 100


def test_it_follows_a_load_that_comes_and_goes(monkeypatch, restore_threads):
    def cost(n, step):  # idle, then a busy program for 4000 steps, then idle again
        busy = 3000 <= step < 7000
        return {1: 1.0 if busy else 1.2, 2: 8.0 if busy else 1.0}[n]
    machine, policy = FakeMachine(monkeypatch, cost), ThreadPolicy(2, True, "test")
    with policy.training():
        early, busy, late = (machine.train(policy, 3000), machine.train(policy, 4000, 3000),
                             machine.train(policy, 3000, 7000))
    assert early.get(2, 0) > 0.95 * 3000 and busy.get(1, 0) > 0.95 * 4000
    # Back at idle, the one-thread count is probed against two within the longest wait between probes.
    assert late.get(1, 0) <= threads.MAX_WAIT * threads.STRETCH + threads.PROBE and late.get(2, 0) > 0


def test_a_fixed_policy_never_changes_the_count(monkeypatch, restore_threads):
    machine, policy = FakeMachine(monkeypatch, lambda n, step: 1.0), ThreadPolicy(1, False, "--threads")
    with policy.training():
        assert machine.train(policy, 500) == {1: 500}
    assert policy.most_used() == 1


def test_training_restores_the_callers_thread_count(restore_threads):
    torch.set_num_threads(1)
    policy = ThreadPolicy(2, False, "test")
    with policy.training():
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1


# ----------------------------------------------------------------------------- the numbers do not change

class Alternating(ThreadPolicy):
    """Changes the count after every step: the worst case for reproducibility."""

    def after_step(self) -> None:
        super().after_step()
        torch.set_num_threads(1 if torch.get_num_threads() > 1 else 2)


def test_changing_the_thread_count_while_training_changes_no_number(restore_threads):
    assert mkl_cbwr() == "AUTO,STRICT"  # set by the package's import (runtime.reproducible_mkl)
    images = limit_images(load_dataset("digits")[0], 400)
    runs = {}
    for name, policy in {"one": ThreadPolicy(1, False, "test"), "changing": Alternating(2, False, "test")}.items():
        trainer = Trainer(ModelConfig(), TrainConfig(seed=5, epochs=2, batch_size=8, eval_every=0), images,
                          progress=False)
        trainer.threads = policy
        trainer.train()
        runs[name] = trainer.state_dict()
    for key in ("generator", "generator_ema", "discriminator"):
        for name, tensor in runs["one"][key].items():
            assert torch.equal(tensor, runs["changing"][key][name]), f"{key}.{name}"


# ----------------------------------------------------------------------------- --threads

def test_threads_option_is_recorded(tmp_path):
    run = tmp_path / "run"
    result = run_cli("train", *TINY, "--epochs", "1", "--threads", "1", "--out", run, "--no-report")
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["threads"] == 1 and config["threads"]["counts"] == [1]
    assert config["threads"]["why"] == "--threads"
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["threads"] == 1


def test_a_nonsensical_thread_count_is_one_line(tmp_path):
    assert "--threads must be" in assert_one_line_error(run_cli("train", *TINY, "--threads", "0", "--out",
                                                                tmp_path / "r"), 2)
    with pytest.raises(vg.UsageError, match="threads"):
        vg.train(**TINY_OPTIONS, epochs=1, threads=-2, out=tmp_path / "api", report=False, verbose=False)


def test_the_api_takes_threads(tmp_path):
    run = vg.train(**TINY_OPTIONS, epochs=1, threads=1, seed=2, out=tmp_path / "api", report=False, verbose=False)
    assert json.loads((run.path / "config.json").read_text())["threads"]["counts"] == [1]


# ----------------------------------------------------------------------------- when speed collapses

def test_a_slowed_down_epoch_is_said_in_its_line_and_in_the_report(tmp_path, monkeypatch):
    """A fake clock that only the steps move: 10 ms a step, then 100 ms from epoch 5 on (a busy program)."""
    clock_now = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock_now[0])
    images = limit_images(load_dataset("digits")[0], 512)
    lines = []
    trainer = Trainer(ModelConfig(latent_dim=8, g_hidden=(32, 32), d_hidden=(32, 32)),
                      TrainConfig(seed=1, epochs=5, batch_size=64, eval_every=0), images,
                      run=RunDir(tmp_path / "run"), log=lines.append, progress=False)
    step = trainer.train_step

    def throttled(real):
        clock_now[0] += 0.1 if trainer.epoch >= 4 else 0.01
        return step(real)
    trainer.train_step = throttled
    trainer.train()
    assert all("[slow:" not in line for line in lines[:4]), lines
    assert "[slow: 10% of the first epochs' 6,400 img/s" in lines[4] and lines[4].endswith("close it]")  # 1 thread
    notes = health_notes(RunDir(tmp_path / "run").read())
    assert any(n.title.startswith("Training slowed down: 1 epoch ") and "epoch 5: 640" in n.meaning
               for n in notes), [n.title for n in notes]


def test_no_slowdown_note_before_the_first_epochs_or_at_their_speed():
    assert slowdown([]) == "" and slowdown([{"images_per_s": 10}]) == ""
    steady = [{"images_per_s": s} for s in (100, 90, 110, 60)]
    assert slowdown(steady) == ""
    assert "40% of the first epochs' 100 img/s" in slowdown(steady[:3] + [{"images_per_s": 40}])


def test_the_reports_slowdown_advice_suggests_one_thread_only_to_a_run_that_used_more(tmp_path):
    def advice(threads):
        metrics = [{"epoch": e, "images_per_s": 100 if e < 4 else 40, "threads": threads} for e in range(1, 6)]
        notes = health_notes(RunRecord(tmp_path, {"train": {"grid_size": 64}}, metrics, None))
        return next(n.advice for n in notes if n.title.startswith("Training slowed down"))
    assert "--threads 1" in advice(2) and "--threads 1" not in advice(1)


def test_the_slowdown_note_suggests_one_thread_only_to_an_epoch_that_used_more():
    steady = [{"images_per_s": 100, "threads": 2}] * 3
    assert slowdown(steady + [{"images_per_s": 40, "threads": 2}]).endswith("close it, or train with --threads 1]")
    assert slowdown(steady + [{"images_per_s": 40, "threads": 1}]).endswith("CPU? close it]")


def test_the_progress_bar_shows_the_whole_runs_time_left():
    images = limit_images(load_dataset("digits")[0], 512)
    trainer = Trainer(ModelConfig(latent_dim=8, g_hidden=(32, 32), d_hidden=(32, 32)),
                      TrainConfig(seed=1, epochs=10, batch_size=64), images, progress=False)
    trainer.step, trainer.elapsed = 8, 4.0  # one epoch of 8 steps in 4 s: 9 epochs (36 s) left
    assert trainer._time_left(0.0) == pytest.approx(36.0)
    trainer.config.minutes = 0.5  # a 30 s budget, 4 s spent
    assert trainer._time_left(0.0) == pytest.approx(26.0)
    assert clock(36) == "0:36" and clock(3723) == "1:02:03"
