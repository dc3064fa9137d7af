"""A training step replayed from a CUDA graph: the same kernels on fixed input buffers, launched at once.

    step = GraphedStep(functools.partial(algorithm.gan_step, gan), device)    # on one CUDA GPU
    stats = step(real, z)                           # 3 eager warm-up steps, then the capture, then replays

At batch 100 the eager step is bound by launching ~100 small kernels; the graph launches them in one go.
The step must keep its tensors' addresses (Adam `capturable`, autocast's cast cache off) and draw its
random numbers with PyTorch's graph-safe generators (dropout masks do).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Step = Callable[[torch.Tensor, torch.Tensor], Any]


class GraphedStep:
    def __init__(self, step: Step, device: torch.device, warmups: int = 3):
        self.step, self.device, self.warmups = step, device, warmups
        self.graph: torch.cuda.CUDAGraph | None = None
        self._done_warmups = 0

    def __call__(self, real: torch.Tensor, z: torch.Tensor) -> Any:
        """One step on (real, z); returns the step's output (for a replay, the graph's fixed output buffer).

        A few eager steps on a side stream come first (cuBLAS and Adam's state must exist before a capture);
        the capture records the step without running it, so the step it was captured on is then replayed."""
        if self.graph is None and self._done_warmups < self.warmups:
            self._done_warmups += 1
            side, main = torch.cuda.Stream(self.device), torch.cuda.current_stream(self.device)
            side.wait_stream(main)
            with torch.cuda.stream(side):
                out = self.step(real, z)
            main.wait_stream(side)
            return out
        if self.graph is None:
            self.inputs = (real.clone(), z.clone())
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.output = self.step(*self.inputs)
        else:
            self.inputs[0].copy_(real)
            self.inputs[1].copy_(z)
        self.graph.replay()
        return self.output
