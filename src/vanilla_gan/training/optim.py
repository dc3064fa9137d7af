"""Learning rates: set in place, and --lr-cooldown's schedule.

    set_lr(adam, 1e-4)       # a float, or written into the tensor a captured CUDA graph reads
    cooled_lr(config, step, total)      # --lr-cooldown's rate at a step
    planned_epochs(config, epoch, elapsed, cap)     # --lr-cooldown under --minutes: the run's length, planned
"""

from __future__ import annotations

import math
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


def planned_epochs(config: Any, epoch: int, elapsed: float, cap: int) -> int:
    """The length (a TrainConfig's epochs) of a run under --lr-cooldown F and --minutes, after `epoch` epochs and
    `elapsed` seconds of training. Until the cooldown would begin in the next epoch: the epochs the budget holds at
    the pace so far, at most `cap` (--epochs), and never so few that the cooldown should have begun already. From
    there on the length stays, so that the rates are exactly those of --epochs N."""
    if epoch + 1 > (1 - config.lr_cooldown) * config.epochs:
        return config.epochs
    fits = epoch + int((config.minutes * 60 - elapsed) / (max(elapsed, 1e-6) / epoch))  # at the pace so far
    return max(min(fits, cap), math.ceil(epoch / (1 - config.lr_cooldown) - 1e-9))  # (21 / 0.7 is 30.000000000000004)
