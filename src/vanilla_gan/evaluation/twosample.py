"""The classifier two-sample test: can a small CNN tell generated images from real ones?

    result = two_sample_test(real, generated)        # uint8 (N, H, W) or (N, H, W, C) arrays or tensors
    result.accuracy                                  # 0.5: indistinguishable; 1.0: every image told apart
    result.accuracies                                # one per classifier seed, for the spread
    result.easiest, result.hardest                   # the generated images it spotted most and least surely

Lopez-Paz & Oquab, "Revisiting Classifier Two-Sample Tests" (ICLR 2017): train a classifier on real images
(label 0) against generated ones (label 1), then measure its accuracy on images of both that it never saw.
It asks the product's question directly, where FID and precision only compare summary features: a person who
sees speckle, faint or broken strokes and a grey background can tell; so can this classifier.

The split: n images of each side (n = min(MAX_PER_SIDE, len(real), len(generated))); a fifth of each is held
out for the test, the rest trains the classifier for EPOCHS passes (Adam, batch BATCH). Each classifier seed
fixes the initial weights and the batch order; the global random generators are left as they were, so the
test never moves a training run. Deterministic on one machine and thread count.

The network computes in channels-last layout (N, H, W, C in memory): PyTorch's CPU max-pooling is several
times slower on the default layout; the whole test ran 1.36x faster this way (docs/experiments/two-sample.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vanilla_gan.gan.algorithm import bce

MAX_PER_SIDE = 5000  # images of each side: 4,000 to train on, 1,000 to test on
TEST_FRACTION = 5  # one image in five is held out
EPOCHS, BATCH, LR = 8, 64, 2e-3  # 16 passes scored 0.005 higher than 8 on a default run (lab notes: two-sample)
SEEDS = (0, 1)  # two classifiers: their mean is the figure, their difference its spread
PICKS = 32  # generated images shown as the easiest and the hardest to spot
MIN_PER_SIDE = 20


class TwoSampleNet(nn.Module):
    """A small CNN: images (B, C, H, W) in [0, 1] -> one logit (B,), positive for 'generated'."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.LeakyReLU(0.2), nn.MaxPool2d(2),  # (B, 16, H/2, W/2)
            nn.Conv2d(16, 32, 3, padding=1), nn.LeakyReLU(0.2), nn.MaxPool2d(2),  # (B, 32, H/4, W/4)
            nn.AdaptiveAvgPool2d(7), nn.Flatten(),  # (B, 32 * 7 * 7): any image size
            nn.Linear(32 * 7 * 7, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1),
        )
        self.to(memory_format=torch.channels_last)  # the faster layout for the CPU's pooling (module docstring)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] < 4 or x.shape[3] < 4:  # two 2x2 poolings need 4 pixels a side: tiny images are padded
            x = F.pad(x, (0, max(0, 4 - x.shape[3]), 0, max(0, 4 - x.shape[2])))  # black: pixels are in [0, 1]
        return self.body(x.contiguous(memory_format=torch.channels_last)).squeeze(1)


@dataclass
class TwoSampleResult:
    accuracy: float  # mean test accuracy over the classifier seeds
    accuracies: list[float]  # one per seed
    per_side: int  # images of each side used (train + test)
    easiest: np.ndarray  # uint8, the PICKS generated test images most surely called generated (first seed)
    hardest: np.ndarray  # uint8, the PICKS generated test images most surely called real

    @property
    def spread(self) -> float:
        return max(self.accuracies) - min(self.accuracies)


def as_channels_first(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [0, 1], on the CPU."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images).cpu()
    if x.dtype != torch.uint8 or x.ndim not in (3, 4):
        raise ValueError(f"expected uint8 images (N, H, W) or (N, H, W, C), got {x.dtype} {tuple(x.shape)}")
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return x.float().div_(255)


def two_sample_test(real: np.ndarray | torch.Tensor, generated: np.ndarray | torch.Tensor,
                    seeds: tuple[int, ...] = SEEDS, epochs: int = EPOCHS,
                    max_per_side: int = MAX_PER_SIDE) -> TwoSampleResult:
    """Train one classifier per seed on real (0) against generated (1) images and test it on held-out ones.

    Uses the first n of each set (shuffle them first if they are ordered, e.g. by class)."""
    n = min(max_per_side, len(real), len(generated))
    if n < MIN_PER_SIDE:
        raise ValueError(f"the two-sample test needs at least {MIN_PER_SIDE} images of each side, got {n}")
    generated = torch.as_tensor(np.asarray(generated[:n]))  # uint8, for the pictures too
    real_x, fake_x = as_channels_first(real[:n]), as_channels_first(generated)
    if real_x.shape[1:] != fake_x.shape[1:]:
        raise ValueError(f"real images {tuple(real_x.shape[1:])} and generated {tuple(fake_x.shape[1:])} differ")
    test = torch.arange(n) % TEST_FRACTION == TEST_FRACTION - 1
    train_x = torch.cat([real_x[~test], fake_x[~test]])
    train_y = torch.cat([torch.zeros(int((~test).sum())), torch.ones(int((~test).sum()))])
    test_x = torch.cat([real_x[test], fake_x[test]])
    test_y = torch.cat([torch.zeros(int(test.sum())), torch.ones(int(test.sum()))])
    accuracies, first_scores = [], None
    for seed in seeds:
        model = _train(train_x, train_y, seed, epochs)
        with torch.no_grad():
            logits = torch.cat([model(x) for x in test_x.split(1000)])
        accuracies.append(float(((logits > 0).float() == test_y).float().mean()))
        if first_scores is None:
            first_scores = logits[test_y == 1]
    generated_test = generated[test]
    order = first_scores.argsort(descending=True)  # most 'generated' first
    picks = min(PICKS, len(order))
    return TwoSampleResult(float(np.mean(accuracies)), accuracies, n, generated_test[order[:picks]].numpy(),
                           generated_test[order.flip(0)[:picks]].numpy())


def _train(x: torch.Tensor, y: torch.Tensor, seed: int, epochs: int) -> TwoSampleNet:
    """A TwoSampleNet trained on (x, y) with its own seeded initial weights and batch order."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TwoSampleNet(x.shape[1])
        order_rng = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        steps = epochs * -(-len(x) // BATCH)
        # The learning rate falls linearly to 0: the classifier settles, so a longer schedule gains little.
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
        model.train()
        for _ in range(epochs):
            for index in torch.randperm(len(x), generator=order_rng).split(BATCH):
                loss = bce(model(x[index]), y[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
    return model.eval()
