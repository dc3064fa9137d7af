"""How many threads the CPU's matrix products get while training: chosen from what the steps measure.

PyTorch's default, one thread per core, collapses when another program keeps a core busy: at every parallel
region the threads wait for the slowest, and a thread that has lost its core holds up the others (beside one
busy process on 2 cores, a batch-8 run fell to a quarter of its one-thread speed). So:

    policy = ThreadPolicy.choose(requested=config.threads, device=device, networks=(G, D))
    with policy.training():                  # sets torch's thread count; the caller's comes back afterwards
        ...; policy.after_step()             # after each step: at the end of a stretch, may change the count
        with policy.steady(): ...            # evaluations and grids: training's current count, no probe
    policy.record()                          # what config.json keeps

- The most threads: the CPUs this process may use (its CPU affinity and a container's CPU quota), and no more
  than torch would use (`OMP_NUM_THREADS`, or its default of one per core).
- `--threads N` (`threads=N`) or `OMP_NUM_THREADS` in the environment: that count, fixed.
- Otherwise, on the CPU with MKL in its strict reproducible mode (process.reproducible_mkl), the count adapts:
  training starts at one thread (which never collapses) and times stretches of STRETCH steps (the first one
  PROBE steps, so the first probe comes early); now and then a probe runs up to PROBE steps at a neighbouring
  count (the ladder 1, 2, 4, ... up to the most) and the faster count is kept. A probe stops as soon as it
  cannot win (so one that collapses costs about a step); one that loses doubles the wait before the next (at
  most MAX_WAIT stretches); a fall of the speed below SLUMP of the best since the last probe probes at once.
  So a run follows a machine whose load comes and goes. Changing the count changes no result: in strict mode
  MKL's products do not depend on the thread count (MKL's documentation, and checked: tests/test_threads.py
  trains with changing counts and compares bit for bit); evaluations, whose convolutions and long sums do
  depend on it, hold training's current count while they run (`steady`).
- Networks with other layers than matrix products and element-wise functions (STEADY_LAYERS): convolutions
  (oneDNN), BatchNorm, spectral normalisation, minibatch features, a user's own modules: the most threads,
  fixed, because their results may depend on the count (checked for the conv networks: they end apart after 2
  epochs at 1 and at 2 threads), so a run repeats only at the count it was trained at.
- Elsewhere (a GPU, a PyTorch without MKL, another MKL mode): the most threads, fixed.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vanilla_gan.training.process import mkl_cbwr

GAIN = 1.05  # a probed count must be this much faster to be kept (fewer threads win a tie: they share better)
SLUMP = 0.7  # the speed falling below this share of its best since the last probe: probe now
MAX_WAIT = 64  # stretches between probes, at most (a probe that loses doubles the wait from 1)
STRETCH, PROBE = 25, 8  # steps timed at the current count; steps a probe runs at most
# Layers whose CPU results the thread count does not change (MKL's strict mode): matrix products, element-wise
STEADY_LAYERS = (nn.Linear, nn.LeakyReLU, nn.ReLU, nn.Dropout, nn.Tanh, nn.Sigmoid, nn.Flatten, nn.Unflatten,
                 nn.Identity)


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may run on: its affinity, capped by a container's CPU quota (cgroup v2 or v1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    quota = cgroup_quota(cgroup)
    return max(1, min(cpus, math.ceil(quota))) if quota else max(1, cpus)


def cgroup_quota(cgroup: Path) -> float | None:
    """CPUs allowed by the cgroup's quota (e.g. 1.5), or None when there is none or it cannot be read."""
    try:
        text = (cgroup / "cpu.max").read_text().split()  # v2: "max 100000" or "150000 100000"
        return int(text[0]) / int(text[1]) if text[0] != "max" else None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())  # v1: -1 = none
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


