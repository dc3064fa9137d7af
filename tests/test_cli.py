"""The command-line tool, run in a subprocess as a user would: run folders, sampling, resume, signals,
and every error path (one `error:` line, non-zero exit, no traceback, existing runs untouched).

Run: python -m pytest tests/test_cli.py
"""

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import TINY, WAIT, assert_one_line_error, assert_same_run, epochs_written, run_cli, run_main, wait_for
from PIL import Image

from vanilla_gan.data import write_idx


def test_train_writes_the_run_folder(tiny_run):
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["train"]["seed"] == 3 and config["model"]["g_hidden"] == [32, 32]
    lines = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2]
    for key in ("step", "loss_d", "loss_g", "d_real", "d_fake", "images_per_s", "elapsed_s"):
        assert all(np.isfinite(m[key]) for m in lines), key
    assert lines[1]["step"] == 16
    for epoch in (1, 2):
        grid = Image.open(tiny_run / "samples" / f"epoch_{epoch:04d}.png")
        assert grid.mode == "L" and grid.width > 8 * 28
    assert (tiny_run / "checkpoints" / "last.pt").is_file()
    assert not list(tiny_run.rglob("*.tmp*")), "no temporary files are left behind"


def test_sample_writes_an_mnist_like_array_and_a_grid(tiny_run, tmp_path):
    result = run_cli("sample", tiny_run, "-n", "1000", "-o", tmp_path / "s.npy", "--seed", "1")
    assert result.returncode == 0, result.stderr
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (1000, 28, 28) and samples.dtype == np.uint8
    assert samples.std() > 0
    again = run_cli("sample", tiny_run / "checkpoints" / "last.pt", "-n", "1000", "-o", tmp_path / "t.npy",
                    "--seed", "1")
    assert again.returncode == 0 and np.array_equal(np.load(tmp_path / "t.npy"), samples)
    result = run_cli("sample", tiny_run, "-n", "25", "-o", tmp_path / "grid.png")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "grid.png").size == ((5 * 30 + 2) * 2,) * 2


def test_cli_resume_matches_a_straight_run(tmp_path):
    assert run_cli("train", *TINY, "--epochs", "2", "--seed", "5", "--out", tmp_path / "straight").returncode == 0
    assert run_cli("train", *TINY, "--epochs", "1", "--seed", "5", "--out", tmp_path / "split").returncode == 0
    result = run_cli("train", "--out", tmp_path / "split", "--resume", "--epochs", "2")
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "split" / "metrics.jsonl").read_text().splitlines()) == 2
    assert_same_run(tmp_path / "split", tmp_path / "straight")


