"""Drawing digits from a generator: samples from seeded noise, and walks through the latent space.

    images = sample_images(G, 1000, seed=0)              # uint8 (1000, 28, 28), or (1000, H, W[, 3]): G's shape
    images = draw(G, z, shape)                           # G's images of these z (eval mode; G's mode kept)
    frames = latent_walk(G, walks=8, frames=12, seed=0)  # uint8 (12, 8, 28, 28): 8 walks of 12 steps
    z = slerp(z0, z1, torch.linspace(0, 1, 12))          # (12, W, Z) between the rows of z0 and z1

Noise comes from a `torch.Generator` seeded for the purpose, so sampling never moves the global RNG.
A walk goes from one random z to another along the great circle (spherical interpolation): Gaussian z in
many dimensions lie near a sphere, and a straight line between two of them passes through the low-norm
middle that G never saw in training, which fades the digits halfway.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vanilla_gan.data.images import SIDE, to_uint8
from vanilla_gan.errors import UsageError

RUN_SHAPE = "vanilla_gan_image_shape"  # what checkpoint.load_generator records on a user's G: its run's shape


def image_shape_of(generator: nn.Module) -> tuple[int, ...] | None:
    """The image shape a generator draws: its config's (the package's networks), or its run's (a user's G loaded
    from a checkpoint), else None (its output's own)."""
    config = getattr(generator, "config", None)
    shape = getattr(config, "shape", None) or getattr(generator, RUN_SHAPE, None)
    return tuple(shape) if shape is not None else None


def latent_dim_of(generator: nn.Module) -> int:
    """The size of z a generator takes: its config's latent_dim, or its first layer's input width."""
    config = getattr(generator, "config", None)
    if config is not None:
        return config.latent_dim
    first = next((m for m in generator.modules() if isinstance(m, nn.Linear)), None)
    if first is None:
        raise UsageError(f"cannot tell the size of z that {type(generator).__name__} takes: give it a `config` "
                         f"attribute with `latent_dim` (a ModelConfig)")
    return first.in_features


@torch.no_grad()
def sample_images(generator: nn.Module, num: int, seed: int = 0, device: str | torch.device = "cpu",
                  batch_size: int = 1000) -> np.ndarray:
    """`num` images (uint8 (num, H, W[, 3])) from `generator`, with noise from a torch.Generator seeded by `seed`."""
    generator.to(device).eval()
    noise_rng = torch.Generator().manual_seed(seed)
    latent_dim = latent_dim_of(generator)
    batches = []
    for start in range(0, num, batch_size):
        z = torch.randn(min(batch_size, num - start), latent_dim, generator=noise_rng)
        batches.append(to_uint8(generator(z.to(device)), image_shape_of(generator)))
    return np.concatenate(batches) if batches else np.zeros((0, *(image_shape_of(generator) or (SIDE, SIDE))),
                                                            np.uint8)


@torch.no_grad()
def draw(generator: nn.Module, z: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """G's images of `z`, uint8 (B, *shape), drawn in eval mode as `sample_images` draws (a user's G with BatchNorm
    or dropout), then G put back in the mode it was in (a training G stays one)."""
    training = generator.training
    try:
        return to_uint8(generator.eval()(z), shape)
    finally:
        generator.train(training)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of z0 and z1 (W, Z) at fractions t (T,) -> (T, W, Z)."""
    unit0, unit1 = z0 / z0.norm(dim=1, keepdim=True), z1 / z1.norm(dim=1, keepdim=True)
    omega = torch.acos((unit0 * unit1).sum(1).clamp(-1, 1))  # (W,) angle between them
    sin = torch.sin(omega)
    t = t[:, None, None]  # (T, 1, 1)
    # Nearly parallel vectors: the straight line is the same path, and avoids dividing by ~0.
    straight = (1 - t) * z0 + t * z1
    curved = (torch.sin((1 - t) * omega[:, None]) * z0 + torch.sin(t * omega[:, None]) * z1) / sin[:, None]
    return torch.where((sin.abs() < 1e-6)[None, :, None], straight, curved)


@torch.no_grad()
def latent_walk(generator: nn.Module, walks: int = 8, frames: int = 12, seed: int = 0,
                device: str | torch.device = "cpu") -> np.ndarray:
    """`walks` walks of `frames` images each between random z: uint8 (frames, walks, H, W[, 3])."""
    noise_rng = torch.Generator().manual_seed(seed)
    latent_dim = latent_dim_of(generator)
    z0 = torch.randn(walks, latent_dim, generator=noise_rng)
    z1 = torch.randn(walks, latent_dim, generator=noise_rng)
    z = slerp(z0, z1, torch.linspace(0, 1, frames))  # (T, W, Z)
    generator.to(device).eval()
    images = to_uint8(generator(z.reshape(-1, latent_dim).to(device)), image_shape_of(generator))  # (T * W, H, W)
    return images.reshape(frames, walks, *images.shape[1:])
