"""Which moving average of G's weights samples best? Several averages kept beside one training run, paired.

    python experiments/ema_decays.py --seeds 1,2,3 --out /tmp/ema-study      # one default run per seed, at once
    python experiments/ema_decays.py --out /tmp/ema-study --summary          # the table of finished seeds

The average changes no training step, so every decay is measured on the very same run (a paired comparison,
at no extra training time): each seed trains the default recipe once (`Trainer`, no run folder) while the
averages below follow G after every step; at the end each is evaluated on 10,000 samples (the project's
evaluator, noise seed 0) and the result saved as SEED.json (the averaged weights as SEED.pt). The arms:
a constant decay (0.999 ... 0.9999; the trainer's own average is the default `--ema-decay`), G itself (no
average), and a decay that grows over the run, the power-function average of Karras et al. (2024): after
step t, decay (1 - 1/t)^(gamma + 1), an average over the last fraction of the run whose width grows with t
(gamma 2, 6.94 and 16.97: a relative width of 0.19, 0.10 and 0.05 of the run). Seeds run as parallel processes, one
thread each. Prints one Markdown row per arm: the median over the seeds with min-max, and on how many seeds
the arm beat the default. --batch-size, --epochs, --betas, --real-label, --g-loss and --dropout change the run
every arm follows; --eval-epochs 96,110 also scores the trainer's own average at those epochs, which is where a
run of --epochs 96 or 110 ends (no schedule depends on the run's length unless --lr-cooldown is given, which this
script does not).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from vanilla_gan.cli.options import float_pair
from vanilla_gan.config import G_LOSSES, ModelConfig, TrainConfig
from vanilla_gan.data import limit_images, load_dataset
from vanilla_gan.evaluation.evaluator import Evaluator
from vanilla_gan.gan.models import MovingAverage
from vanilla_gan.training.trainer import Trainer

CONSTANT = (0.999, 0.9998, 0.9999)
POWER = (2.0, 6.94, 16.97)
METRICS = ("c2st_accuracy", "fid", "inception_score", "precision", "recall")


class PowerAverage(MovingAverage):
    """The power-function EMA: decay (1 - 1/t)^(gamma + 1) after step t (counted from 1)."""

    def __init__(self, module: torch.nn.Module, gamma: float):
        super().__init__(module, 0.0)
        self.gamma = gamma

    def weight(self, step: int) -> float:
        return 1 - (1 - 1 / (step + 1)) ** (self.gamma + 1)


def overrides(args: argparse.Namespace) -> dict[str, object]:
    """The TrainConfig fields given on the command line: the run every arm follows."""
    given = {"epochs": args.epochs, "batch_size": args.batch_size, "real_label": args.real_label, "g_loss": args.g_loss,
             "betas": args.betas}
    return {field: value for field, value in given.items() if value is not None}


def train_one(seed: int, args: argparse.Namespace) -> None:
    out = args.out
    constant = tuple(float(d) for d in args.decays.split(",") if d)
    power = tuple(float(g) for g in args.gammas.split(",") if g)
    eval_epochs = {int(e) for e in args.eval_epochs.split(",")} if args.eval_epochs else set()
    images = limit_images(load_dataset("digits")[0], args.limit)  # as --limit: spread over every class
    model = ModelConfig() if args.dropout is None else ModelConfig(dropout=args.dropout)
    trainer = Trainer(model, TrainConfig(seed=seed, eval_every=0, **overrides(args)), images, progress=False)
    default = f"ema {trainer.config.ema_decay:g} (default)"
    averages = {f"ema {d:g}": MovingAverage(trainer.G, d) for d in constant if d != trainer.config.ema_decay}
    averages |= {f"power gamma {g:g}": PowerAverage(trainer.G, g) for g in power}
    evaluator = Evaluator("digits", num_samples=10_000)
    at_epoch = {}

    def after_step(trainer: Trainer) -> None:
        for average in averages.values():
            average.update(trainer.step)  # the step's number, as the trainer's own average gets it
        epoch, within = divmod(trainer.step, trainer.steps_per_epoch)
        if within == 0 and epoch in eval_epochs:  # the trainer's average as a run of --epochs EPOCH ends
            record = evaluator(trainer.G_ema, two_sample=True)  # moves no random generator
            at_epoch[epoch] = {key: float(record[key]) for key in METRICS}
            print(f"seed {seed} epoch {epoch}: two-sample {record['c2st_accuracy']:.3f}", flush=True)

    trainer.step_hooks.append(after_step)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start  # with the --eval-epochs evaluations
    generators = {default: trainer.G_ema, "no average (G)": trainer.G,
                  **{name: average.module for name, average in averages.items()}}
    results = {"seed": seed, "train_s": seconds, "steps": trainer.step, "arms": {}, "at_epoch": at_epoch}
    for name, generator in generators.items():
        generator.eval()
        record = evaluator(generator, two_sample=True)
        results["arms"][name] = {key: float(record[key]) for key in METRICS}
        print(f"seed {seed} {name}: two-sample {record['c2st_accuracy']:.3f} FID {record['fid']:.2f}", flush=True)
    torch.save({name: g.state_dict() for name, g in generators.items()}, out / f"{seed}.pt")
    (out / f"{seed}.json").write_text(json.dumps(results, indent=1))


def summary(out: Path) -> None:
    runs = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    if not runs:
        print("no finished seed yet")
        return
    arms = list(runs[0]["arms"])
    default = next(a for a in arms if a.endswith("(default)"))
    print(f"seeds {', '.join(str(r['seed']) for r in runs)}; median (min-max); "
          f"'beats' = seeds where the two-sample accuracy < default's")
    print("| average | " + " | ".join(METRICS) + " | beats default |")
    print("|---|" + "---|" * (len(METRICS) + 1))
    for arm in arms:
        cells = [_cell([r["arms"][arm][key] for r in runs], key) for key in METRICS]
        beats = sum(r["arms"][arm]["c2st_accuracy"] < r["arms"][default]["c2st_accuracy"] for r in runs)
        print(f"| {arm} | " + " | ".join(cells) + f" | {'-' if arm == default else f'{beats}/{len(runs)}'} |")
    epochs = sorted({int(e) for r in runs for e in r.get("at_epoch", {})})
    if epochs:
        print("\nthe trainer's average at earlier epochs (the end of a run of --epochs E):")
        print("| epoch | " + " | ".join(METRICS) + " |")
        print("|---|" + "---|" * len(METRICS))
        for epoch in epochs:
            rows = [r["at_epoch"][str(epoch)] for r in runs if str(epoch) in r.get("at_epoch", {})]
            print(f"| {epoch} | " + " | ".join(_cell([row[key] for row in rows], key) for key in METRICS) + " |")


def _cell(values: list[float], key: str) -> str:
    fmt = "{:.3f}" if key in ("precision", "recall", "c2st_accuracy") else "{:.2f}"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated (default: 1,2,3)")
    parser.add_argument("--out", type=Path, default=Path("runs/ema-decays"))
    parser.add_argument("--summary", action="store_true", help="only print the table of finished seeds")
    parser.add_argument("--epochs", type=int, help="default: the default run's")
    parser.add_argument("--limit", type=int, help="train on N digits spread over every class, as --limit (a quick try)")
    parser.add_argument("--dropout", type=float, help="D's dropout (default: the model's 0.3)")
    parser.add_argument("--batch-size", type=int, help="default: the default run's")
    parser.add_argument("--betas", type=float_pair, help="Adam's betas as B1,B2 (default: the default run's)")
    parser.add_argument("--real-label", type=float, help="D's target for real images (default: the default run's)")
    parser.add_argument("--g-loss", choices=G_LOSSES, help="G's loss (default: the default run's)")
    parser.add_argument("--decays", default=",".join(map(str, CONSTANT)), help="constant decays (comma-separated)")
    parser.add_argument("--gammas", default=",".join(map(str, POWER)), help="power-average gammas (comma-separated)")
    parser.add_argument("--eval-epochs", help="also evaluate the trainer's average at these epochs (comma-separated)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: train this seed
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.one is not None:
        train_one(args.one, args)
        return
    if not args.summary:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        children = [subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--one", seed], env=env)
                    for seed in args.seeds.split(",") if not (args.out / f"{seed}.json").exists()]
        for child in children:
            child.wait()
    summary(args.out)


if __name__ == "__main__":
    main()
