"""The optimizer's side of a step: one Adam update on a loss, and a learning rate set in place.

    descend(loss, adam)      # zero_grad, backward, step
    set_lr(adam, 1e-4)       # a float, or written into the tensor a captured CUDA graph reads
    cooled_lr(config, step, total)      # --lr-cooldown's rate at a step
"""

from __future__ import annotations

from typing import Any

import torch


def descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
    """One optimizer step on `loss`: gradients from this loss alone (the old ones dropped), then the update."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


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
