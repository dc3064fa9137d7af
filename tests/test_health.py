"""Health notes, the memorisation check and latent walks, on made-up runs and generators where the answer
is known. Run with `python -m pytest tests/test_health.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, assert_one_line_error, run_main

from vanilla_gan.animation import slerp
from vanilla_gan.config import ModelConfig
from vanilla_gan.health import diversity, health_notes, split_grid
from vanilla_gan.memorisation import check_memorisation
from vanilla_gan.report import save_grid
from vanilla_gan.runfiles import Run


def make_run(tmp_path: Path, d_fake: list[float], loss_g: list[float], grids: list[np.ndarray] | None = None,
             histogram: list[float] | None = None) -> Run:
    metrics = []
    for i, (fake, lg) in enumerate(zip(d_fake, loss_g, strict=True)):
        record = {"epoch": i + 1, "step": (i + 1) * 10, "loss_d": 1.0, "loss_g": lg, "d_real": 0.7, "d_fake": fake,
                  "images_per_s": 100.0, "elapsed_s": float(i)}
        if histogram is not None:
            record.update(modes=sum(p > 0.02 for p in histogram), class_histogram=histogram)
        metrics.append(record)
    paths = []
    for epoch, images in enumerate(grids or [], start=1):
        path = tmp_path / "samples" / f"epoch_{epoch:04d}.png"
        save_grid(images, path)
        paths.append((epoch, path))
    return Run(tmp_path, {"train": {"grid_size": 64}}, metrics, None, paths)


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
    from vanilla_gan.train import Trainer

    original = Trainer.gan_step
    calls = []

    def nan_in_epoch_two(self, real):
        calls.append(1)
        stats = original(self, real)
        return stats * float("nan") if len(calls) == 11 else stats

    monkeypatch.setattr(Trainer, "gan_step", nan_in_epoch_two)
    run = tmp_path / "run"
    result = run_main("train", *TINY, "--epochs", 3, "--seed", 1, "--out", run)
    assert "non-finite" in assert_one_line_error(result, 1)
    assert json.loads((run / "stop.json").read_text())["epoch"] == 2
    assert "[problem] Training stopped: the losses became NaN or infinite" in result.stdout
    assert "NaN or infinite" in (run / "report.html").read_text()
    monkeypatch.setattr(Trainer, "gan_step", original)
    assert run_main("train", "--out", run, "--resume", "--no-report").returncode == 0
    assert not (run / "stop.json").exists()


def test_split_grid_undoes_save_grid(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    save_grid(images, tmp_path / "g.png")
    np.testing.assert_array_equal(split_grid(tmp_path / "g.png", 64), images)


def test_diversity_is_the_mean_pairwise_distance():
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[1, 0, 0] = 255  # distance 1 from image 0
    images[2, 0, :4] = 255  # distance 2 from image 0, sqrt(3) from image 1
    assert diversity(images) == pytest.approx((1 + 2 + np.sqrt(3)) / 3)


class Copier(torch.nn.Module):
    """A 'generator' that returns training images (memorised) or noise, chosen by z."""

    def __init__(self, images: np.ndarray, copy: bool):
        super().__init__()
        self.config = ModelConfig(latent_dim=4)
        self.images = torch.from_numpy(images).float().reshape(len(images), -1) / 127.5 - 1
        self.copy = copy

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.copy:
            index = (z[:, 0].abs() * 1000).long() % len(self.images)
            return self.images[index]
        return torch.tanh(torch.randn(len(z), 784, generator=torch.Generator().manual_seed(int(z.sum() * 1e3) % 999)))


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from vanilla_gan.data import load_dataset

    return np.asarray(load_dataset("digits")[0][:3000])


def test_memorisation_flags_a_copier(digits):
    result = check_memorisation(Copier(digits, copy=True), digits, num=300)
    assert result.level == "warning" and result.verdict.startswith("Possible memorisation")
    assert result.copies == 300 and result.generated_distances.max() < 0.05  # cdist's rounding, not 0
    assert np.abs(result.generated.astype(int) - result.nearest).max() <= 1  # each shown beside its original


def test_memorisation_clears_samples_unlike_any_training_digit(digits):
    result = check_memorisation(Copier(digits, copy=False), digits, num=300)
    assert result.level == "ok" and result.verdict.startswith("No sign of memorisation"), result.verdict
    assert result.copies == 0 and np.median(result.real_distances) < np.median(result.generated_distances)


def test_slerp_keeps_the_ends_and_stays_on_the_sphere():
    z = torch.randn(2, 5, 100, generator=torch.Generator().manual_seed(0))
    z0, z1 = z[0] / z[0].norm(dim=1, keepdim=True) * 10, z[1] / z[1].norm(dim=1, keepdim=True) * 10
    path = slerp(z0, z1, torch.linspace(0, 1, 7))
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    torch.testing.assert_close(path.norm(dim=2), torch.full((7, 5), 10.0))  # a straight line would dip to ~7
    same = slerp(z0, z0, torch.linspace(0, 1, 3))  # parallel vectors: no division by zero
    assert torch.isfinite(same).all()
