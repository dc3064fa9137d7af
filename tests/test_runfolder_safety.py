"""A run folder from anyone (issue #23): links out of it, FIFOs, files of other runs, damaged JSON, broken streams.
Every command must write only inside the run folder, never block, and fail with one `error:` line.
Run: python -m pytest tests/test_runfolder_safety.py
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, TINY_OPTIONS, WAIT, assert_one_line_error, run_cli, run_main

import vanilla_gan as vg
from vanilla_gan.cli import sweep_plan
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
    with pytest.raises(vg.UsageError, match="eval_every=0"):  # Python's spelling from Python
        vg.train(dataset=str(data), batch_size=16, epochs=2, out=tmp_path / "api", eval_every=1)


# ----------------------------------------------------------------------------- 9: training without its streams

def test_a_broken_stdout_or_a_closed_stderr_never_stops_training(tmp_path):
    train = [sys.executable, "-m", "vanilla_gan", "train", *TINY, "--epochs", "3", "--seed", "1", "--no-report"]
    piped = subprocess.run(" ".join(map(shlex.quote, [*train, "--out", str(tmp_path / "head")])) + " | head -1",
                           shell=True, capture_output=True, text=True, timeout=WAIT)
    closed = subprocess.run(" ".join(map(shlex.quote, [*train, "--out", str(tmp_path / "closed")])) + " 2>&- >&-",
                            shell=True, capture_output=True, text=True, timeout=WAIT)
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

    monkeypatch.setattr(sweep_plan, "check_options", checked)
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


# ----------------------------------------------------------------------------- 15-16, 18-19: sizes and types

def test_api_values_out_of_range_or_of_the_wrong_type_are_one_line_usage_errors(tmp_path, tiny_run):
    run = vg.load(tiny_run)
    digits = run.sample(4)
    calls = {
        "scale": lambda: run.grid(digits, scale=10**4),                      # 15: 23 GB
        "cols": lambda: run.grid(digits, cols=-1),
        "walks": lambda: run.interpolate(walks=-2),
        "seed": lambda: run.sample(4, seed=2**64),
        "seed ": lambda: run.sample(4, seed=2.5),
        "seed  ": lambda: run.sample(4, seed="x"),
        "seed   ": lambda: run.evaluate(1000, seed=2**64),
        "load": lambda: vg.load(None),
        "out": lambda: vg.train(out=123, epochs=1),
        "out ": lambda: vg.train(out=b"x", epochs=1),
        # 18: an array is data now (2 images: too few to evaluate); the message names it, never its values
        "dataset": lambda: vg.train(dataset=np.zeros((2, 28, 28)), out=tmp_path / "a", epochs=1),
        "dataset ": lambda: vg.train(dataset=[0] * 5500, out=tmp_path / "b", epochs=1),
    }
    for name, call in calls.items():
        with pytest.raises(vg.UsageError) as raised:
            call()
        message = str(raised.value)
        assert name.strip() in message and "\n" not in message and len(message) < 200, (name, message)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_a_seed_beyond_64_bits_is_one_line(tiny_run, tmp_path, command):
    line = assert_one_line_error(run_main(command, tiny_run, "--seed", str(2**64), "-o", tmp_path / "x.png")
                                 if command == "sample" else run_main(command, tiny_run, "--seed", str(2**64)))
    assert "--seed must be a whole number in 0.." in line


def test_a_huge_config_json_is_not_read_whole(tmp_path, tiny_run):
    run, _ = copy_run(tmp_path, tiny_run)
    os.truncate(run / "config.json", 1 << 30)  # 1 GB (sparse)
    assert "more than such a file ever holds" in assert_one_line_error(run_main("report", run))


# ----------------------------------------------------------------------------- 20-22: what is printed

def test_a_lock_holding_escapes_and_newlines_is_named_in_one_clean_line(tmp_path, tiny_run):
    run, _ = copy_run(tmp_path, tiny_run)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(run / 'train.lock')!r}, os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0); os.write(fd, b'\\x1b[31m12\\nrm -rf ~\\x1b[0m')\n"
        "print('held', flush=True); time.sleep(120)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        line = assert_one_line_error(run_main("train", "--out", run, "--resume", "--epochs", "3"))
    finally:
        holder.kill()
        holder.wait()
    assert "being trained by another process" in line and "\x1b" not in line


def test_unicode_paths_on_an_ascii_terminal_and_printed_commands_paste_back(tmp_path):
    out = tmp_path / "my rün's"
    result = run_cli("train", *TINY, "--epochs", "1", "--seed", "1", "--out", out, "--no-report",
                     env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr  # 21: no UnicodeEncodeError
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
    spaced = tmp_path / "my run"
    result = run_cli("train", *TINY, "--epochs", "1", "--seed", "1", "--out", spaced, "--no-report")
    command = next(line for line in result.stdout.splitlines() if line.startswith("more digits: "))
    assert shlex.split(command.removeprefix("more digits: "))[2] == str(spaced)  # 22: pastes back as one path


# ----------------------------------------------------------------------------- 23-24: signals

def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_sigterm_during_sample_leaves_no_temporary_file(tmp_path, tiny_run):
    out = tmp_path / "x.npy"
    child = subprocess.Popen([sys.executable, "-m", "vanilla_gan", "sample", str(tiny_run), "-n", "1000000", "-o",
                              str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(tmp_path.glob("x.npy.tmp-*")) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=WAIT)
    assert child.returncode in (130, 0) and not list(tmp_path.glob("*.tmp-*")), child.returncode


def test_report_removes_what_an_interrupted_report_left(tmp_path, tiny_run):
    run, _ = copy_run(tmp_path, tiny_run)
    left = run / "plots" / f"losses.png.tmp-{dead_pid()}"
    left.write_bytes(b"half a picture")
    assert run_main("report", run).returncode == 0
    assert not left.exists()


def test_sighup_saves_the_epoch_in_progress_like_sigterm(tmp_path):
    run = tmp_path / "RUN"
    child = subprocess.Popen([sys.executable, "-m", "vanilla_gan", "train", *TINY, "--epochs", "1000", "--seed", "1",
                              "--out", str(run), "--no-report"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in child.stdout:
        if line.startswith("epoch 1/"):
            break
    child.send_signal(signal.SIGHUP)
    _, stderr = child.communicate(timeout=WAIT)
    assert child.returncode == 130, stderr
    assert "Resume with: vanilla-gan train --out" in stderr
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] >= 1


def run_script(script: str) -> subprocess.CompletedProcess:
    """Python code in a process of its own (signals reach only the main thread of a process)."""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT)


def test_a_stop_during_the_final_evaluation_is_honoured_at_once_and_skips_the_report(tmp_path):
    # a signal while the (here endless) evaluation runs: the epoch is saved without it, at once
    result = run_script(f"""
