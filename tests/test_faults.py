"""The fault campaign: SIGKILL at every write and at random moments, full disks and I/O errors, two writers,
and NaN mid-run. After each fault: one clear line (or a silent death, for SIGKILL), the last checkpoint whole,
and a `--resume` that ends bit-identical to a run that never failed, with metrics.jsonl, steps.csv and
samples/ holding exactly its epochs and no temporary file left.

Faults at named writes use fileio's test hook, VANILLA_GAN_FAULT=FILE:MOMENT:N:ACTION. The fast cases run by
default; every case runs with `python -m pytest -m slow tests/test_faults.py` (and in .ci/run).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import TINY, WAIT, assert_one_line_error, assert_same_run, epochs_written, run_cli, run_main, wait_for

from vanilla_gan.runs.rundir import RunDir

EPOCHS = 3
ARGS = [*TINY, "--epochs", EPOCHS, "--seed", 11, "--checkpoint-every", 2]
EVAL_ARGS = [a for a in TINY if a not in ("--eval-every", "0")] + [
    "--eval-every", 1, "--eval-samples", 1000, "--epochs", EPOCHS, "--seed", 11, "--no-report"]
# Longer epochs (512 steps of a tiny model), for kills at a random moment inside one.
SLOW_ARGS = ["--latent-dim", 8, "--g-hidden", "32,32", "--d-hidden", "32,32", "--limit", 4096, "--batch-size", 8,
             "--eval-every", 0, "--no-report", "--epochs", EPOCHS, "--seed", 12]
CONFIGS = {"plain": ARGS, "evaluated": EVAL_ARGS, "long": SLOW_ARGS}


def cli(*args: object, fault: str | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, env={"VANILLA_GAN_FAULT": fault} if fault else {"VANILLA_GAN_FAULT": ""})


@pytest.fixture(scope="module")
def baselines(tmp_path_factory) -> dict[str, Path]:
    """Each configuration trained once, never interrupted."""
    folder = tmp_path_factory.mktemp("baselines")
    for name, args in CONFIGS.items():
        assert cli("train", *args, "--out", folder / name).returncode == 0
    return {name: folder / name for name in CONFIGS}


def losses(run: Path) -> list[tuple]:
    """(epoch and step, losses) of each line of metrics.jsonl."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [(tuple(json.loads(line)[k] for k in ("epoch", "step")),
             tuple(json.loads(line)[k] for k in ("loss_d", "loss_g", "d_real", "d_fake"))) for line in lines]


def step_numbers(run: Path) -> list[str]:
    return [",".join(line.split(",")[:2]) for line in (run / "steps.csv").read_text().splitlines()]


def checkpoint_epoch(run: Path) -> int | None:
    """The epoch of last.pt, loaded as the package loads it (so it must be whole), or None without one."""
    last = run / "checkpoints" / "last.pt"
    return RunDir(run).load_checkpoint()["epoch"] if last.exists() else None


def assert_finished_like(run: Path, baseline: Path) -> None:
    """The resumed run ends as the uninterrupted one: the whole state bit-identical (weights, EMA, Adam, RNGs,
    position), the same logs, nothing extra."""
    assert [k for k, _ in losses(run)] == [k for k, _ in losses(baseline)]  # every epoch once, no gap or torn line
    assert step_numbers(run) == step_numbers(baseline)  # every step once
    assert_same_run(run, baseline)
    assert (run / "steps.csv").read_text() == (baseline / "steps.csv").read_text()
    for folder in ("samples", "checkpoints"):
        assert sorted(p.name for p in (run / folder).iterdir()) == sorted(p.name for p in (baseline / folder).iterdir())
    assert not list(run.rglob("*.tmp-*")), "temporary files of the dead writer are removed"
    assert not (run / "stop.json").exists()


# ----------------------------------------------------------------------------- SIGKILL inside every write

