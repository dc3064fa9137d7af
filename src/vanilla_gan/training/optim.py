"""Learning rates: set in place, and --lr-cooldown's schedule.

    set_lr(adam, 1e-4)       # a float, or written into the tensor a captured CUDA graph reads
    cooled_lr(config, step, total)      # --lr-cooldown's rate at a step
"""

from __future__ import annotations

from typing import Any

import torch


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every parameter group's learning rate. A tensor learning rate (a CUDA-graph run's, with capturable
    Adam) is written in place: the captured step reads that tensor's memory at each replay, never a new Python
    float put into the group."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def cooled_lr(config: Any, step: int, total: int) -> float:
    """The learning rate at `step` (steps done) of `total` under --lr-cooldown F (a TrainConfig's lr_cooldown): the
    full rate, then down linearly to 0 over the last fraction F of the steps."""
    return config.lr * min(1.0, (total - step) / (config.lr_cooldown * total))
