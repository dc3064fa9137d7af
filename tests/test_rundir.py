"""The run folder (rundir.py): a new run never overwrites one, the end-of-epoch writes and their order, the
logs cut back to the checkpoint on resume, the read-back. Run: python -m pytest tests/test_rundir.py
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import TINY, run_cli

from vanilla_gan.errors import CheckpointError, UsageError
from vanilla_gan.runs import checkpoint
from vanilla_gan.runs.rundir import RunDir, resolve_checkpoint

EPOCHS = 3


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("rundir") / "run"
    result = run_cli("train", *TINY, "--epochs", EPOCHS, "--seed", "5", "--no-report", "--out", run)
    assert result.returncode == 0, result.stderr
    return run, result.stdout


def test_begin_refuses_a_folder_that_holds_a_run(tmp_path):
    run = RunDir(tmp_path / "a")
    first, again = {"package_version": "0", "train": {}}, {"package_version": "0", "train": {"again": 1}}
    run.begin(first)
    assert json.loads(run.config_path.read_text()) == first and run.metrics_path.read_text() == ""
    RunDir(tmp_path / "a").begin(again)  # no checkpoint yet: a start that died, begun anew
    run.last_checkpoint.write_bytes(b"a checkpoint")
    with pytest.raises(UsageError, match="already holds a run: pass --resume"):
        RunDir(tmp_path / "a").begin({"train": {"other": 1}})
    assert json.loads(run.config_path.read_text()) == again


def test_a_new_run_never_starts_in_a_folder_of_someone_elses_files(tmp_path):
    """A folder that holds a user's own config.json, metrics.jsonl, steps.csv and samples/epoch_0001.png (no
    run of this package) is refused before anything in it changes; an empty folder is fine."""
    folder = tmp_path / "proj"
    (folder / "samples").mkdir(parents=True)
    files = {"config.json": '{"mine": true}', "metrics.jsonl": "my notes\n", "steps.csv": "a,b\n",
             "samples/epoch_0001.png": "not a picture"}
    for name, text in files.items():
        (folder / name).write_text(text)
    with pytest.raises(UsageError, match="holds files that are not a vanilla-gan run"):
        RunDir(folder).begin({"package_version": "0", "train": {}})
    assert {name: (folder / name).read_text() for name in files} == files
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "metrics.jsonl", "samples", "steps.csv"]
    (tmp_path / "empty").mkdir()
    RunDir(tmp_path / "empty").begin({"package_version": "0"})
    with pytest.raises(UsageError, match="is a file, not a folder"):
        (tmp_path / "file").write_text("x")
        RunDir(tmp_path / "file").check_new()


def test_best_and_kept_checkpoints_are_written_before_last(tmp_path, monkeypatch):
    """last.pt records the best FID: a crash between the writes must leave last.pt at the epoch before, which
    is retrained and writes them again (were last.pt first, a resume would never write them)."""
    order = []
    monkeypatch.setattr(checkpoint, "save", lambda path, state: order.append(path.name))
    RunDir(tmp_path).save_checkpoint({"epoch": 4}, best=True, keep=True)
    assert order == ["best.pt", "epoch_0004.pt", "last.pt"]


def test_reopen_cuts_the_logs_back_to_the_checkpoint(tmp_path):
    run = RunDir(tmp_path)
    run.begin({})
    for epoch in (1, 2, 3):
        run.append_steps(epoch, (epoch - 1) * 2 + 1, np.full((2, 4), epoch / 10))
        run.append_metrics({"epoch": epoch})
    run.reopen({"resumed": True}, [{"epoch": 1}, {"epoch": 2}], epochs=2)
    assert [json.loads(line)["epoch"] for line in run.metrics_path.read_text().splitlines()] == [1, 2]
    assert run.read_steps()["epoch"].tolist() == [1, 1, 2, 2] and run.read_steps()["step"].tolist() == [1, 2, 3, 4]
    assert json.loads(run.config_path.read_text()) == {"resumed": True}


def test_a_checkpoint_is_found_in_a_run_folder_or_given_as_a_file(tiny_run, tmp_path):
    last = tiny_run / "checkpoints" / "last.pt"
    assert resolve_checkpoint(tiny_run) == last and resolve_checkpoint(last) == last
    with pytest.raises(CheckpointError, match="without checkpoints/last.pt"):
        resolve_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="no such checkpoint or run folder"):
        resolve_checkpoint(tmp_path / "missing")


def test_read_gives_config_metrics_steps_and_grids(tiny_run):
    record = RunDir(tiny_run).read()
    assert record.config["train"]["seed"] == 3 and [m["epoch"] for m in record.metrics] == [1, 2]
    assert [epoch for epoch, _ in record.grids] == [1, 2] and record.stop is None
    assert len(record.steps["step"]) == 16
    epochs, values = record.series("loss_d")
    assert epochs.tolist() == [1, 2] and np.isfinite(values).all()


def test_steps_csv_has_every_step_once(evaluated_run):
    run, _ = evaluated_run
    table = np.loadtxt(run / "steps.csv", delimiter=",", skiprows=1)
    steps_per_epoch = 512 // 64
    assert table.shape == (EPOCHS * steps_per_epoch, 6)
    np.testing.assert_array_equal(table[:, 1], np.arange(1, EPOCHS * steps_per_epoch + 1))
    np.testing.assert_array_equal(table[:, 0], np.repeat(np.arange(1, EPOCHS + 1), steps_per_epoch))
    first = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert table[:steps_per_epoch, 2].mean() == pytest.approx(first["loss_d"], rel=1e-3)


def test_steps_csv_matches_across_resume(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    args = [*TINY, "--seed", "2", "--no-report"]
    assert run_cli("train", *args, "--epochs", 2, "--out", straight).returncode == 0
    assert run_cli("train", *args, "--epochs", 1, "--out", resumed).returncode == 0
    # A row of an epoch the checkpoint does not hold (as after a crash before the checkpoint): dropped on resume.
    with open(resumed / "steps.csv", "a") as f:
        f.write("2,9,1,1,0.5,0.5\n")
    assert run_cli("train", "--out", resumed, "--resume", "--epochs", 2, "--no-report").returncode == 0
    assert (straight / "steps.csv").read_text() == (resumed / "steps.csv").read_text()
    assert not (straight / "report.html").exists()




def test_a_start_over_touches_only_what_a_dead_start_left(tmp_path):
    run = RunDir(tmp_path / "a")
    run.checkpoints_dir.mkdir(parents=True)
    (run.checkpoints_dir / "mymodel.pt").write_bytes(b"someone's own")
    with pytest.raises(UsageError, match="already holds a run"):  # any other checkpoint: never started over
        run.begin({})
    (run.checkpoints_dir / "mymodel.pt").unlink()
    run.config_path.write_text('{"package_version": "0"}')  # a start that died before last.pt: best.pt and
    # epoch_0001.pt are its
    for name in ("best.pt", "epoch_0001.pt"):
        (run.checkpoints_dir / name).write_bytes(b"x")
    run.begin({"new": 1})
    assert list(run.checkpoints_dir.iterdir()) == []
    foreign = RunDir(tmp_path / "b")
    foreign.path.mkdir()
    foreign.steps_path.write_text("a,b\n")
    with pytest.raises(UsageError, match="not a vanilla-gan run"):
        foreign.begin({})
    assert foreign.steps_path.read_text() == "a,b\n"


def test_a_failed_start_releases_the_lock(tmp_path):
    run = RunDir(tmp_path / "a")
    run.checkpoints_dir.mkdir(parents=True)
    run.last_checkpoint.write_bytes(b"x")
    with pytest.raises(UsageError, match="already holds a run"):
        run.start({}, [], 0, fresh=True)
    assert not run.locked
    RunDir(tmp_path / "a").lock()  # anyone may take it


def test_reopen_drops_kept_and_best_checkpoints_of_epochs_it_retrains(tmp_path):
    run = RunDir(tmp_path)
    run.begin({})
    for epoch, path in ((2, run.best_checkpoint), (2, run.epoch_checkpoint(2)), (1, run.epoch_checkpoint(1))):
        checkpoint.save(path, {"epoch": epoch})
    run.reopen({}, [], epochs=1)
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == ["epoch_0001.pt"]
