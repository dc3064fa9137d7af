"""Screen levers against the two-sample test on one seed, before spending 3 seeds on them.

    python experiments/screen_levers.py select RUN/checkpoints/last.pt   # keep what D or the classifier likes
    python experiments/screen_levers.py branch RUN/checkpoints/last.pt cooldown   # 32 more epochs under a change
    python experiments/screen_levers.py scratch minimax --seed 1                  # a default run with one change

`select` draws 40,000 digits of the run's moving average and keeps the fraction (--keep) that the run's own D
scores most real (D's rejection sampling, Azadi et al. 2019, in its simplest form) or that the bundled digit
classifier is surest of (a cut of the broken tail). `branch` continues a finished run for --epochs more under
one change (BRANCH_ARMS) and `scratch` trains a default run from the start with one change (SCRATCH_ARMS);
the arm "plain" or "base" is the baseline to compare with, in the same sitting. Each scores 10,000 samples
of the moving average (noise seed 0) and prints one JSON line: two-sample accuracy (and its two classifier
seeds' spread), FID, precision, recall and the range of the class shares. One thread each: run two at once on
2 cores. Nothing here changes the package: the arms use the Trainer's public seams (`step_hooks`,
`batch_transform`, `trainer.gan`, the optimizers).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
import torch

from vanilla_gan.cli.options import float_pair
from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.data.images import to_uint8
from vanilla_gan.evaluation.classifier import extract, load_evaluator
from vanilla_gan.evaluation.evaluator import compute_metrics
from vanilla_gan.gan.algorithm import BCEObjective
from vanilla_gan.gan.models import Discriminator
from vanilla_gan.gan.sampling import sample_images
from vanilla_gan.runs.checkpoint import load_generator
from vanilla_gan.runs.rundir import load_checkpoint
from vanilla_gan.training.trainer import Trainer

BRANCH_ARMS = {
    "plain": "the same recipe, for comparison",
    "g-cooldown": "G's learning rate falls linearly to 0 over the added epochs (D's stays)",
    "cooldown": "both learning rates fall linearly to 0 over the added epochs",
}
SCRATCH_ARMS = {
    "base": "the default run, for comparison",
    "zero-g-output": "G's output layer starts at 0 (no initial noise in each pixel's weights)",
    "small-d-input": "D's first layer starts at a tenth of PyTorch's initial weights",
    "weight-decay-g": "decoupled weight decay 1.0 on G's weight matrices (as AdamW, lr x 1.0 a step)",
    "minimax": "G's literal minimax loss (--g-loss minimax) from the start",
    "hybrid": "G's non-saturating loss until --switch-epoch (default: half the epochs), the minimax loss after",
    "top-k": "G's loss over the k of each batch's B fakes D scores most real, k = max(B x 0.99^epoch, B/2) "
             "(Sinha et al. 2020)",
    "adam-eps": "Adam's epsilon --eps (PyTorch's: 1e-8) for both networks: damps the steps of weights whose "
                "gradients are tiny",
    "replay": "half of D's fakes drawn from a store of 1,600 earlier ones (Shrivastava et al. 2017)",
    "squeezed": "real pixels scaled to [-0.95, 0.95] instead of [-1, 1] (G's Tanh need not saturate), samples "
                "scaled back",
}
SQUEEZE = 0.95


def score(generator: torch.nn.Module, images: torch.Tensor, **row: object) -> dict:
    """The figures of 10,000 samples of `generator` (noise seed 0) against the embedded digits, as one row."""
    return score_images(sample_images(generator, 10_000, seed=0), images, **row)


def score_images(generated: np.ndarray, images: torch.Tensor, **row: object) -> dict:
    with torch.random.fork_rng(devices=[]):  # the metrics draw from torch's RNG: a run scored midway goes on unmoved
        m = compute_metrics(generated, images, two_sample=True)
    shares = np.asarray(m["class_histogram"])
    return {**row, **{k: round(float(m[k]), 4) for k in ("c2st_accuracy", "c2st_spread", "fid", "precision", "recall")},
            "class_min": float(shares.min()), "class_max": float(shares.max())}


def show(row: dict) -> None:
    print(json.dumps(row), flush=True)


# ---------------------------------------------------------------------------- select

def select(path: str, keeps: list[float], images: torch.Tensor) -> None:
    with torch.no_grad():
        generated, by_d, by_classifier = ranked_samples(path)
    for name, order in (("D's score", by_d), ("classifier's sureness", by_classifier)):
        for keep in keeps:
            kept = np.sort(order[:int(keep * len(order))])[:10_000]  # in z's order, not the score's
            show(score_images(generated[kept], images, checkpoint=path, kept_by=name, keep=keep))


def ranked_samples(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """40,000 digits of the checkpoint's moving average (noise seed 0), and their orders: most real to D first,
    and surest to the bundled classifier first."""
    state = load_checkpoint(path)
    generator = load_generator(state).eval()
    discriminator = Discriminator(generator.config)
    discriminator.load_state_dict(state["discriminator"])
    discriminator.eval()  # no dropout: D's plain judgement
    z = torch.randn(40_000, generator.config.latent_dim, generator=torch.Generator().manual_seed(0))
    fake = torch.cat([generator(part) for part in z.split(2000)])  # (40000, 28, 28) in (-1, 1)
    generated = to_uint8(fake)
    by_d = torch.cat([discriminator.logits(part) for part in fake.split(2000)]).argsort(descending=True).numpy()
    sureness = extract(load_evaluator(), generated)[1].softmax(1).max(1).values
    return generated, by_d, sureness.argsort(descending=True).numpy()


# ---------------------------------------------------------------------------- branch

def branch(path: str, arm: str, epochs: int, images: torch.Tensor) -> None:
    state = load_checkpoint(path)
    start = state["epoch"]
    trainer = Trainer.resume(state, images, changes={"epochs": start + epochs, "threads": 1}, progress=False)
    first, total, lr = trainer.step, epochs * trainer.steps_per_epoch, trainer.config.lr
    cooled = {"g-cooldown": [trainer.opt_g], "cooldown": [trainer.opt_g, trainer.opt_d]}.get(arm, [])

    def cool(trainer: Trainer) -> None:  # after step t: the rate of step t + 1
        for optimizer in cooled:
            for group in optimizer.param_groups:
                group["lr"] = lr * (1 - (trainer.step + 1 - first) / total)

    trainer.step_hooks.append(cool)
    began = time.perf_counter()
    while trainer.epoch < start + epochs:
        trainer.train_epoch()
    show(score(trainer.sampling_generator(), images, checkpoint=path, arm=arm, epochs_added=epochs,
               train_s=round(time.perf_counter() - began)))


# ---------------------------------------------------------------------------- scratch

class TopK:
    """The objective with G's loss taken over the k fakes of the batch that D scores most real."""

    def __init__(self, objective: BCEObjective, k: int):
        self.objective, self.k = objective, k

    def d_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return self.objective.d_loss(real_scores, fake_scores)

    def g_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return self.objective.g_loss(fake_scores.topk(self.k).values)


