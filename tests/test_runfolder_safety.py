"""A run folder from anyone (issue #23): links out of it, FIFOs, files of other runs, damaged JSON, broken streams.
Every command must write only inside the run folder, never block, and fail with one `error:` line.
Run: python -m pytest tests/test_runfolder_safety.py
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from helpers import TINY, assert_one_line_error, run_cli

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
