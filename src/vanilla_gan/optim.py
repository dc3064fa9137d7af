"""Adam applied inside the backward pass: each parameter is updated as soon as its gradient is complete.

    adam = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)   # holds the state
    in_backward = AdamInBackward(adam, after=ema.update_one)
    with in_backward.active():
        loss.backward()          # every parameter of G updated, its gradient dropped; then `after(parameter)`
    descend(loss, adam, in_backward)   # the same; with in_backward=None: zero_grad, backward, step
    set_lr(adam, 1e-4)       # a float, or written into the tensor a captured CUDA graph reads

At a small batch the step is bound by memory traffic: G's and D's weights, gradients and Adam moments do not
stay in cache between the backward pass and a separate `optimizer.step()`. Updating each parameter from its
post-accumulate-grad hook touches it while the backward pass has just written its gradient. The arithmetic is
`torch.optim.Adam(fused=True).step()`'s, parameter by parameter (its kernel is elementwise), and the state
lives in the given optimizer, so `state_dict()` and checkpoints are unchanged. A parameter's update is safe in
the middle of the backward pass because its autograd node has already used it (each weight is used once in the
forward pass). Not for DistributedDataParallel (gradients are averaged after the hooks) nor inside a CUDA graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


class AdamInBackward:
    def __init__(self, optimizer: torch.optim.Adam, after: Callable[[torch.Tensor], None] | None = None):
        group = optimizer.param_groups[0]
        if len(optimizer.param_groups) != 1 or group["amsgrad"] or group["maximize"] or not group["fused"]:
            raise ValueError("AdamInBackward needs one parameter group of fused Adam without amsgrad or maximize")
        self.optimizer, self.after, self._active = optimizer, after, False
        self.handles: list = []

    def _attach(self) -> None:
        params = self.optimizer.param_groups[0]["params"]
        self.handles = [p.register_post_accumulate_grad_hook(self._update) for p in params if p.requires_grad]

    @contextmanager
    def active(self) -> Iterator[None]:
        """Apply the updates during this block's backward pass (other optimizers' hooks on the same
        parameters, e.g. of an earlier Trainer, stay quiet). The hooks go on at the first use, and after `remove`."""
        if not self.handles:
            self._attach()
        self._active = True
        try:
            yield
        finally:
            self._active = False

    def remove(self) -> None:
        """Take the hooks off the parameters (a network reused by another Trainer must not keep this one)."""
        for handle in self.handles:
            handle.remove()
        self.handles = []

    @torch.no_grad()
    def _update(self, param: torch.Tensor) -> None:
        if not self._active:
            return
        group, state = self.optimizer.param_groups[0], self.optimizer.state[param]
        if not state:  # as torch.optim.Adam initialises a fused parameter's state
            state["step"] = torch.zeros((), dtype=torch.float32, device=param.device)
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        state["step"].add_(1)
        beta1, beta2 = group["betas"]
        torch._fused_adam_([param], [param.grad], [state["exp_avg"]], [state["exp_avg_sq"]], [], [state["step"]],
                           amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
                           weight_decay=group["weight_decay"], eps=group["eps"], maximize=False, grad_scale=None,
                           found_inf=None)
        param.grad = None
        if self.after is not None:
            self.after(param)


def descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer, in_backward: AdamInBackward | None) -> None:
    """One optimizer step on `loss`: inside the backward pass (`in_backward`), or after it."""
    if in_backward is not None:
        with in_backward.active():
            loss.backward()
        return
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
