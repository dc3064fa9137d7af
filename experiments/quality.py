"""Time to quality: train a recipe on the embedded digits and evaluate it after given minutes of training.

    python experiments/quality.py                                    # the defaults, at 2, 5 and 10 minutes
    python experiments/quality.py --batch-size 100 --betas 0.9,0.999 --ema-decay 0   # the tutorial's settings
    python experiments/quality.py --minutes 1,3 --batch-size 32
    python experiments/quality.py --at-epochs 50,100 --batch-size 16 --device cuda --seed 2   # marks in epochs

Minutes count training steps only (evaluation and checkpoint time are excluded); each evaluation happens at
the first epoch boundary past its mark, with `vanilla-gan evaluate`'s metrics on 10,000 samples. Prints one
Markdown table row per mark and writes the run folder --out (a new one) for a look at its grids.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.evaluation.evaluator import Evaluator
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.training.trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="2,5,10", help="marks, in minutes of training (default: 2,5,10)")
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--betas", default=",".join(map(str, TrainConfig.betas)))
    parser.add_argument("--ema-decay", type=float, default=TrainConfig.ema_decay)
    parser.add_argument("--precision", default=TrainConfig.precision)
    parser.add_argument("--at-epochs", help="marks in epochs instead of minutes (e.g. 50,100): device-independent")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu; minutes are this CPU's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/quality"))
    args = parser.parse_args()

    by_epoch = args.at_epochs is not None
    marks = ([int(m) for m in args.at_epochs.split(",")] if by_epoch
             else [float(m) * 60 for m in args.minutes.split(",")])
    config = TrainConfig(batch_size=args.batch_size, betas=tuple(float(b) for b in args.betas.split(",")),
                         ema_decay=args.ema_decay, precision=args.precision, seed=args.seed, epochs=1, eval_every=0,
                         device=args.device)
    trainer = Trainer(ModelConfig(), config, load_dataset("digits")[0], RunDir(args.out),
                      evaluate=Evaluator("digits", args.device, 10_000))
    print(f"batch {config.batch_size}, betas {config.betas}, ema {config.ema_decay}, {config.precision}, "
          f"seed {config.seed}", flush=True)
    print("| minutes | epoch | FID | KID | IS | modes | min class | precision | recall | Parzen |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    results = []
    while marks:
        trainer.config.epochs = trainer.epoch + 1  # what the checkpoint records: the epochs trained so far
        trainer.train_epoch()
        if (trainer.epoch if by_epoch else trainer.elapsed) >= marks[0]:
            marks.pop(0)
            m = trainer.evaluate()
            results.append({"minutes": trainer.elapsed / 60, "epoch": trainer.epoch, **m})
            print(f"| {trainer.elapsed / 60:.1f} | {trainer.epoch} | {m['fid']:.2f} | {m['kid']:.3f} | "
                  f"{m['inception_score']:.2f} | {m['modes']} | {min(m['class_histogram']):.1%} | "
                  f"{m['precision']:.3f} | {m['recall']:.3f} | {m['parzen_ll']:.1f} ± {m['parzen_se']:.1f} |",
                  flush=True)
    (args.out / "quality.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
