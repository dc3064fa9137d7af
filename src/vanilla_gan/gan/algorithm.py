"""The GAN's step, written once: Algorithm 1 of Goodfellow et al. (2014) and the objective it descends.

    gan = GAN(G, Scores(D), Scores(D), opt_g, opt_d)   # Scores: D's pre-sigmoid scores (B,); BCEObjective()
    stats = gan_step(gan, real, z)                # the step: D's update, then G's; StepStats(loss_d, loss_g, ...)
    stats = iteration(gan, reals, noise)          # --d-steps k: k - 1 updates of D alone, then gan_step

Algorithm 1, for each training iteration:
    for k steps: draw m noise samples z and m examples x; update D by ascending its objective;
    draw m noise samples z; update G by descending its objective.
`gan_step` reads as that loop's body with k = 1 (zero_grad, backward and step in plain sight).

An objective is any object with a `name` and two functions of D's scores (pre-sigmoid logits), each averaged
over the minibatch: `d_loss(real_scores, fake_scores)` (D descends it) and `g_loss(fake_scores)` (G descends
it). `BCEObjective` is the original GAN's (the default, set by --g-loss and --real-label); a researcher passes
their own as `vg.train(objective=...)` or `Trainer(..., objective=...)`, e.g. a hinge loss:

    class Hinge:
        name = "hinge"
        def d_loss(self, real_scores, fake_scores):
            return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
        def g_loss(self, fake_scores):
            return -fake_scores.mean()

config.json and the checkpoints record its name; a resumed run must be given an objective of the same name.
Nothing here knows of devices, processes, CUDA graphs, files or logging: the Trainer (trainer.py) gives this
step networks already placed (on a device, under DDP) and captures it as a CUDA graph.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from vanilla_gan.config import G_LOSSES
from vanilla_gan.errors import UsageError


def bce(scores: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of sigmoid(scores) against `target` (one label for all, or one per score), averaged:
    -mean(t log sigmoid(s) + (1 - t) log(1 - sigmoid(s))), computed from the scores (no overflow)."""
    if not isinstance(target, torch.Tensor):  # float32 labels, whatever precision the scores are in
        target = torch.full(scores.shape, target, device=scores.device)
    return F.binary_cross_entropy_with_logits(scores, target)