class Replay(torch.nn.Module):
    """D's scores, with half of the fake half of each batch swapped for fakes of earlier steps (kept in a store
    of `size`, each new fake replacing a random one); its own random generator, so the run's draws are unmoved."""

    def __init__(self, scores: Callable[[torch.Tensor], torch.Tensor], size: int = 1600):
        super().__init__()
        self.scores, self.size, self.store = scores, size, None
        self.rng = torch.Generator().manual_seed(0)

    def forward(self, both: torch.Tensor) -> torch.Tensor:
        half = both.shape[0] // 2
        fake = both[half:]
        if self.store is None:
            self.store = fake.repeat(self.size // half + 1, 1)[:self.size].clone()
        n = half // 2
        mixed = torch.cat([both[:half], fake[n:], self.store[torch.randint(self.size, (n,), generator=self.rng)]])
        self.store[torch.randint(self.size, (half,), generator=self.rng)] = fake
        return self.scores(mixed)


class Unsqueezed(torch.nn.Module):
    """G's samples scaled back from [-SQUEEZE, SQUEEZE] to [-1, 1]."""

    def __init__(self, generator: torch.nn.Module):
        super().__init__()
        self.generator, self.config = generator, generator.config

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.generator(z) / SQUEEZE).clamp(-1, 1)


