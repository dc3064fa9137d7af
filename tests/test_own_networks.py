"""A user's own G with BatchNorm: its moving average carries the running statistics, and grids are drawn in eval
mode, as `sample` draws.

Run: python -m pytest tests/test_own_networks.py
"""

from __future__ import annotations

import torch
from torch import nn

import vanilla_gan as vg
from vanilla_gan.images import to_uint8


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