def test_sigint_saves_a_checkpoint_and_resume_finishes_exactly(tmp_path):
    """Ctrl-C at any moment after the first epoch: exit 130, a resumable checkpoint, the same end weights."""
    run = tmp_path / "interrupted"
    args = ["--limit", "2048", "--batch-size", "64", "--epochs", "6", "--seed", "9", "--eval-every", "0", "--no-report"]
    process = subprocess.Popen([sys.executable, "-m", "vanilla_gan", "train", *args, "--out", str(run)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for("the first epoch in metrics.jsonl", lambda: epochs_written(run) >= 1, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=WAIT)
    assert process.returncode == 130, err
    assert f"vanilla-gan train --out {run} --resume" in err
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] < 6 * 32, "the run stopped early"
    assert run_cli("train", "--out", run, "--resume", "--no-report").returncode == 0
    assert run_cli("train", *args, "--out", tmp_path / "straight").returncode == 0
    assert_same_run(run, tmp_path / "straight")


def test_no_seed_draws_and_prints_one(tmp_path):
    result = run_cli("train", *TINY, "--epochs", "1", "--out", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    seed = json.loads((tmp_path / "r" / "config.json").read_text())["train"]["seed"]
    assert f"--seed {seed}" in result.stdout


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("args", [
    ["--epochs", "0"], ["--batch-size", "-1"], ["--lr", "0"], ["--dropout", "1.5"], ["--betas", "0.5"],
    ["--betas", "1.5,0.9"], ["--g-hidden", "a,b"], ["--latent-dim", "0"], ["--no-such-flag"], ["--g-loss", "wgan"],
    ["--dataset", "no-such-dataset"], ["--batch-size", "100000"], ["--d-steps", "0"], ["--d-steps", "11"],
])
def test_nonsense_train_options_are_one_line_errors(tmp_path, args):
    result = run_main("train", *args, "--epochs" if "--epochs" not in args else "--seed", "1", "--out", tmp_path / "r")
    assert_one_line_error(result, 2)
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_truncated_idx_dataset_is_an_error(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((100, 28, 28), np.uint8))
    raw = (folder / "train-images-idx3-ubyte").read_bytes()
    (folder / "train-images-idx3-ubyte").write_bytes(raw[: len(raw) // 2])
    line = assert_one_line_error(run_cli("train", "--dataset", folder, "--epochs", "1", "--out", tmp_path / "r"), 2)
    assert "train-images-idx3-ubyte" in line


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign", "empty"])
def test_damaged_or_foreign_checkpoints_are_errors(tiny_run, tmp_path, damage):
    bad = tmp_path / "bad.pt"
    raw = (tiny_run / "checkpoints" / "last.pt").read_bytes()
    if damage == "truncated":
        bad.write_bytes(raw[: len(raw) // 3])
    elif damage == "garbage":
        bad.write_bytes(b"\x00\x01not a checkpoint" * 100)
    elif damage == "foreign":
        torch.save({"state_dict": {"w": torch.zeros(2)}}, bad)
    else:
        bad.write_bytes(b"")
    line = assert_one_line_error(run_cli("sample", bad, "-o", tmp_path / "s.png"), 2)
    assert str(bad) in line
    assert not (tmp_path / "s.png").exists()


def test_a_checkpoint_that_runs_code_is_refused(tmp_path):
    """Checkpoints are data: a pickle that would call a function is rejected, not executed."""
    bad, marker = tmp_path / "evil.pt", tmp_path / "was-run"
    torch.save({"x": subprocess.Popen}, bad)  # any non-allowlisted global
    line = assert_one_line_error(run_cli("sample", bad, "-o", tmp_path / "s.png"), 2)
    assert "not a vanilla-gan checkpoint" in line or "damaged" in line
    assert not marker.exists()


def test_existing_run_is_never_overwritten(tiny_run, tmp_path):
    before = (tiny_run / "checkpoints" / "last.pt").read_bytes()
    line = assert_one_line_error(run_cli("train", *TINY, "--epochs", "1", "--out", tiny_run), 2)
    assert "--resume" in line
    assert (tiny_run / "checkpoints" / "last.pt").read_bytes() == before


def test_resume_errors(tiny_run, tmp_path):
    assert "--resume needs --out" in assert_one_line_error(run_cli("train", "--resume"), 2)
    assert "no such checkpoint" in assert_one_line_error(run_cli("train", "--resume", "--out", tmp_path / "x"), 2)
    line = assert_one_line_error(run_cli("train", "--resume", "--out", tiny_run, "--lr", "0.1"), 2)
    assert "--lr" in line
    assert "fewer than" in assert_one_line_error(run_cli("train", "--resume", "--out", tiny_run, "--epochs", "1"))


@pytest.mark.parametrize("case", ["zero samples", "unknown suffix", "missing checkpoint"])
def test_sample_errors(tiny_run, tmp_path, case):
    args = {"zero samples": [tiny_run, "-n", "0", "-o", tmp_path / "s.png"],
            "unknown suffix": [tiny_run, "-o", tmp_path / "s.jpg"],
            "missing checkpoint": [tmp_path / "missing", "-o", tmp_path / "s.png"]}[case]
    assert_one_line_error(run_main("sample", *args), 2)
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where CUDA is missing")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    result = run_cli("train", *TINY, "--device", "cuda", "--out", tmp_path / "r")
    line = assert_one_line_error(result, 2)
    assert "--device cpu" in line
    assert result.stdout == "" and not (tmp_path / "r").exists()  # said first: no seed line, no folder


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli("sample", tmp_path / "missing.pt", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


# ----------------------------------------------------------------------------- evaluation

EVAL_KEYS = {"fid", "kid", "inception_score", "modes", "kl_uniform", "precision", "recall", "parzen_ll", "parzen_se"}


def test_evaluate_json_has_every_metric_and_its_real_floor(tiny_run):
    result = run_cli("evaluate", tiny_run, "-n", "1000", "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert EVAL_KEYS <= scores.keys() and EVAL_KEYS <= scores["real_floor"].keys()
    assert scores["real_floor"]["fid"] < scores["fid"], "a 2-epoch tiny model is far from real data"
    # the two-sample test (tests/test_twosample.py): a 2-epoch tiny model is told from real digits
    assert scores["c2st_accuracy"] > 0.8 and 0 <= scores["c2st_spread"] <= 1 and scores["c2st_optimistic"] is True
    assert 0.35 < scores["real_floor"]["c2st_accuracy"] < 0.65
    table = run_cli("evaluate", tiny_run, "-n", "1000", "--no-two-sample")
    assert table.returncode == 0 and "FID" in table.stdout and "(real data:" in table.stdout
    assert "Two-sample" not in table.stdout


def test_eval_every_logs_metrics_and_keeps_the_best_checkpoint(tmp_path):
    run = tmp_path / "r"
    tiny = [a for a in TINY if a not in ("--eval-every", "0")]
    result = run_cli("train", *tiny, "--epochs", "2", "--seed", "2", "--eval-every", "1", "--eval-samples", "1000",
                     "--out", run)
    assert result.returncode == 0, result.stderr
    assert "FID" in result.stdout
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(EVAL_KEYS <= r.keys() for r in records)
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert best["metrics"][-1]["fid"] == min(r["fid"] for r in records)


def test_evaluate_errors(tiny_run, tmp_path):
    assert_one_line_error(run_main("evaluate"), 2)
    assert_one_line_error(run_main("evaluate", tiny_run, "-n", "5"), 2)
    assert_one_line_error(run_main("evaluate", tmp_path / "missing"), 2)


def test_no_command_prints_the_commands():
    result = run_main()
    assert result.returncode == 0 and all(c in result.stdout for c in ("train", "sample", "evaluate"))


def test_a_one_minute_budget_is_named_in_the_singular(tmp_path):
    result = run_cli("train", *TINY, "--minutes", "1", "--epochs", "1", "--no-report", "--out", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert "1 minute of training or 1 epoch on cpu" in result.stdout


def test_an_epoch_line_shows_the_budget_and_the_epochs_that_cap_it():
    from vanilla_gan.config import MAX_EPOCHS, TrainConfig
    from vanilla_gan.training.progress import epoch_label

    assert epoch_label(3, TrainConfig(epochs=56), 9.0) == "epoch 3/56"
    assert epoch_label(3, TrainConfig(epochs=MAX_EPOCHS, minutes=5), 72.0) == "epoch 3 (1.2/5 min)"
    assert epoch_label(3, TrainConfig(epochs=48, minutes=9), 72.0) == "epoch 3/48 (1.2/9 min)"  # --recipe best
    assert epoch_label(48, TrainConfig(epochs=48, minutes=9), 540.0) == "epoch 48/48"


def test_minutes_is_a_time_budget_that_records_the_epochs_reached(tmp_path):
    result = run_cli("train", *TINY, "--minutes", "0.00001", "--seed", "1", "--no-report", "--out", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert "1e-05 minutes of training on cpu" in result.stdout and "done: 1 epoch in" in result.stdout
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["epochs"] == 1
    again = run_cli("train", "--out", tmp_path / "r", "--resume", "--minutes", "0.00002", "--no-report")
    assert again.returncode == 0 and "done: 2 epochs" in again.stdout  # the budget counts all sessions
    longer = run_cli("train", "--out", tmp_path / "r", "--resume", "--epochs", "4", "--no-report")
    assert longer.returncode == 0 and "done: 4 epochs" in longer.stdout  # --epochs replaces the budget
