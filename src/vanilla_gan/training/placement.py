"""Where the GAN's step runs: its networks placed for training on one process or under DDP, its optimizers,
and on one GPU the step captured as a CUDA graph. The step itself is algorithm.py's; this module only places it.

    engine = Engine(G, D, config, device, objective)     # G and D built (and seeded) on `device`
    engine.gan                                           # what algorithm.py's functions update
    stats = engine.step(real, z)     # algorithm.gan_step on engine.gan; on one GPU replayed from a CUDA graph
    engine.set_lr(1e-4)                                  # both optimizers (a captured step reads a tensor)

On several processes (torchrun) G and D's scores are wrapped in DistributedDataParallel, which averages their
gradients; G's update goes through D's plain scores (nothing of D is averaged there). On one CUDA GPU
(`--cuda-graph`, d_steps 1) the step is captured once and replayed: one launch instead of ~100 small kernels;
Adam is then `capturable`, its learning rate a device tensor, and autocast's cast cache is off.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import torch
from torch import nn

from vanilla_gan.config import TrainConfig
from vanilla_gan.gan import algorithm
from vanilla_gan.gan.algorithm import GAN, Objective
from vanilla_gan.gan.models import Scores
from vanilla_gan.training import distributed
from vanilla_gan.training.cudagraph import GraphedStep
from vanilla_gan.training.optim import set_lr


class Engine:
    def __init__(self, generator: nn.Module, discriminator: nn.Module, config: TrainConfig, device: torch.device,
                 objective: Objective):
        self.device, self.precision = device, config.precision
        self.graphed = (config.cuda_graph and device.type == "cuda" and distributed.world_size() == 1
                        and config.d_steps == 1 and not config.shapes_d_input)
        self.d_lr_ratio = config.d_lr / config.lr  # --lr-d over --lr: D's rate follows G's through set_lr
        self.opt_g = self._adam(generator.parameters(), config, config.lr)
        self.opt_d = self._adam(discriminator.parameters(), config, config.d_lr)
        d_scores = Scores(discriminator)  # D's pre-sigmoid scores (B,) as a module, for DDP to wrap
        self.gan = GAN(distributed.wrap(generator, device), distributed.wrap(d_scores, device), d_scores,
                       self.opt_g, self.opt_d, objective, self.autocast)
        step = functools.partial(algorithm.gan_step, self.gan)
        self.step = GraphedStep(step, device) if self.graphed else step

    def _adam(self, params: Iterable[nn.Parameter], config: TrainConfig, lr: float) -> torch.optim.Adam:
        """Fused Adam; under a CUDA graph `capturable`, reading its learning rate from a device tensor, which
        `set_lr` writes into."""
        lr = torch.tensor(lr, device=self.device) if self.graphed else lr
        return torch.optim.Adam(params, lr=lr, betas=tuple(config.betas), fused=True, capturable=self.graphed)

    def set_lr(self, lr: float) -> None:
        """G's learning rate, and D's in the ratio of --lr-d to --lr, read at their next step (or the graph's
        next replay)."""
        set_lr(self.opt_g, lr)
        set_lr(self.opt_d, lr * self.d_lr_ratio)

    def autocast(self) -> torch.autocast:
        """bf16 autocast for the forward passes when --precision bf16; weights and Adam stay fp32.
        (A CUDA graph needs autocast's cast cache off; each weight is cast once per step either way.)"""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16",
                              cache_enabled=not self.graphed)