class Objective(Protocol):
    name: str

    def d_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor: ...

    def g_loss(self, fake_scores: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class BCEObjective:
    """The original GAN's value function, log D(x) + log(1 - D(G(z))) with D(x) = sigmoid(score), as BCE.

    `name` ("non-saturating" or "minimax", --g-loss) says G's loss; `real_label` is D's target for real images
    (1, or below it with one-sided label smoothing, --real-label)."""

    name: str = "non-saturating"
    real_label: float = 1.0

    def d_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        # D maximises log D(x) + log(1 - D(G(z))): BCE with real = real_label, generated = 0
        return bce(real_scores, self.real_label) + bce(fake_scores, 0.0)

    def g_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        if self.name == "non-saturating":  # G maximises log D(G(z)): BCE with target 1
            return bce(fake_scores, 1.0)
        return -bce(fake_scores, 0.0)  # minimax: G minimises log(1 - D(G(z))), i.e. -BCE with target 0


def objective_of(objective: Any, g_loss: str, real_label: float) -> Objective:
    """The objective a run trains with: `objective` (a user's, checked), or else the original GAN's with --g-loss
    and --real-label, which a user's objective replaces (so they must be left at their defaults beside it)."""
    if objective is None:
        return BCEObjective(g_loss, real_label)
    check_objective(objective)
    if (g_loss, real_label) != (BCEObjective.name, BCEObjective.real_label):
        raise UsageError(f"--g-loss and --real-label set the built-in objective, which objective "
                         f"{objective.name!r} replaces: leave them at their defaults (or set them in yours)")
    return objective


def check_objective(objective: Any) -> None:
    """A user's objective has a short `name` of its own and callable `d_loss` and `g_loss`; else a UsageError."""
    name = getattr(objective, "name", None)
    if not all(callable(getattr(objective, f, None)) for f in ("d_loss", "g_loss")):
        raise UsageError("objective must have d_loss(real_scores, fake_scores) and g_loss(fake_scores) methods "
                         "and a name (see vanilla_gan.gan.algorithm)")
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not name.isprintable():
        raise UsageError("objective must have a name: a line of 1 to 64 characters (config.json records it)")
    if name in G_LOSSES:
        raise UsageError(f"objective's name {name!r} is the built-in objective's: choose it with g_loss= and "
                         f"real_label=, or give yours another name")


class DInputs:
    """What D sees, for both of its inputs alike (real and generated): DiffAugment's translation and cutout
    (Zhao et al. 2020; differentiable, so G learns through them) and Gaussian instance noise of std `sigma`
    (which the Trainer anneals). Images (B, H, W[, C]) or flat (B, H*W*C) in (-1, 1) keep their shape.

        view = DInputs((28, 28), ["translation", "cutout"], sigma=0.1)
        seen = view(images)                        # what D scores
    """

    def __init__(self, shape: Sequence[int], augments: Sequence[str] = (), sigma: float = 0.0):
        self.shape, self.augments, self.sigma = tuple(shape), tuple(augments), sigma

    def __bool__(self) -> bool:
        return bool(self.augments) or self.sigma > 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.reshape(images.shape[0], self.shape[0], self.shape[1], -1)  # (B, H, W, C)
        if "translation" in self.augments:
            x = translate(x)
        if "cutout" in self.augments:
            x = cutout(x)
        if self.sigma > 0:
            x = x + self.sigma * torch.randn_like(x)
        return x.reshape(images.shape)


def translate(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Each image (B, H, W, C) shifted by its own whole number of pixels, up to `ratio` of each side either way,
    the uncovered border filled with -1 (black)."""
    b, h, w, _ = x.shape
    dy, dx = (torch.randint(-int(side * ratio + 0.5), int(side * ratio + 0.5) + 1, (b, 1), device=x.device)
              for side in (h, w))
    pad_h, pad_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    padded = F.pad(x, (0, 0, pad_w, pad_w, pad_h, pad_h), value=-1.0)  # (B, H + 2p, W + 2p, C)
    rows = (torch.arange(h, device=x.device) + pad_h + dy)[:, :, None]  # (B, H, 1)
    cols = (torch.arange(w, device=x.device) + pad_w + dx)[:, None, :]  # (B, 1, W)
    return padded[torch.arange(b, device=x.device)[:, None, None], rows, cols]


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Each image (B, H, W, C) with a square of `ratio` of its sides, at its own random centre, set to -1."""
    b, h, w, _ = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + 1 - size_h % 2, (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + 1 - size_w % 2, (b, 1, 1), device=x.device)
    top, left = cy - size_h // 2, cx - size_w // 2  # the square's corner; it may hang over the border
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)  # (B, H, W)
    return torch.where(inside[..., None], torch.full_like(x, -1.0), x)


@dataclass
class GAN:
    """What a step updates: G and D as the step calls them, their optimizers, and the objective.

    `G` maps z (B, latent_dim) to images; `D` maps images to scores (B,) for D's update (DDP-wrapped under
    torchrun), `D(images, 2)` scoring each half of a batch in its own pass where D has batch statistics
    (models.Scores); `D_plain` is D's scores without a wrapper, for G's update (nothing of D is averaged there).
    `autocast` is the forward passes' context (bf16 under --precision bf16). `view` is what D sees of every
    image it scores (augmentation, instance noise; identity by default); `r1` the weight of the R1 penalty on real
    images in this step's d_loss (gamma/2 x K on lazy steps, 0 on the others: the Trainer sets it)."""

    G: Callable[[torch.Tensor], torch.Tensor]
    D: Callable[..., torch.Tensor]
    D_plain: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    objective: Objective = field(default_factory=BCEObjective)
    autocast: Callable[[], AbstractContextManager] = nullcontext
    view: Callable[[torch.Tensor], torch.Tensor] | None = None
    r1: float = 0.0


class StepStats(NamedTuple):
    """What a step reports, each a 0-d tensor left on the device (read back every --log-every steps)."""

    loss_d: torch.Tensor  # D's loss (without the R1 penalty)
    loss_g: torch.Tensor  # G's loss
    d_real: torch.Tensor  # mean D(x): D's probability that the real images are real
    d_fake: torch.Tensor  # mean D(G(z)) before G's update


def gan_step(gan: GAN, real: torch.Tensor, z: torch.Tensor) -> StepStats:
    """One iteration of Algorithm 1 with k = 1 on m real images (B, pixels) in (-1, 1) and m noise vectors z
    (B, latent_dim): D's update, then G's. G's update reuses the G(z) that D was just trained on, as pytorch/examples'
    dcgan does, where the paper draws new noise: the same distribution, one forward of G fewer.

    tests/test_trainer.py's `reference_step` writes the same step plainly (Sigmoid + BCELoss, two D passes)
    and checks that this one gives the same weights."""
    # Update D by ascending log D(x) + log(1 - D(G(z))): descending BCE with real = 1, generated = 0.
    with gan.autocast():
        fake = gan.G(z)  # (B, H, W[, 3])
        real_scores, fake_scores, penalty = score_real_and_fake(gan, real, fake.detach())
        loss_d = gan.objective.d_loss(real_scores, fake_scores)
    gan.opt_d.zero_grad(set_to_none=True)
    (loss_d + penalty if penalty is not None else loss_d).backward()
    gan.opt_d.step()

    # Update G by descending -log D(G(z)) (non-saturating; minimax: log(1 - D(G(z)))), back-propagated through
    # the updated D, whose weights are held (no gradient for them).
    with held(gan.D_plain), gan.autocast():
        loss_g = gan.objective.g_loss(gan.D_plain(gan.view(fake) if gan.view else fake))
    gan.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    gan.opt_g.step()

    with torch.no_grad():
        return StepStats(loss_d.detach(), loss_g.detach(), torch.sigmoid(real_scores).mean(),
                         torch.sigmoid(fake_scores).mean())


def score_real_and_fake(gan: GAN, real: torch.Tensor, fake: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """D's scores of the real images and of the generated ones, as D sees them (`gan.view`), and the weighted R1
    penalty on the real ones (None when off this step). Both halves go through D as one batch: one pass where D
    has no batch statistics (its dropout is drawn element by element, so this is two passes' computation with
    larger matrix products), one pass each where it has (models.Scores)."""
    seen = torch.cat([real, fake.reshape(real.shape)])  # (2B, pixels)
    seen = gan.view(seen) if gan.view else seen
    if gan.r1:
        seen.requires_grad_(True)
    scores = gan.D(seen, 2)  # (2B,)
    real_scores, fake_scores = scores[:real.shape[0]], scores[real.shape[0]:]
    return real_scores, fake_scores, gan.r1 * r1_penalty(real_scores, seen) if gan.r1 else None


def r1_penalty(real_scores: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """E |grad_x D(x)|^2 over the real images, from D's scores of the batch `seen` (real rows first) that they
    were computed from (it requires grad); kept in the graph so that D's update descends it."""
    grad, = torch.autograd.grad(real_scores.sum(), seen, create_graph=True)
    return grad[:real_scores.shape[0]].pow(2).reshape(real_scores.shape[0], -1).sum(1).mean()


@contextmanager
def held(network: nn.Module) -> Iterator[None]:
    """`network`'s parameters need no gradient inside; each gets back its own requires_grad after (a weight the
    user froze stays frozen), on an exception too."""
    params = list(network.parameters())
    wanted = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, wanted, strict=True):
            p.requires_grad_(flag)


def update_d(gan: GAN, real: torch.Tensor, z: torch.Tensor) -> None:
    """An update of D alone, on m real images and G(z): Algorithm 1's first k - 1 updates of D (--d-steps)."""
    with gan.autocast(), torch.no_grad():
        fake = gan.G(z)
    with gan.autocast():
        real_scores, fake_scores, penalty = score_real_and_fake(gan, real, fake)
        loss_d = gan.objective.d_loss(real_scores, fake_scores)
    gan.opt_d.zero_grad(set_to_none=True)
    (loss_d + penalty if penalty is not None else loss_d).backward()
    gan.opt_d.step()


def iteration(gan: GAN, reals: Sequence[torch.Tensor], noise: Callable[[], torch.Tensor],
              step: Callable[[torch.Tensor, torch.Tensor], StepStats] | None = None) -> StepStats:
    """One training iteration of Algorithm 1 with k = len(reals) (--d-steps): k - 1 updates of D alone, each on its
    own minibatch and fresh noise (`noise()` draws z), then `step` (default `gan_step`; on one GPU its CUDA graph's
    replay) on the last. Returns the step's statistics."""
    for real in reals[:-1]:
        update_d(gan, real, noise())
    return (step or functools.partial(gan_step, gan))(reals[-1], noise())
