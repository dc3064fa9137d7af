"""A run folder from anyone (issue #23): links out of it, FIFOs, files of other runs, damaged JSON, broken streams.
Every command must write only inside the run folder, never block, and fail with one `error:` line.
Run: python -m pytest tests/test_runfolder_safety.py
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, assert_one_line_error, run_cli, run_main

import vanilla_gan as vg
from vanilla_gan import sweepplan
from vanilla_gan.data.idx import write_idx

HANG = 60  # seconds: a command that blocks on a FIFO fails the test instead of hanging the suite


def copy_run(tmp_path: Path, tiny_run: Path) -> tuple[Path, Path]:
    """A private copy of the finished tiny run, and an `outside` folder beside it."""
    run, outside = tmp_path / "RUN", tmp_path / "outside"
    shutil.copytree(tiny_run, run)
    outside.mkdir()
    return run, outside


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below `folder` (links not followed) -> the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def link_out(run: Path, outside: Path, name: str) -> None:
    """Move RUN/name out of the run folder (a file gets a stand-in) and leave a link to it in its place."""
    target = outside / name.replace("/", "_")
    if (run / name).exists():
        shutil.move(run / name, target)
    elif name.endswith("/"):
        target.mkdir()
    else:
        target.write_text("someone else's file\n")
    if target.is_dir():
        (target / "epoch_0009.png").write_bytes(b"someone else's picture")  # a name resume would clear
        (target / "epoch_0007.pt").write_bytes(b"someone else's checkpoint")
    (run / name.rstrip("/")).symlink_to(target)


# ----------------------------------------------------------------------------- groups 1-5: links out of the folder

@pytest.mark.parametrize("name, command", [
    ("train.lock", "resume"),     # 1: the PID would be written into the link's target
    ("samples", "resume"),        # 2: grids of later epochs deleted there, new ones written there
    ("checkpoints", "resume"),    # 3: kept checkpoints deleted there, last.pt written there
    ("steps.csv", "resume"),      # 4: rows appended to the link's target
    ("plots/", "report"),         # 5: losses.png and the others written there
    ("metrics.jsonl", "report"),  # read from outside the folder
])
def test_a_link_out_of_the_run_folder_is_refused_and_nothing_outside_changes(tmp_path, tiny_run, name, command):
    run, outside = copy_run(tmp_path, tiny_run)
    link_out(run, outside, name)
    before = snapshot(outside)
    args = ["train", "--out", run, "--resume", "--epochs", "3"] if command == "resume" else ["report", run]
    line = assert_one_line_error(run_cli(*args, timeout=HANG))
    assert "symbolic link" in line and name.rstrip("/") in line
    assert snapshot(outside) == before


# ----------------------------------------------------------------------------- groups 6-7: FIFOs never block

@pytest.mark.parametrize("name", ["metrics.jsonl", "config.json"])
def test_report_of_a_fifo_is_one_line_not_a_hang(tmp_path, tiny_run, name):
    run, _ = copy_run(tmp_path, tiny_run)
    (run / name).unlink()
    os.mkfifo(run / name)
    line = assert_one_line_error(run_cli("report", run, timeout=HANG))
    assert "a FIFO" in line and name in line


def test_report_leaves_out_a_grid_that_is_a_fifo(tmp_path, tiny_run):
    run, _ = copy_run(tmp_path, tiny_run)
    grid = run / "samples" / "epoch_0001.png"
    grid.unlink()
    os.mkfifo(grid)
    result = run_cli("report", run, timeout=HANG)
    assert result.returncode == 0, result.stderr
    assert "epoch_0001.png: not a readable PNG, left out" in result.stdout


def test_resume_with_a_fifo_at_steps_csv_is_one_line_not_a_hang(tmp_path, tiny_run):
    run, _ = copy_run(tmp_path, tiny_run)
    (run / "steps.csv").unlink()
    os.mkfifo(run / "steps.csv")
    line = assert_one_line_error(run_cli("train", "--out", run, "--resume", "--epochs", "3", timeout=HANG))
    assert "steps.csv is a FIFO" in line
    assert (run / "checkpoints" / "last.pt").read_bytes() == (tiny_run / "checkpoints" / "last.pt").read_bytes()


def test_a_fresh_run_is_untouched_by_the_rule(tmp_path):
    """The rule refuses only what is wrong: a new run, then a resume, train as before."""
    run = tmp_path / "fresh"
    assert run_cli("train", *TINY, "--epochs", "1", "--seed", "1", "--out", run).returncode == 0
    result = run_cli("train", "--out", run, "--resume", "--epochs", "2")
    assert result.returncode == 0, result.stderr
    assert (run / "samples" / "epoch_0002.png").is_file()


# ----------------------------------------------------------------------------- 8: checked before the first step

def data_folder(folder: Path, n: int, seed: int = 0) -> Path:
    """A data folder of `n` random 28x28 images."""
    folder.mkdir(parents=True)
    write_idx(folder / "train-images-idx3-ubyte", np.random.default_rng(seed).integers(0, 256, (n, 28, 28), np.uint8))
    return folder


def test_too_few_real_images_for_the_evaluation_is_said_before_the_first_step(tmp_path):
    data = data_folder(tmp_path / "small", 50)
    out = tmp_path / "RUN"
    line = assert_one_line_error(run_cli("train", "--dataset", data, "--batch-size", "16", "--eval-samples", "1000",
                                         "--epochs", "2", "--out", out))
    assert "has 50" in line and "--eval-every 0" in line
    assert not out.exists()  # nothing trained, nothing written
    with pytest.raises(vg.UsageError, match="--eval-every 0"):
        vg.train(dataset=str(data), batch_size=16, epochs=2, out=tmp_path / "api", eval_every=1)


# ----------------------------------------------------------------------------- 9: training without its streams

def test_a_broken_stdout_or_a_closed_stderr_never_stops_training(tmp_path):
    train = [sys.executable, "-m", "vanilla_gan", "train", *TINY, "--epochs", "3", "--seed", "1", "--no-report"]
    piped = subprocess.run(" ".join(map(shlex.quote, [*train, "--out", str(tmp_path / "head")])) + " | head -1",
                           shell=True, capture_output=True, text=True, timeout=300)
    closed = subprocess.run(" ".join(map(shlex.quote, [*train, "--out", str(tmp_path / "closed")])) + " 2>&- >&-",
                            shell=True, capture_output=True, text=True, timeout=300)
    assert piped.stdout.count("\n") == 1 and "Traceback" not in piped.stderr, piped.stderr
    assert closed.returncode == 0
    for run in ("head", "closed"):
        assert torch.load(tmp_path / run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 3, run


# ----------------------------------------------------------------------------- 10: finite weights only

def test_a_checkpoint_of_nan_weights_is_refused_by_every_command(tmp_path, tiny_run):
    run, _ = copy_run(tmp_path, tiny_run)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    for name in ("generator", "generator_ema"):
        for weight in state[name].values():
            weight.fill_(float("nan"))
    torch.save(state, run / "checkpoints" / "last.pt")
    for args in (["sample", run, "-o", tmp_path / "x.png"], ["evaluate", run, "-n", "1000"],
                 ["train", "--out", run, "--resume", "--epochs", "3"]):
        assert "holds NaN or infinite values" in assert_one_line_error(run_main(*args)), args
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(vg.CheckpointError, match="NaN"):
        vg.load(run).sample(4)


# ----------------------------------------------------------------------------- 11-12: a checkpoint of its own run

def test_a_relative_dataset_resumed_from_elsewhere_trains_on_the_same_images(tmp_path):
    data = data_folder(tmp_path / "here" / "data", 200, seed=1)
    data_folder(tmp_path / "elsewhere" / "data", 200, seed=2)  # the same name, other images
    run = tmp_path / "RUN"
    first = run_cli("train", *TINY[:-4], "--batch-size", "16", "--dataset", "data", "--epochs", "1", "--seed", "1",
                    "--out", run, "--no-report", cwd=tmp_path / "here")
    assert first.returncode == 0, first.stderr
    resumed = run_cli("train", "--out", run, "--resume", "--epochs", "2", "--no-report", cwd=tmp_path / "elsewhere")
    assert resumed.returncode == 0, resumed.stderr
    assert vg.load(run).config["train"]["dataset"] == str(data)  # stored absolute: the images it trained on
    write_idx(data / "train-images-idx3-ubyte", np.zeros((200, 28, 28), np.uint8))  # the data changed meanwhile
    line = assert_one_line_error(run_cli("train", "--out", run, "--resume", "--epochs", "3", cwd=tmp_path))
    assert "not the ones the run was trained on" in line


def test_another_runs_checkpoint_copied_in_is_refused(tmp_path, tiny_run):
    run, _ = copy_run(tmp_path, tiny_run)
    other = tmp_path / "other"
    assert run_cli("train", *TINY[:-6], "--g-hidden", "16,16", "--d-hidden", "32,32", "--limit", "512",
                   "--batch-size", "64", "--epochs", "1", "--seed", "5", "--out", other, "--no-report").returncode == 0
    shutil.copy(other / "checkpoints" / "last.pt", run / "checkpoints" / "last.pt")
    before = snapshot(run)
    line = assert_one_line_error(run_main("train", "--out", run, "--resume", "--epochs", "3"))
    assert "not this run's checkpoint" in line and "--g-hidden" in line and "--seed" in line
    assert {**snapshot(run), "train.lock": ""} == {**before, "train.lock": ""}  # the lock holds the last PID


# ----------------------------------------------------------------------------- 13-14: counted before expanded

def test_a_huge_seed_range_is_refused_before_it_is_expanded(tmp_path):
    line = assert_one_line_error(run_cli("sweep", "--seeds", "0-1000000000", "--out", tmp_path / "S", timeout=60))
    assert "1,000,000,001" in line
    assert not (tmp_path / "S").exists()


def test_a_huge_set_grid_is_refused_before_any_configuration_is_checked(tmp_path, monkeypatch):
    def checked(*args):
        raise AssertionError("a configuration was checked before the grid was counted")

    monkeypatch.setattr(sweepplan, "check_options", checked)
    lrs = ",".join(f"{i * 1e-6:.6f}" for i in range(1, 1001))
    dropouts = ",".join(f"{i / 1000:g}" for i in range(1000))
    line = assert_one_line_error(run_main("sweep", "--seeds", "1", "--set", f"lr={lrs}", "--set",
                                          f"dropout={dropouts}", "--out", tmp_path / "S"))
    assert "1,000,000 configurations" in line


# ----------------------------------------------------------------------------- 17: nested JSON is damaged JSON

NESTED = "[" * 100_000


def test_deeply_nested_json_is_damaged_not_a_recursion_error(tmp_path, tiny_run):
    run, _ = copy_run(tmp_path, tiny_run)
    (run / "stop.json").write_text(NESTED)
    with open(run / "metrics.jsonl", "a") as f:
        f.write(NESTED + "\n")
    result = run_main("report", run)
    assert result.returncode == 0, result.stderr
    assert "metrics.jsonl line 3: torn or damaged, left out" in result.stdout
    (run / "config.json").write_text(NESTED)
    assert "config.json is damaged" in assert_one_line_error(run_main("report", run))
    sweep = tmp_path / "S"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(NESTED)
    assert "sweep.json is damaged" in assert_one_line_error(run_main("sweep", "--out", sweep, "--resume"))