# (configuration, fault, the epoch last.pt holds after the kill: None = no checkpoint yet)
WRITE_KILLS = [
    ("plain", "config.json:written:1:kill", None),
    ("plain", "metrics.jsonl:written:1:kill", None),
    ("plain", "epoch_0001.png:partial:1:kill", None),
    ("plain", "steps.csv:partial:1:kill", None),
    ("plain", "last.pt:partial:1:kill", None),
    ("plain", "last.pt:written:1:kill", None),
    ("plain", "last.pt:renamed:1:kill", 1),
    ("plain", "metrics.jsonl:partial:2:kill", 1),
    ("plain", "epoch_0002.png:written:1:kill", 1),
    ("plain", "steps.csv:partial:2:kill", 1),
    ("plain", "last.pt:written:2:kill", 1),
    ("plain", "epoch_0002.pt:written:1:kill", 1),
    ("plain", "metrics.jsonl:partial:3:kill", 2),
    ("plain", "last.pt:partial:3:kill", 2),
    ("plain", "losses.png:written:1:kill", 3),
    ("plain", "report.html:partial:1:kill", 3),
    ("evaluated", "best.pt:partial:1:kill", None),
    ("evaluated", "best.pt:renamed:1:kill", None),
    ("evaluated", "last.pt:written:2:kill", 1),
]
FAST = {"config.json:written:1:kill", "last.pt:written:1:kill", "metrics.jsonl:partial:2:kill",
        "steps.csv:partial:2:kill", "epoch_0002.pt:written:1:kill", "report.html:partial:1:kill",
        "best.pt:renamed:1:kill"}


@pytest.mark.parametrize(("config", "fault", "kept"), [
    pytest.param(*case, marks=() if case[1] in FAST else pytest.mark.slow, id=f"{case[0]}-{case[1]}")
    for case in WRITE_KILLS])
def test_sigkill_inside_a_write(tmp_path, baselines, config, fault, kept):
    run = tmp_path / "run"
    killed = cli("train", *CONFIGS[config], "--out", run, fault=fault)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-500:]
    assert checkpoint_epoch(run) == kept  # at most the epoch being written is lost, and last.pt loads
    resumed = cli("train", "--out", run, "--resume")
    if not (run / "config.json").exists():  # killed before the run had begun: nothing to resume from
        assert "train it afresh" in assert_one_line_error(resumed, 2)
        resumed = cli("train", *CONFIGS[config], "--out", run)
    assert resumed.returncode == 0, resumed.stderr[-500:]
    if kept is None and "afresh" not in resumed.stderr:
        assert "starting it over" in resumed.stdout or "training on" in resumed.stdout
    assert_finished_like(run, baselines[config])


def test_a_start_killed_before_its_first_checkpoint_can_be_trained_afresh(tmp_path, baselines):
    run = tmp_path / "run"
    assert cli("train", *ARGS, "--out", run, fault="last.pt:written:1:kill").returncode == -signal.SIGKILL
    assert (run / "config.json").exists() and not (run / "checkpoints" / "last.pt").exists()
    again = cli("train", *ARGS, "--out", run)
    assert again.returncode == 0, again.stderr[-500:]
    assert_finished_like(run, baselines["plain"])


# ----------------------------------------------------------------------------- SIGKILL at random moments

def kill_at(args: list, run: Path, moment: float, after_epochs: int) -> int:
    """Start training, wait for its config.json and `after_epochs` complete epochs, then SIGKILL it `moment`
    seconds later; returns the epochs metrics.jsonl held just before the kill."""
    process = subprocess.Popen([sys.executable, "-m", "vanilla_gan", "train", *map(str, args), "--out", str(run)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "VANILLA_GAN_FAULT": ""})
    wait_for(f"{after_epochs} epoch(s) in metrics.jsonl before the kill",
             lambda: (run / "config.json").exists() and epochs_written(run) >= after_epochs, process, poll=0.005)
    time.sleep(moment)  # the moment of the kill, drawn by the test: not a wait for an event
    done = epochs_written(run)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=WAIT)
    return done


RANDOM_KILLS = [(seed, after) for seed, after in ((1, 0), (2, 0), (3, 1), (4, 1), (5, 2), (6, 1))]


