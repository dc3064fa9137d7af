"""A user's own G with BatchNorm: its moving average carries the running statistics, and grids are drawn in eval
mode, as `sample` draws. A run with its own G works on the command line with `--generator MODULE:CLASS`.

Run: python -m pytest tests/test_own_networks.py
"""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch
from helpers import TINY_OPTIONS, run_cli
from torch import nn

import vanilla_gan as vg
from vanilla_gan.cli.own_networks import import_network
from vanilla_gan.data.images import to_uint8
from vanilla_gan.evaluation.evaluator import MIN_SAMPLES
from vanilla_gan.runs.checkpoint import own_generator_message


class NormedGenerator(nn.Module):
    """z (B, 4) -> images (B, 6, 6) through a BatchNorm layer."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 36), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 6, 6)


def _trainer() -> vg.Trainer:
    images = torch.randint(0, 256, (64, 6, 6), dtype=torch.uint8)
    config = vg.TrainConfig(seed=0, batch_size=16, eval_every=0)
    return vg.Trainer(vg.ModelConfig(latent_dim=4, d_hidden=(8,)), config, images, generator=NormedGenerator(),
                      progress=False)


def test_the_moving_average_carries_batchnorms_statistics():
    trainer = _trainer()
    trainer.train_epoch()
    norm, averaged = trainer.G.net[1], trainer.G_ema.net[1]
    assert int(norm.num_batches_tracked) == 4  # 64 images, batches of 16
    assert torch.equal(averaged.running_mean, norm.running_mean)
    assert torch.equal(averaged.running_var, norm.running_var)
    assert not torch.equal(norm.running_mean, torch.zeros(16))  # it moved: the copy is not a coincidence


def test_grids_are_drawn_in_eval_mode_and_the_mode_is_put_back():
    trainer = _trainer()
    trainer.train_epoch()
    trainer.G_ema.train()
    grid = trainer.generate_fixed()
    assert trainer.G_ema.training  # put back
    with torch.no_grad():
        expected = to_uint8(trainer.G_ema.eval()(trainer.fixed_noise))
        in_train_mode = to_uint8(trainer.G_ema.train()(trainer.fixed_noise))
    assert (grid == expected).all() and not (grid == in_train_mode).all()


# ----------------------------------------------------------------------------- the command line rebuilds it

NETS = '''
from torch import nn


class SmallGenerator(nn.Module):
    def __init__(self, latent_dim=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, 784), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 28, 28)


class NeedsWidth(SmallGenerator):
    def __init__(self, width):
        super().__init__()
'''


def test_the_command_line_rebuilds_an_importable_generator(tmp_path, monkeypatch):
    (tmp_path / "mynets.py").write_text(NETS)
    monkeypatch.syspath_prepend(str(tmp_path))
    mynets = importlib.import_module("mynets")
    run = vg.train(out=tmp_path / "own", seed=1, epochs=1, generator=mynets.SmallGenerator(), report=False,
                   **TINY_OPTIONS)
    refused = run_cli("sample", run.path, "-o", tmp_path / "s.png", cwd=tmp_path)
    assert refused.returncode == 2 and "--generator mynets:SmallGenerator" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    own = ("--generator", "mynets:SmallGenerator")
    done = run_cli("sample", run.path, *own, "-n", "5", "-o", tmp_path / "s.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert np.array_equal(np.load(tmp_path / "s.npy"), run.sample(5))  # the trained weights, not a fresh net
    scored = run_cli("evaluate", run.path, *own, "-n", str(MIN_SAMPLES), "--no-two-sample", "--json", cwd=tmp_path)
    assert scored.returncode == 0 and "fid" in json.loads(scored.stdout), scored.stderr
    report = run_cli("report", run.path, *own, cwd=tmp_path)
    assert report.returncode == 0 and (run.path / "report.html").is_file(), report.stderr


def test_a_generator_option_that_names_no_usable_class_gets_one_line(tmp_path, monkeypatch):
    (tmp_path / "mynets.py").write_text(NETS)
    monkeypatch.chdir(tmp_path)
    for spec, said in [("nowhere:G", "cannot import it"), ("mynets:Missing", "cannot import it"),
                       ("mynets:nn", "not a torch.nn.Module class"), ("mynets", "name a class as MODULE:CLASS"),
                       ("mynets:NeedsWidth", "cannot be built with no arguments"),
                       ("__main__:G", "move it into a module file")]:
        with pytest.raises(vg.UsageError, match=said):
            import_network(spec)


def test_a_class_from_a_notebook_is_named_with_what_to_do():
    message = own_generator_message("__main__.MyG")
    assert "defined in a script or notebook" in message and "--generator mynets:MyG" in message
