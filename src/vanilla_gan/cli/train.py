"""`vanilla-gan train`: train a GAN into a run folder (api/session.py does the work).

    vanilla-gan train --epochs 8 --seed 1 --out runs/try
    vanilla-gan train --out runs/try --resume --epochs 16
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from tqdm.auto import tqdm

from vanilla_gan.api.session import Training
from vanilla_gan.cli.common import (
    common_options,
)
from vanilla_gan.cli.options import folder_path, train_options
from vanilla_gan.config import (
    MAX_EPOCHS,
    MODEL_OPTIONS,
    TRAIN_OPTIONS,
)
from vanilla_gan.data.arrays import shape_words
from vanilla_gan.errors import Interrupted, TrainingError
from vanilla_gan.training import distributed
from vanilla_gan.training.optim import cooled_lr


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", parents=[common_options(), train_options()],
                              help="train a GAN into a run folder",
                              description="Train the classic MLP GAN of the 'GANs from scratch' tutorials with the "
                                          "original GAN's algorithm (Goodfellow et al., 2014) on handwritten digits; "
                                          "every epoch writes a grid, a metrics line and checkpoints/last.pt. "
                                          "Ctrl-C saves and stops; --resume continues.")
    p.add_argument("--out", type=folder_path, help="run folder (default: runs/run-YYYYmmdd-HHMMSS)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--tensorboard", action="store_true",
                   help="also log scalars and the grid per epoch to RUN/tensorboard (needs vanilla-gan[tensorboard])")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (only a folder holding a run of this package)")
    p.add_argument("--no-report", action="store_true",
                   help="do not write report.html when training ends (this session only: a later --resume writes "
                        "it unless given again)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train, or resume; under torchrun every process runs this, and rank 0 alone prints and writes."""
    options = {k: v for k, v in vars(args).items() if k in MODEL_OPTIONS + TRAIN_OPTIONS and v is not None}
    with distributed.session(args.device or "auto"):
        main = distributed.is_main()
        say = print if main else (lambda *_, **__: None)
        session = Training(out=args.out, resume=args.resume, overwrite=args.overwrite, report=not args.no_report,
                           tensorboard=args.tensorboard,
                           log=lambda line: tqdm.write(line, file=sys.stdout), recipe=args.recipe, **options)
        trainer, out = session.trainer, session.run_dir.path
        for warning in session.warnings if main else []:
            print(f"warning: {warning}", file=sys.stderr)
        if session.nothing_to_do:
            session.close()
            done = session.epochs_done
            say(f"{out} already has {done} epochs; pass --epochs N (more than {done}) to train further")
            return 0
        if session.started_over:
            say(f"{out} has no checkpoint yet (it stopped before its first epoch ended): starting it over with its "
                f"configuration (seed {trainer.config.seed})", flush=True)
        elif args.resume:
            say(f"resuming {out} at epoch {trainer.epoch + 1}, step {trainer.step} (seed {trainer.config.seed})",
                flush=True)
        else:
            if session.seed_drawn:
                say(f"seed {trainer.config.seed} (pass --seed {trainer.config.seed} to repeat this run)", flush=True)
            processes = f" x {trainer.world} processes" if trainer.world > 1 else ""
            epochs, minutes = trainer.config.epochs, trainer.config.minutes
            length = f"{epochs} epoch{'s' if epochs != 1 else ''}" if minutes is None else (
                f"{minutes:g} minute{'s' if minutes != 1 else ''} of training"
                + (f" or {epochs} epoch{'s' if epochs != 1 else ''}" if epochs < MAX_EPOCHS else ""))
            d_steps = f" ({trainer.config.d_steps} D updates each)" if trainer.config.d_steps > 1 else ""
            say(f"training on {trainer.num_images:,} {shape_words(trainer.model_config.shape)} images, "
                f"{trainer.steps_per_epoch} steps of "
                f"{trainer.config.batch_size}{processes}{d_steps} per epoch, {length} on {trainer.device}; run "
                f"folder {out}", flush=True)
        try:
            session.run()
        except Interrupted as stop:
            if main:
                print(stop, file=sys.stderr)
            return stop.exit_code
        except TrainingError:  # the losses became non-finite: the report says so, then the error line
            if session.report is not None:
                print(session.report.summary())
            raise
        if trainer.world > 1:
            say(f"the {trainer.world} replicas' weights are identical (SHA-256 {trainer.replicas_sha256[:16]}…)")
        epochs = f"{trainer.epoch} epoch{'s' if trainer.epoch != 1 else ''}"
        last = session.run_dir.grid_path(trainer.epoch)
        say(f"done: {epochs} in {trainer.elapsed:.0f} s of training; last grid {last}\n"
            f"more {'digits' if trainer.model_config.shape == (28, 28) else 'images'}: vanilla-gan sample "
            f"{shlex.quote(str(out))} -n 64 -o samples.png")
        if cut := cooldown_cut(trainer):
            say(f"note: {cut}")
        if main and session.report is not None:
            print(session.report.summary())
        if main and session.report_error:
            print(f"warning: {session.report_error}", file=sys.stderr)
    return 0


def cooldown_cut(trainer: Any) -> str | None:
    """What a time budget cut short: a run under --lr-cooldown whose budget ran out before its cooldown ended (the
    machine ran slower than its pace so far, after the plan was fixed); else None."""
    config = trainer.config
    if not config.lr_cooldown or config.minutes is None or trainer.step == 0:
        return None
    rate = float(trainer.opt_g.param_groups[0]["lr"]) / config.lr  # the last step's rate, as a share of the full
    if rate <= cooled_lr(config, trainer.step - 1, trainer.step) / config.lr * (1 + 1e-6):  # a plan's own last step
        return None
    return (f"the {config.minutes:g}-minute budget ran out before the learning rate's cooldown ended (the machine "
            f"ran slower than its pace so far): the last step trained at {rate:.0%} of the full rate")