import os, signal, time, torch
import vanilla_gan as vg
def evaluate(generator):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(60)
    return {{}}
config = vg.TrainConfig(epochs=1, batch_size=32, seed=1, eval_every=1)
trainer = vg.Trainer(vg.ModelConfig(latent_dim=8, g_hidden=(16,), d_hidden=(16,)), config,
                     torch.zeros(64, 28, 28, dtype=torch.uint8), vg.RunDir({str(tmp_path / "A")!r}),
                     evaluate=evaluate, progress=False)
start = time.monotonic()
trainer.train()
print(time.monotonic() - start < 20, trainer.epoch, "fid" in trainer.metrics[-1])
""")
    assert result.returncode == 0 and result.stdout.split() == ["True", "1", "False"], result.stderr
    assert (tmp_path / "A" / "checkpoints" / "last.pt").is_file()
    # a signal at the last epoch's end: no report is waited for
    result = run_script(f"""
import os, signal
import vanilla_gan as vg
try:
    vg.train(out={str(tmp_path / "B")!r}, epochs=1, seed=1, **{TINY_OPTIONS!r},
             epoch_hooks=[lambda trainer, record: os.kill(os.getpid(), signal.SIGTERM)])
except vg.Interrupted as stop:
    print(stop)
""")
    assert "stopped after the last epoch (1), which is saved" in result.stdout, result.stderr
    assert not (tmp_path / "B" / "report.html").exists()