class ThreadPolicy:
    def __init__(self, most: int, adaptive: bool, why: str):
        self.most, self.adaptive, self.why = most, adaptive, why
        self.ladder = _powers_of_two(most) if adaptive else [most]
        self.current = self.ladder[0]  # adaptive: start at one thread, which never collapses, and probe upwards
        self.probing: int | None = None  # the count the steps now running are trying
        self.rate: float | None = None  # steps/s of the current count, its last stretch's
        self.best = 0.0  # the current count's best stretch since the last probe
        self.wait = self.countdown = 1  # stretches until the next probe
        self.turn = 0  # which neighbour the next probe tries
        self.count, self.since = 0, time.perf_counter()  # steps of this stretch (or probe), and when it began
        self.steps: dict[int, int] = {}  # steps trained at each count (the epoch's record)

    @classmethod
    def choose(cls, requested: int | None, device: torch.device, networks: tuple[nn.Module, ...]) -> ThreadPolicy:
        """The policy for a run: `requested` (--threads) fixed; else OMP_NUM_THREADS fixed; else adaptive on a
        CPU whose MKL runs in strict mode, for `networks` of STEADY_LAYERS only; else the most threads, fixed
        (see the module's docstring)."""
        if requested is not None:
            return cls(requested, False, "--threads")
        if os.environ.get("OMP_NUM_THREADS"):
            return cls(torch.get_num_threads(), False, "OMP_NUM_THREADS")
        most = min(usable_cpus(), torch.get_num_threads())
        if device.type != "cpu":
            return cls(most, False, f"training on {device.type}")
        if not (mkl_cbwr() or "").endswith(",STRICT"):
            return cls(most, False, "MKL is not in its strict reproducible mode")
        unsteady = unsteady_layer(networks)
        if unsteady:
            return cls(most, False, f"{unsteady} layers may compute other numbers at another thread count")
        return cls(most, most > 1, "adapts to the machine's load" if most > 1 else "one usable CPU")

    def record(self) -> dict[str, Any]:
        """What config.json keeps: whether it adapts, the counts it may use, the evaluations' count (adaptive: the
        count training runs at when they start), and why."""
        return {"adaptive": self.adaptive, "counts": self.ladder,
                "evaluation": "training's count" if self.adaptive else self.most, "why": self.why}

    @property
    def running(self) -> int:
        """The count the next steps run at."""
        return self.probing or self.current

    @contextlib.contextmanager
    def training(self) -> Iterator[None]:
        """torch's thread count set to the policy's for the block; the caller's restored afterwards."""
        before = torch.get_num_threads()
        torch.set_num_threads(self.running)
        self.count, self.since = 0, time.perf_counter()  # time outside the block is not the steps'
        try:
            yield
        finally:
            torch.set_num_threads(before)

    @contextlib.contextmanager
    def steady(self) -> Iterator[None]:
        """Training's thread count for the block (evaluations, grids): the count the load lets training run
        fastest at (beside busy programs more threads run slower), then the count before it again."""
        before = torch.get_num_threads()
        torch.set_num_threads(self.current)
        try:
            yield
        finally:
            torch.set_num_threads(before)
            self.count, self.since = 0, time.perf_counter()

    def after_step(self) -> None:
        """Call after each training step: counts it, and at the end of a stretch keeps, probes or switches."""
        self.steps[self.running] = self.steps.get(self.running, 0) + 1
        if not self.adaptive:
            return
        self.count += 1
        seconds = time.perf_counter() - self.since
        if self.probing is not None:
            # A probe ends after PROBE steps, or as soon as it can no longer beat the current count by GAIN.
            if self.count >= PROBE or seconds * GAIN * self.rate > PROBE:
                self._end_probe(self.count / seconds)
        elif self.count >= (STRETCH if self.rate is not None else PROBE):  # the first stretch is short
            rate = self.count / seconds
            self.rate, self.best = rate, max(self.best, rate)
            self.countdown = 0 if rate < SLUMP * self.best else self.countdown - 1
            if self.countdown <= 0:
                self.probing = self._neighbour()
                torch.set_num_threads(self.probing)
            self.count, self.since = 0, time.perf_counter()

    def _end_probe(self, rate: float) -> None:
        if self.count >= PROBE and rate > GAIN * self.rate:  # keep the faster count
            self.current, self.rate, self.wait = self.probing, rate, 1
        else:
            self.wait = min(2 * self.wait, MAX_WAIT)
        self.probing, self.best, self.countdown = None, self.rate, self.wait
        torch.set_num_threads(self.current)
        self.count, self.since = 0, time.perf_counter()

    def most_used(self) -> int:
        """The count that trained the most steps since the last call (the epoch's record), then starts over."""
        steps, self.steps = self.steps, {}
        return max(steps, key=steps.get) if steps else self.current

    def _neighbour(self) -> int:
        """The next count to try: the ladder's neighbours of the current one, in turn."""
        i = self.ladder.index(self.current)
        around = [self.ladder[j] for j in (i - 1, i + 1) if 0 <= j < len(self.ladder)]
        self.turn += 1
        return around[self.turn % len(around)]


def unsteady_layer(networks: tuple[nn.Module, ...]) -> str | None:
    """The name of the first module in `networks` whose results may depend on the thread count, if any. Steady:
    STEADY_LAYERS exactly, torch's containers, and this package's networks, whose forward only composes their
    layers (and its Dropout); anything else (a subclass, a user's module, a parametrized layer) may compute
    anything in its forward."""
    for network in networks:
        for module in network.modules():
            kind = type(module)
            ours = kind.__module__ == "vanilla_gan.gan.models" and (
                list(module.children()) or kind.__name__ == "Dropout")
            if not (kind in STEADY_LAYERS or ours or kind.__module__ == "torch.nn.modules.container"):
                return kind.__name__
    return None


def _powers_of_two(most: int) -> list[int]:
    """1, 2, 4, ... below `most`, then `most`: the counts an adaptive policy moves between."""
    counts, n = [], 1
    while n < most:
        counts.append(n)
        n *= 2
    return counts + [most]
