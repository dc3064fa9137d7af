"""The classifier two-sample test (twosample.py) and where it shows: evaluate --json, the report, the run folder.

    python -m pytest tests/test_twosample.py -q
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import TINY, run_cli

from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import fixed_order, load_dataset
from vanilla_gan.evaluation import evaluator as ev
from vanilla_gan.evaluation.twosample import PICKS, two_sample_test
from vanilla_gan.gan.models import Generator
from vanilla_gan.gan.sampling import sample_images
from vanilla_gan.training.trainer import Trainer

N = 1000  # images of each side: 800 to train on, 200 to test on; a few seconds a classifier


@pytest.fixture(scope="module")
def real() -> np.ndarray:
    images = load_dataset("digits")[0].numpy()
    return images[fixed_order(len(images))]  # the data set is sorted by class


def test_real_against_real_is_near_chance(real):
    result = two_sample_test(real[:N], real[N:2 * N])
    # 400 test images per classifier: chance is 0.5 +- 0.025 (one standard deviation)
    assert abs(result.accuracy - 0.5) < 0.1, result.accuracies


def test_an_untrained_generator_is_told_apart_almost_always(real):
    untrained = sample_images(Generator(ModelConfig()), N, seed=0)
    result = two_sample_test(real[:N], untrained)
    assert result.accuracy > 0.95, result.accuracies


def test_shifted_digits_are_told_apart(real):
    """A subtle fault a person would see: each digit moved 3 pixels to the right."""
    shifted = np.roll(real[N:2 * N], 3, axis=2)
    result = two_sample_test(real[:N], shifted)
    assert result.accuracy > 0.8, result.accuracies


def test_same_seed_same_figures_and_global_rng_untouched(real):
    untrained = sample_images(Generator(ModelConfig()), 200, seed=1)
    torch.manual_seed(5)
    expected_draw = torch.rand(3)
    torch.manual_seed(5)
    first = two_sample_test(real[:200], untrained, seeds=(3,))
    assert torch.equal(torch.rand(3), expected_draw)  # the global generator did not move
    second = two_sample_test(real[:200], untrained, seeds=(3,))
    assert first.accuracies == second.accuracies and np.array_equal(first.easiest, second.easiest)


def test_easiest_and_hardest_are_the_generated_test_images_ranked(real):
    """Half the 'generated' set is real digits, half blank-ish noise: the easiest are noise, the hardest digits."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 60, size=(N // 2, 28, 28), dtype=np.uint8)
    mixed = np.concatenate([real[N:N + N // 2], noise])[rng.permutation(N)]
    result = two_sample_test(real[:N], mixed)
    assert result.easiest.shape == result.hardest.shape == (PICKS, 28, 28)
    assert result.easiest.max(axis=(1, 2)).max() < 60  # all noise
    assert (result.hardest.max(axis=(1, 2)) > 100).all()  # all digits


def test_colour_and_other_sizes_work():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(100, 20, 24, 3), dtype=np.uint8)
    b = rng.integers(0, 128, size=(100, 20, 24, 3), dtype=np.uint8)
    result = two_sample_test(a, b, seeds=(0,))
    assert result.accuracy > 0.9 and result.easiest.shape == (min(PICKS, 20), 20, 24, 3)


def test_too_few_images_or_other_shapes_are_refused(real):
    with pytest.raises(ValueError, match="at least"):
        two_sample_test(real[:5], real[5:10])
    with pytest.raises(ValueError, match="differ"):
        two_sample_test(real[:50], np.zeros((50, 20, 20), dtype=np.uint8))


def test_compute_metrics_adds_the_test_and_its_cached_floor(real, tmp_path):
    untrained = sample_images(Generator(ModelConfig()), 500, seed=0)
    result = ev.compute_metrics(untrained, load_dataset("digits")[0], cache_dir=tmp_path, two_sample=True)
    assert result["c2st_accuracy"] > 0.95 and result["c2st_optimistic"] is True and result["c2st_per_side"] == 500
    assert abs(result["real_floor"]["c2st_accuracy"] - 0.5) < 0.1
    assert set(result["two_sample_pictures"]) == {"easiest", "hardest", "real"}
    assert any(p.name.startswith("c2st-floor-") for p in tmp_path.iterdir())
    without = ev.compute_metrics(untrained, load_dataset("digits")[0], cache_dir=tmp_path)
    assert "c2st_accuracy" not in without and "c2st_accuracy" not in without["real_floor"]


def test_the_table_says_what_the_accuracy_means():
    result = {"fid": 3.0, "class_histogram": [0.1] * 10, "c2st_accuracy": 0.93, "c2st_spread": 0.01,
              "c2st_optimistic": True, "real_floor": {"c2st_accuracy": 0.5}}
    table = ev.format_table(result)
    assert "a classifier told these images from real ones 93% of the time" in table and "optimistic" in table
    assert "Two-sample accuracy" in table and "(real data: 0.500)" in table


def test_training_ends_with_the_test_in_metrics_the_picture_and_the_report(tmp_path):
    options = [o for o in TINY if o not in ("--eval-every", "0", "--no-report")]
    run = tmp_path / "run"
    result = run_cli("train", *options, "--epochs", "2", "--eval-every", "1", "--eval-samples", "1000",
                     "--seed", "1", "--out", run)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "c2st_accuracy" not in records[0]  # the periodic evaluations leave it out
    assert records[1]["c2st_accuracy"] > 0.5 and "c2st_accuracy" in records[1]["real_floor"]
    assert (run / "two_sample.png").is_file()
    page = (run / "report.html").read_text()
    assert "Can a classifier tell them from real?" in page and "easiest to spot" in page


def test_an_evaluate_callable_without_the_keyword_still_works():
    """A user's evaluate callable (generator -> dict) is not asked for the two-sample test; Evaluator is."""
    calls = []

    def evaluate(generator):
        calls.append(generator)
        return {"fid": 1.0}

    config = TrainConfig(epochs=1, batch_size=32, seed=1, eval_every=1)
    trainer = Trainer(ModelConfig(latent_dim=8, g_hidden=(16,), d_hidden=(16,)), config,
                      torch.zeros(64, 28, 28, dtype=torch.uint8), evaluate=evaluate, progress=False)
    trainer.train()
    assert len(calls) == 1 and trainer.metrics[-1]["fid"] == 1.0
