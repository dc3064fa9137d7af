"""Health notes (report/health.py), on made-up runs where the answer is known, and a NaN stop end to end.
Run with `python -m pytest tests/test_health.py`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, assert_one_line_error, run_main

from vanilla_gan.data.images import save_grid
from vanilla_gan.report import write_report
from vanilla_gan.report.health import average_lag, contrast, diversity, health_notes
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.runs.runlog import RunRecord


def make_run(tmp_path: Path, d_fake: list[float], loss_g: list[float], grids: list[np.ndarray] | None = None,
             histogram: list[float] | None = None, objective: str | None = None) -> RunRecord:
    metrics = []
    for i, (fake, lg) in enumerate(zip(d_fake, loss_g, strict=True)):
        record = {"epoch": i + 1, "step": (i + 1) * 10, "loss_d": 1.0, "loss_g": lg, "d_real": 0.7, "d_fake": fake,
                  "images_per_s": 100.0, "elapsed_s": float(i)}
        if histogram is not None:
            record.update(modes=sum(p > 0.02 for p in histogram), class_histogram=histogram)
        metrics.append(record)
    paths = []
    (tmp_path / "samples").mkdir(exist_ok=True)
    for epoch, images in enumerate(grids or [], start=1):
        path = tmp_path / "samples" / f"epoch_{epoch:04d}.png"
        save_grid(images, path)
        paths.append((epoch, path))
    config = {"train": {"grid_size": 64}, **({"objective": objective} if objective else {})}
    return RunRecord(tmp_path, config, metrics, None, paths)


def titles(notes) -> list[str]:
    return [f"{n.level}: {n.title}" for n in notes]


def test_a_balanced_run_gets_an_all_clear(tmp_path):
    notes = health_notes(make_run(tmp_path, [0.45] * 20, [1.0] * 20))
    assert titles(notes) == ["ok: No problem found"]


def test_a_short_run_is_too_early_to_judge_not_all_clear(tmp_path):
    notes = health_notes(make_run(tmp_path, [0.45] * 3, [1.0] * 3))
    assert titles(notes) == ["info: Too early to judge: 3 epochs"]
    assert f"vanilla-gan train --out {tmp_path} --resume" in notes[0].advice  # the run's own folder, not RUN


def test_d_winning_outright_is_noticed(tmp_path):
    d_fake = [0.4] * 10 + [0.03] * 10
    loss_g = [1.0] * 10 + list(np.linspace(2, 6, 10))
    notes = health_notes(make_run(tmp_path, d_fake, loss_g))
    assert notes[0].level == "warning" and "D is winning outright" in notes[0].title and "10 epochs" in notes[0].title
    assert notes[0].advice
    # D(G(z)) low but loss_G falling (G catching up): not flagged; nor a short dip.
    assert "D is winning" not in " ".join(titles(health_notes(make_run(tmp_path, d_fake, loss_g[::-1]))))
    assert "D is winning" not in " ".join(titles(health_notes(make_run(tmp_path, [0.4] * 19 + [0.03], [1.0] * 20))))


def test_the_notes_on_ds_outputs_do_not_judge_a_users_own_objective(tmp_path):
    """D(G(z)) and loss_G mean what they say only with the original GAN's BCE: a hinge run whose numbers look
    like D winning gets a note saying those checks do not apply, and an all-clear that does not read them."""
    d_fake, loss_g = [0.4] * 10 + [0.03] * 10, [1.0] * 10 + list(np.linspace(2, 6, 10))
    for objective in ("non-saturating", "minimax", None):  # the built-in objective (older runs do not say)
        assert "D is winning" in titles(health_notes(make_run(tmp_path, d_fake, loss_g, objective=objective)))[0]
    notes = health_notes(make_run(tmp_path, d_fake, loss_g, objective="hinge"))
    assert titles(notes) == ["info: Your own objective (hinge): the notes on D's outputs do not apply",
                             "ok: No problem found"]
    assert "BCE" in notes[0].meaning and "D(x)" not in notes[1].meaning


def test_collapse_of_the_fixed_noise_samples_is_noticed(tmp_path):
    rng = np.random.default_rng(0)
    varied = [rng.integers(0, 256, (64, 28, 28), dtype=np.uint8) for _ in range(6)]
    same = rng.integers(0, 256, (1, 28, 28), dtype=np.uint8)
    collapsed = [np.repeat(same, 64, 0) + rng.integers(0, 10, (64, 28, 28), dtype=np.uint8) for _ in range(6)]
    notes = health_notes(make_run(tmp_path, [0.4] * 12, [1.0] * 12, varied + collapsed), real_diversity=9.0)
    assert any("collapsing" in n.title for n in notes), titles(notes)
    steady = health_notes(make_run(tmp_path, [0.4] * 12, [1.0] * 12, varied + varied), real_diversity=9.0)
    assert not any("collapsing" in n.title for n in steady)


def test_missing_classes_are_noticed(tmp_path):
    histogram = [0.3, 0.3, 0.3, 0.1] + [0.0] * 6
    notes = health_notes(make_run(tmp_path, [0.4] * 12, [1.0] * 12, histogram=histogram))
    assert any("4 of the 10 digit classes (missing: 4, 5, 6, 7, 8, 9)" in n.title for n in notes), titles(notes)
    # Data of classes 0-3 only (a folder of some classes, say): nothing is missing.
    notes = health_notes(make_run(tmp_path, [0.4] * 12, [1.0] * 12, histogram=histogram), data_classes=[0, 1, 2, 3])
    assert titles(notes) == ["info: The training data holds 4 of the 10 classes: 0, 1, 2, 3", "ok: No problem found"]
    skewed = [0.7, 0.1, 0.1, 0.1] + [0.0] * 6
    notes = health_notes(make_run(tmp_path, [0.4] * 12, [1.0] * 12, histogram=skewed), data_classes=[0, 1, 2, 3])
    assert "G draws 4 of the 4 digit classes in its data; one class holds 70%" in titles(notes)[0]


def test_a_nan_stop_is_a_problem_note_and_in_the_report(tmp_path, monkeypatch):
    from vanilla_gan.training.trainer import Trainer

    original = Trainer.train_step
    calls = []

    def nan_in_epoch_two(self, real):
        calls.append(1)
        stats = original(self, real)
        return stats * float("nan") if len(calls) == 11 else stats

    monkeypatch.setattr(Trainer, "train_step", nan_in_epoch_two)
    run = tmp_path / "run"
    result = run_main("train", *TINY, "--epochs", 3, "--seed", 1, "--out", run)
    assert "non-finite" in assert_one_line_error(result, 1)
    assert json.loads((run / "stop.json").read_text())["epoch"] == 2
    assert "[problem] Training stopped: the losses became NaN or infinite" in result.stdout
    assert "NaN or infinite" in (run / "report.html").read_text()
    monkeypatch.setattr(Trainer, "train_step", original)
    assert run_main("train", "--out", run, "--resume", "--no-report").returncode == 0
    assert not (run / "stop.json").exists()


def test_diversity_is_the_mean_pairwise_distance():
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[1, 0, 0] = 255  # distance 1 from image 0
    images[2, 0, :4] = 255  # distance 2 from image 0, sqrt(3) from image 1
    assert diversity(images) == pytest.approx((1 + 2 + np.sqrt(3)) / 3)


def test_a_moving_average_that_has_not_caught_up_is_a_warning_with_the_way_to_see_g(tmp_path):
    """Grey images from the average beside G's own contrasted ones: a warning naming `sample --raw`; images of
    the same contrast (a finished run): nothing."""
    rng = np.random.default_rng(0)
    sharp = np.where(rng.random((64, 28, 28)) < 0.2, 255, 0).astype(np.uint8)  # ink on black, as G draws
    grey = (sharp // 4 + 96).astype(np.uint8)  # the same shapes, faint, on grey
    assert contrast(sharp) == pytest.approx(1.0) and contrast(grey) < 0.5
    notes = average_lag(grey, sharp, tmp_path / "run")
    assert [n.level for n in notes] == ["warning"] and "--raw" in notes[0].advice
    assert average_lag(sharp, sharp, tmp_path / "run") == []
    assert average_lag(grey, grey, tmp_path / "run") == []  # G itself is grey too: not the average's lag


def test_the_report_of_a_run_whose_average_lags_warns_and_drops_the_all_clear(tiny_run, tmp_path):
    run = tmp_path / "lagging"
    shutil.copytree(tiny_run, run)
    folder = RunDir(run)
    state = folder.load_checkpoint()
    state["generator_ema"] = {k: torch.zeros_like(v) for k, v in state["generator_ema"].items()}  # G(z) = tanh(0)
    torch.save(state, folder.last_checkpoint)
    notes = write_report(run).notes
    assert any(n.title.startswith("The moving average of G's weights has not caught up") for n in notes)
    assert not any(n.level == "ok" for n in notes)
    assert "has not caught up" not in (tiny_run / "report.html").read_text()  # its own report, written by train