def scratch(arm: str, seed: int, epochs: int, evals: list[int], images: torch.Tensor,
            switch_epoch: int | None = None, eps: float = 1e-4, betas: tuple[float, float] | None = None) -> None:
    g_loss = "minimax" if arm == "minimax" else "non-saturating"
    config = TrainConfig(seed=seed, epochs=epochs, threads=1, g_loss=g_loss, betas=betas or TrainConfig.betas)
    trainer = Trainer(ModelConfig(), config, images, progress=False)
    g_output = [m for m in trainer.G.modules() if isinstance(m, torch.nn.Linear)][-1]
    d_input = next(m for m in trainer.D.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        if arm == "zero-g-output":
            g_output.weight.zero_(), g_output.bias.zero_()
        if arm == "small-d-input":
            d_input.weight.mul_(0.1)
        trainer.ema.module.load_state_dict(trainer.G.state_dict())  # the average starts from the changed G
    decayed = [p for p in trainer.G.parameters() if p.dim() > 1] if arm == "weight-decay-g" else []

    def decay(trainer: Trainer) -> None:  # after each step, as AdamW's decoupled decay (one step later)
        with torch.no_grad():
            torch._foreach_mul_(decayed, 1 - trainer.config.lr * 1.0)

    if decayed:
        trainer.step_hooks.append(decay)
    batch = trainer.config.batch_size
    if arm == "top-k":
        trainer.gan.objective = TopK(trainer.gan.objective, batch)
    if arm == "adam-eps":
        for group in trainer.opt_g.param_groups + trainer.opt_d.param_groups:
            group["eps"] = eps
    if arm == "replay":
        trainer.gan.D = Replay(trainer.gan.D)
    if arm == "squeezed":
        trainer.batch_transform = lambda real: real.mul_(SQUEEZE)
    began = time.perf_counter()
    while trainer.epoch < epochs:
        trainer.train_epoch()
        if arm == "hybrid" and trainer.epoch == (epochs // 2 if switch_epoch is None else switch_epoch):
            trainer.gan.objective = BCEObjective("minimax")
        if arm == "top-k":
            trainer.gan.objective.k = max(round(batch * 0.99 ** trainer.epoch), batch // 2)
        if trainer.epoch in evals or trainer.epoch == epochs:
            sampler = Unsqueezed(trainer.sampling_generator()) if arm == "squeezed" else trainer.sampling_generator()
            show(score(sampler, images, arm=arm, seed=seed, epoch=trainer.epoch,
                       betas=list(config.betas), **({"eps": eps} if arm == "adam-eps" else {}),
                       train_s=round(time.perf_counter() - began)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("select", help="keep the samples D or the classifier likes best")
    p.add_argument("checkpoint")
    p.add_argument("--keep", default="1,0.5,0.25", help="fractions of 40,000 samples to keep (default: 1,0.5,0.25)")
    p = commands.add_parser("branch", help="continue a run under one change: " + "; ".join(
        f"{k}: {v}" for k, v in BRANCH_ARMS.items()))
    p.add_argument("checkpoint")
    p.add_argument("arm", choices=BRANCH_ARMS)
    p.add_argument("--epochs", type=int, default=32, help="epochs added (default: 32)")
    p = commands.add_parser("scratch", help="a default run with one change: " + "; ".join(
        f"{k}: {v}" for k, v in SCRATCH_ARMS.items()))
    p.add_argument("arm", choices=SCRATCH_ARMS)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=112)
    p.add_argument("--eval-epochs", default="56,84", help="also score at these epochs (default: 56,84)")
    p.add_argument("--switch-epoch", type=int, help="hybrid: the last epoch of the non-saturating loss")
    p.add_argument("--eps", type=float, default=1e-4, help="adam-eps: Adam's epsilon (default: 1e-4)")
    p.add_argument("--betas", type=float_pair, help="Adam's betas as B1,B2, with any arm (default: the default run's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = load_dataset("digits")[0]
    print(json.dumps({"cpu": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__}), flush=True)
    if args.command == "select":
        select(args.checkpoint, [float(k) for k in args.keep.split(",")], images)
    elif args.command == "branch":
        branch(args.checkpoint, args.arm, args.epochs, images)
    else:
        scratch(args.arm, args.seed, args.epochs, [int(e) for e in args.eval_epochs.split(",") if e], images,
                args.switch_epoch, args.eps, args.betas)


if __name__ == "__main__":
    main()
