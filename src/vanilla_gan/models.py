"""The seed's two networks, built from a `ModelConfig`. No I/O, no argument parsing.

    G = Generator(ModelConfig())          # z (B, 100) -> images (B, 784) in (-1, 1)
    D = Discriminator(ModelConfig())      # images (B, 784) or (B, 28, 28) -> P(real) (B,)

D ends in a Sigmoid for users (`D(x)` is a probability); training uses `D.logits(x)` with
BCE-with-logits, which is the same function as Sigmoid + BCE but cannot overflow.
"""

from __future__ import annotations

import torch
from torch import nn

from vanilla_gan.config import IMAGE_PIXELS, ModelConfig


class Dropout(nn.Dropout):
    """nn.Dropout (zero each value with probability p, scale the rest by 1/(1-p)), with its mask drawn as
    uniform < 1-p: on CPU `torch.rand` is about 3x faster than the `bernoulli_` that nn.Dropout calls, and
    dropout was 15% of a training step. The same distribution, to float32's resolution of p."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))


class Generator(nn.Module):
    """z -> three (by default) Linear + LeakyReLU layers -> Linear -> Tanh, 784 pixels in (-1, 1)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.latent_dim
        for hidden in config.g_hidden:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(config.slope)]
            width = hidden
        layers += [nn.Linear(width, IMAGE_PIXELS), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, 784)


class Discriminator(nn.Module):
    """784 pixels -> three (by default) Linear + LeakyReLU + Dropout layers -> Linear -> Sigmoid."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = IMAGE_PIXELS
        for hidden in config.d_hidden:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(config.slope), Dropout(config.dropout)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid scores (B,) for images (B, 784) or (B, 28, 28) scaled to (-1, 1)."""
        return self.net(images.reshape(images.shape[0], IMAGE_PIXELS)).squeeze(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The probability (B,) that each image is real."""
        return torch.sigmoid(self.logits(images))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