@pytest.mark.parametrize(("seed", "after_epochs"), [
    pytest.param(*case, marks=() if case[0] in (1, 3) else pytest.mark.slow, id=f"seed{case[0]}-after{case[1]}")
    for case in RANDOM_KILLS])
def test_sigkill_at_a_random_moment(tmp_path, baselines, seed, after_epochs):
    """Early (while starting or in the first epoch) or in the middle of a later epoch."""
    moment = random.Random(seed).uniform(0, 0.5)
    run = tmp_path / "run"
    done = kill_at(SLOW_ARGS, run, moment, after_epochs)
    kept = checkpoint_epoch(run)
    assert (kept or 0) >= done, "a logged epoch is always checkpointed"
    resumed = cli("train", "--out", run, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-500:]
    assert_finished_like(run, baselines["long"])


# ----------------------------------------------------------------------------- full disk, I/O errors

# (fault, the file the error line names, exit status, the epoch last.pt holds after it)
DISK_FAULTS = [
    ("config.json:written:1:ENOSPC", "config.json", 1, None),
    ("last.pt:written:2:ENOSPC", "last.pt", 1, 1),
    ("metrics.jsonl:partial:2:ENOSPC", "metrics.jsonl", 1, 1),
    ("steps.csv:partial:2:EIO", "steps.csv", 1, 1),
    ("epoch_0002.png:written:1:ENOSPC", "epoch_0002.png", 1, 1),
    ("epoch_0002.pt:written:1:EIO", "epoch_0002.pt", 1, 1),
]


@pytest.mark.parametrize(("fault", "names", "status", "kept"), DISK_FAULTS, ids=[f[0] for f in DISK_FAULTS])
def test_a_full_disk_or_io_error_is_one_line_and_resumable(tmp_path, baselines, fault, names, status, kept):
    run = tmp_path / "run"
    failed = cli("train", *ARGS, "--out", run, fault=fault)
    line = assert_one_line_error(failed, status)
    assert names in line and ("disk is full" in line if "ENOSPC" in fault else "input/output error" in line)
    assert checkpoint_epoch(run) == kept
    assert not list(run.rglob("*.tmp-*"))
    resumed = cli("train", "--out", run, "--resume")
    if not (run / "config.json").exists():  # it failed before the run had begun: train it afresh
        resumed = cli("train", *ARGS, "--out", run)
    assert resumed.returncode == 0, resumed.stderr[-500:]
    assert_finished_like(run, baselines["plain"])


def test_a_report_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path):
    run = tmp_path / "run"
    result = cli("train", *ARGS, "--out", run, fault="report.html:written:1:ENOSPC")
    assert result.returncode == 0 and checkpoint_epoch(run) == EPOCHS
    assert "warning: the report could not be written" in result.stderr and "disk is full" in result.stderr


