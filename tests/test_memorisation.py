"""The memorisation check (memorisation.py): a generator that copies its training digits is flagged,
one that draws unlike anything is cleared. Run: python -m pytest tests/test_memorisation.py
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vanilla_gan.config import ModelConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.evaluation.memorisation import check_memorisation


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
    return np.asarray(load_dataset("digits")[0][:3000])


def test_memorisation_flags_a_copier(digits):
    result = check_memorisation(Copier(digits, copy=True), digits, num=300)
    assert result.level == "warning" and result.verdict.startswith("Possible memorisation")
    assert result.copies == 300 and result.generated_distances.max() < 0.05  # cdist's rounding, not 0
    assert np.abs(result.generated.astype(int) - result.nearest).max() <= 1  # each shown beside its original


def test_memorisation_clears_samples_unlike_any_training_digit(digits):
    result = check_memorisation(Copier(digits, copy=False), digits, num=300)
    assert result.level == "ok" and result.verdict.startswith("No sign of copying"), result.verdict
    assert result.copies == 0 and np.median(result.real_distances) < np.median(result.generated_distances)


