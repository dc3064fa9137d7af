"""The optimizer's side of a step: one Adam update on a loss, and a learning rate set in place.

    descend(loss, adam)      # zero_grad, backward, step
    set_lr(adam, 1e-4)       # a float, or written into the tensor a captured CUDA graph reads
"""

from __future__ import annotations

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