def test_a_real_full_tmpfs(tmp_path, baselines):
    """A 1.2 MB tmpfs fills up at the second checkpoint (the tiny model's last.pt is about 0.6 MB); once it is
    made larger, --resume finishes the run. Needs root to mount; skipped elsewhere."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        run = mount / "run"
        failed = cli("train", *ARGS, "--no-report", "--out", run)
        line = assert_one_line_error(failed, 1)
        assert "disk is full" in line, line
        kept = checkpoint_epoch(run)
        assert kept is not None and kept < EPOCHS and not list(run.rglob("*.tmp-*"))
        subprocess.run(["mount", "-o", "remount,size=8m", str(mount)], check=True)
        assert cli("train", "--out", run, "--resume").returncode == 0
        assert_same_run(run, baselines["plain"])
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_an_out_that_cannot_be_a_folder_or_vanishes(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    line = assert_one_line_error(run_main("train", *ARGS, "--out", tmp_path / "a-file" / "run"), 2)
    assert "a-file" in line
    run = tmp_path / "vanishing"
    process = subprocess.Popen([sys.executable, "-m", "vanilla_gan", "train", *map(str, SLOW_ARGS), "--epochs", "20",
                                "--out", str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for("the first epoch in metrics.jsonl", lambda: epochs_written(run) >= 1, process)
    shutil.rmtree(run)
    _, err = process.communicate(timeout=WAIT)
    assert process.returncode == 1 and err.strip().startswith("error: cannot write"), err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
    assert not run.exists(), "a vanished run folder is not made again"


# ----------------------------------------------------------------------------- one writer per folder

def start(args: list, run: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vanilla_gan", "train", *map(str, args), "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epochs(run: Path, process: subprocess.Popen, epochs: int) -> None:
    wait_for(f"{epochs} epoch(s) in {run.name}/metrics.jsonl", lambda: epochs_written(run) >= epochs, process)


def test_a_second_writer_stops_at_once_and_readers_do_not_disturb(tmp_path):
    run = tmp_path / "run"
    first = start([*SLOW_ARGS, "--epochs", 50], run)  # long enough to outlast the others; stopped below
    wait_for_epochs(run, first, 1)
    for extra in ([], ["--resume"]):
        second = run_cli("train", *SLOW_ARGS, *extra, "--out", run)
        line = assert_one_line_error(second, 2)
        assert f"being trained by process {first.pid}" in line
    for command in (["report", run], ["sample", run, "-o", tmp_path / "s.png"], ["evaluate", run, "-n", 1000],
                    ["export", run, "-o", tmp_path / "g.pt"]):
        result = run_cli(*command)
        assert result.returncode == 0, (command, result.stderr[-300:])
    assert first.poll() is None, "the first writer ended before the others were done: give it more epochs"
    first.send_signal(signal.SIGINT)  # the writer was never disturbed: it stops as asked, its epochs all there
    first.communicate(timeout=WAIT)
    assert first.returncode == 130
    epochs = RunDir(run).load_checkpoint()["epoch"]
    assert epochs >= 1 and [key[0] for key, _ in losses(run)] == list(range(1, epochs + 1))  # once each
    steps = RunDir(run).read_steps()["step"]
    assert steps.tolist() == list(range(1, epochs * 512 + 1))
    assert not list(run.rglob("*.tmp-*"))


def test_a_stale_lock_never_blocks_a_resume(tmp_path, baselines):
    run = tmp_path / "run"
    process = start(SLOW_ARGS, run)
    wait_for_epochs(run, process, 1)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=WAIT)
    assert (run / "train.lock").read_text().strip() == str(process.pid)  # the dead writer's lock file stays
    resumed = run_cli("train", "--out", run, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-500:]
    assert_finished_like(run, baselines["long"])


# ----------------------------------------------------------------------------- numerical faults

@pytest.mark.parametrize("where", ["weight", "batch"])
def test_nan_in_a_weight_or_a_batch_stops_naming_the_step_and_resume_works(tmp_path, baselines, monkeypatch, where):
    from vanilla_gan.training.trainer import Trainer

    run = tmp_path / "run"
    original_step, original_batch = Trainer.train_step, Trainer._batch
    calls = []

    def poisoned_step(self, real):
        calls.append(1)
        if len(calls) == 11:  # step 3 of epoch 2 (8 steps an epoch)
            with torch.no_grad():
                self.D.net[0].weight[0, 0] = float("nan")
        return original_step(self, real)

    def poisoned_batch(self, b):
        real = original_batch(self, b)
        return real.fill_(float("inf")) if self.epoch == 1 and b == 2 else real

    monkeypatch.setattr(Trainer, *(("train_step", poisoned_step) if where == "weight" else ("_batch", poisoned_batch)))
    line = assert_one_line_error(run_main("train", *ARGS, "--no-report", "--out", run), 1)
    assert "non-finite" in line and "at epoch 2, step 11" in line and "(epoch 1) is kept" in line
    assert checkpoint_epoch(run) == 1
    monkeypatch.setattr(Trainer, "train_step", original_step)
    monkeypatch.setattr(Trainer, "_batch", original_batch)
    assert run_main("train", "--out", run, "--resume").returncode == 0
    assert_finished_like(run, baselines["plain"])
