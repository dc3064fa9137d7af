"""Sampling (sampling.py): seeded samples that repeat and leave the global RNG alone, latent walks, slerp.
Run: python -m pytest tests/test_sampling.py
"""

from __future__ import annotations

import numpy as np
import torch

from vanilla_gan.config import ModelConfig
from vanilla_gan.gan.models import Generator
from vanilla_gan.gan.sampling import latent_walk, sample_images, slerp


def test_samples_repeat_for_a_seed_and_leave_the_global_rng_alone():
    generator = Generator(ModelConfig(latent_dim=8, g_hidden=(16,)))
    state = torch.get_rng_state()
    a = sample_images(generator, 70, seed=1, batch_size=32)  # three batches
    assert torch.equal(torch.get_rng_state(), state)
    assert a.shape == (70, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, sample_images(generator, 70, seed=1))  # the batch size changes nothing
    assert not np.array_equal(a, sample_images(generator, 70, seed=2))


def test_a_latent_walk_starts_and_ends_at_its_own_samples():
    generator = Generator(ModelConfig(latent_dim=8, g_hidden=(16,)))
    frames = latent_walk(generator, walks=3, frames=5, seed=4)
    assert frames.shape == (5, 3, 28, 28) and frames.dtype == np.uint8
    assert not np.array_equal(frames[0], frames[-1])


def test_slerp_keeps_the_ends_and_stays_on_the_sphere():
    z = torch.randn(2, 5, 100, generator=torch.Generator().manual_seed(0))
    z0, z1 = z[0] / z[0].norm(dim=1, keepdim=True) * 10, z[1] / z[1].norm(dim=1, keepdim=True) * 10
    path = slerp(z0, z1, torch.linspace(0, 1, 7))
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    torch.testing.assert_close(path.norm(dim=2), torch.full((7, 5), 10.0))  # a straight line would dip to ~7
    same = slerp(z0, z0, torch.linspace(0, 1, 3))  # parallel vectors: no division by zero
    assert torch.isfinite(same).all()
