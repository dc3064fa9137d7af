"""`sample --digit D` and `run.sample(n, digit=D)`: digits picked by the package's classifier from G's draws.

Run: python -m pytest tests/test_digit_on_request.py -n 0 -q
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, run_main
from torch import nn

import vanilla_gan as vg
from vanilla_gan.config import ModelConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.errors import UsageError
from vanilla_gan.evaluation.classifier import extract, load_evaluator, select_digits


class Replay(nn.Module):
    """A 'generator' that returns real digits in turn (index by the call), so the classifier's picks are known."""

    def __init__(self, images: torch.Tensor):
        super().__init__()
        self.config = ModelConfig(latent_dim=4)
        self.images, self.at = images.float() / 127.5 - 1, 0
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.images[self.at:self.at + len(z)]
        self.at += len(z)
        return out


def test_selection_keeps_only_the_digit_and_counts_the_draws():
    images, labels = load_dataset("digits")
    order = torch.randperm(10_000, generator=torch.Generator().manual_seed(0))[:2000]  # the set is in class order
    picked, draws = select_digits(Replay(images[order]), 7, 30, batch_size=256)
    sevens = (labels[order] == 7).nonzero().squeeze(1)
    assert picked.shape == (30, 28, 28) and picked.dtype == np.uint8
    # every image kept is a 7 the classifier is sure of, and the count stops at the 30th
    probs = torch.softmax(extract(load_evaluator(), picked)[1], 1)[:, 7]
    assert (probs >= 0.9).all()
    assert sevens[25] < draws <= sevens[40] + 1  # about one in ten digits is a 7
    picked_set = {bytes(p) for p in picked}
    assert picked_set <= {bytes(i) for i in images[order][:draws].numpy()}


def test_selection_repeats_for_a_seed_and_gives_up_in_one_line():
    g = vg.pretrained().generator()
    a, draws_a = select_digits(g, 3, 16, seed=5)
    b, draws_b = select_digits(g, 3, 16, seed=5)
    assert np.array_equal(a, b) and draws_a == draws_b
    assert not np.array_equal(a, select_digits(g, 3, 16, seed=6)[0])
    blank = Replay(torch.zeros(50_000, 28, 28, dtype=torch.uint8))  # never a digit
    with pytest.raises(UsageError, match="in 1,000 draws, short of 4"):
        select_digits(blank, 4, 4, max_draws=1000)


def test_run_sample_with_digit(tmp_path):
    images = vg.pretrained().sample(16, seed=0, digit=3)
    assert images.shape == (16, 28, 28)
    probs = torch.softmax(extract(load_evaluator(), images)[1], 1)
    assert (probs.argmax(1) == 3).all()


def test_sample_digit_from_the_command_line(tmp_path):
    result = run_main("sample", "--pretrained", "--digit", "7", "-n", "20", "--seed", "3", "-o", tmp_path / "x.npy")
    assert result.returncode == 0, result.stderr
    assert "kept 20 of " in result.stdout and "as a 7" in result.stdout
    assert np.load(tmp_path / "x.npy").shape == (20, 28, 28)


@pytest.mark.parametrize("args, words", [
    (["--digit", "10"], "--digit must be a whole number in 0..9"),
    (["--digit", "-1"], "--digit must be a whole number in 0..9"),
    (["--digit", "3", "--interpolate"], "cannot be combined with --interpolate"),
])
def test_digit_refusals_are_one_line(tmp_path, args, words):
    assert words in assert_one_line_error(run_main("sample", "--pretrained", *args, "-o", tmp_path / "x.png"))


def test_digit_is_refused_for_runs_on_other_data(tmp_path):
    pictures = np.random.default_rng(0).integers(0, 256, (64, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "own.npy", pictures)
    run = tmp_path / "own"
    trained = run_main("train", "--dataset", tmp_path / "own.npy", "--epochs", "1", "--batch-size", "16",
                       "--eval-every", "0", "--no-report", "--out", run, "--seed", "1")
    assert trained.returncode == 0, trained.stderr
    line = assert_one_line_error(run_main("sample", run, "--digit", "3", "-o", tmp_path / "x.png"))
    assert "reads only the digits" in line
    with pytest.raises(UsageError, match="reads only the digits"):
        vg.load(run).sample(4, digit=3)
