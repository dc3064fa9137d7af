"""The `vanilla-gan` command line: `train`, `sample`, `evaluate`, `report`, `export`, `sweep` (sweep.py) and
`explore` (explore.py).

    vanilla-gan train --epochs 2 --seed 1 --out runs/try
    vanilla-gan train --out runs/try --resume --epochs 4
    vanilla-gan sample runs/try -n 1000 -o digits.npy
    vanilla-gan sample runs/try --interpolate -o walk.gif      # also walk.png
    vanilla-gan evaluate runs/try --json
    vanilla-gan report runs/try                                # runs/try/report.html
    vanilla-gan export runs/try --format onnx -o generator.onnx
    vanilla-gan sweep --seeds 1-5 --set batch_size=8,32 --epochs 10 --out sweeps/bs
    vanilla-gan sample --pretrained -n 64 -o digits.png      # the shipped weights: no training
    vanilla-gan explore runs/try -o page.html                  # G and D in the browser

This module only parses, prints and maps errors: the work is done by the Python API (`api.Training`) and
the modules it names. Errors the user can act on are printed as one `error:` line with the exit status of
their type (errors.py): 2 for bad usage or input, 1 for other failures, 130 when interrupted. `--debug`
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from vanilla_gan import distributed, evaluate, sweep
from vanilla_gan._version import __version__
from vanilla_gan.api import MODEL_OPTIONS, TRAIN_OPTIONS, Training
from vanilla_gan.checkpoint import load_generator
from vanilla_gan.classifier import DIGIT_CONFIDENCE, check_digit_data, rebuild_evaluator, select_digits
from vanilla_gan.config import (
    DEVICES,
    MAX_EPOCHS,
    MAX_EVAL_SAMPLES,
    MAX_GRID,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_THREADS,
    MAX_WALKS,
    ModelConfig,
    check_whole,
    from_dict,
)
from vanilla_gan.data.arrays import shape_words
from vanilla_gan.errors import Interrupted, TrainingError, UsageError, VanillaGanError
from vanilla_gan.explore import add_explore_parser
from vanilla_gan.export import export_generator
from vanilla_gan.fileio import atomic_write, make_folder
from vanilla_gan.images import save_grid
from vanilla_gan.netspec import import_network
from vanilla_gan.options import folder_path, train_options
from vanilla_gan.pretrained import pretrained
from vanilla_gan.report import write_report
from vanilla_gan.report.animation import write_walk
from vanilla_gan.rundir import load_checkpoint, resolve_checkpoint
from vanilla_gan.runtime import resolve_device, steady_streams, stop_signals_interrupt
from vanilla_gan.sampling import latent_walk, sample_images

MAX_NPY = MAX_SAMPLES  # sample -n: a .npy (784 MB); MAX_GRID in a .png grid; MAX_WALKS walks and frames
EXPORT_SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".pth": "torchscript"}


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one `error:` line (exit 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    return common


def generator_option() -> argparse.ArgumentParser:
    """--generator MODULE:CLASS, for a run trained with its own generator module (netspec.py)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--generator", metavar="MODULE:CLASS", dest="own_generator",
                        help="for a run trained with its own generator: its class, importable and built with no "
                             "arguments (e.g. mynets:SmallGenerator); its weights come from the checkpoint")
    return parent


def run_parents() -> list[argparse.ArgumentParser]:
    """The options of the subcommands that read a trained run."""
    return [common_options(), generator_option()]


def own_generator(args: argparse.Namespace) -> torch.nn.Module | None:
    return import_network(args.own_generator) if args.own_generator else None


# ----------------------------------------------------------------------------- train

def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
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
            f"more digits: vanilla-gan sample {shlex.quote(str(out))} -n 64 -o samples.png")
        if main and session.report is not None:
            print(session.report.summary())
        if main and session.report_error:
            print(f"warning: {session.report_error}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- sample

def add_sample_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sample", parents=run_parents(), help="draw digits from a checkpoint or run folder",
                              description="Generate images: -o X.png writes a grid, -o X.npy a uint8 array "
                                          "(N, H, W) grey or (N, H, W, 3) colour: (N, 28, 28) for the digits, 0 = "
                                          "background, 255 = ink, like MNIST. --interpolate "
                                          "writes walks through the latent space as X.gif and X.png.")
    p.add_argument("checkpoint", type=Path, nargs="?", help="a checkpoint file or a run folder (its "
                                                            "checkpoints/last.pt)")
    p.add_argument("--pretrained", action="store_true", help="draw from the weights shipped with vanilla-gan instead")
    p.add_argument("-n", "--num", type=int,
                   help=f"how many digits (default: 64; at most {MAX_NPY:,} in a .npy, {MAX_GRID:,} in a .png grid), "
                        f"or with --interpolate how many walks (default: 8, at most {MAX_WALKS})")
    p.add_argument("-o", "--output", type=Path,
                   help="OUT.png (a grid) or OUT.npy (uint8 array) (default: samples.png); with --interpolate "
                        "OUT.gif and OUT.png are both written (default: interpolation.gif)")
    p.add_argument("--interpolate", action="store_true",
                   help="walk between random z (spherical interpolation): an animated GIF and a PNG strip")
    p.add_argument("--frames", type=int, default=12,
                   help=f"images per walk with --interpolate (default: 12, at most {MAX_WALKS})")
    p.add_argument("--seed", type=int, default=0, help="seed for the noise z (default: 0)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where to run G (default: auto)")
    p.add_argument("--raw", action="store_true",
                   help="use G's trained weights instead of their moving average (when the run kept one)")
    p.add_argument("--digit", type=int, metavar="D",
                   help="only images of digit D (0-9): G draws until N images are read as D by the package's "
                        "digit classifier with p >= 0.9 (selection, not a conditional GAN; runs on the digits)")
    p.set_defaults(func=cmd_sample)


def cmd_sample(args: argparse.Namespace) -> int:
    check_whole("--seed", args.seed, 0, MAX_SEED)
    if args.digit is not None:
        check_whole("--digit", args.digit, 0, 9)
        if args.interpolate:
            raise UsageError("--digit picks single images: it cannot be combined with --interpolate")
    if args.interpolate:
        return sample_walk(args)
    args.num = 64 if args.num is None else args.num
    args.output = args.output or Path("samples.png")
    suffix = args.output.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise UsageError(f"-o {args.output}: the output must end in .png (a grid) or .npy (an array)")
    most = MAX_NPY if suffix == ".npy" else MAX_GRID
    if not 1 <= args.num <= most:
        raise UsageError(f"-n must be in 1..{most:,} for a {suffix} file, got {args.num:,}")
    generator, source = generator_to_sample(args)
    device = resolve_device(args.device)
    if args.digit is None:
        images = sample_images(generator, args.num, seed=args.seed, device=device)  # (N, H, W[, 3]) uint8
    else:
        images, draws = select_digits(generator, args.digit, args.num, seed=args.seed, device=device)
        print(f"kept {args.num:,} of {draws:,} draws ({100 * args.num / draws:.1f}%): the images the classifier "
              f"reads as a {args.digit} with p >= {DIGIT_CONFIDENCE}")
    make_folder(args.output.parent)
    if suffix == ".npy":
        atomic_write(args.output, lambda f: np.save(f, images))
    else:
        save_grid(images, args.output)
    print(f"wrote {len(images)} images {tuple(images.shape[1:])} to {args.output} ({source})")
    return 0


def generator_to_sample(args: argparse.Namespace) -> tuple[torch.nn.Module, str]:
    """The checkpoint's G (or the shipped one with --pretrained), and where it comes from in words."""
    if (args.checkpoint is None) == (not args.pretrained):
        raise UsageError("pass a checkpoint or run folder, or --pretrained (one of them)")
    if args.pretrained:
        return pretrained().generator(raw=args.raw), "the shipped weights"
    state = load_checkpoint(args.checkpoint)
    if getattr(args, "digit", None) is not None:
        check_digit_data(state["train_config"].get("dataset"), state["model_config"].get("image_shape"))
    generator = load_generator(state, raw=args.raw, generator=own_generator(args))
    return generator, f"epoch {state['epoch']} of {args.checkpoint}"


def sample_walk(args: argparse.Namespace) -> int:
    walks = 8 if args.num is None else args.num
    output = args.output or Path("interpolation.gif")
    if not 1 <= walks <= MAX_WALKS or not 2 <= args.frames <= MAX_WALKS:
        raise UsageError(f"--interpolate needs -n in 1..{MAX_WALKS} and --frames in 2..{MAX_WALKS}, got {walks}, "
                         f"{args.frames}")
    if output.suffix.lower() not in (".gif", ".png"):
        raise UsageError(f"-o {output}: with --interpolate the output must end in .gif or .png (both are written)")
    generator, source = generator_to_sample(args)
    make_folder(output.parent)
    frames = latent_walk(generator, walks, args.frames, seed=args.seed, device=resolve_device(args.device))
    gif, png = write_walk(frames, output.with_suffix(".gif"), output.with_suffix(".png"))
    print(f"wrote {walks} walks of {args.frames} digits to {gif} (animated) and {png} (a row per walk) "
          f"({source})")
    return 0


# ----------------------------------------------------------------------------- evaluate

def add_evaluate_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", parents=run_parents(), help="score a generator (C2ST, FID...)",
                              description="Score N generated digits: the two-sample test (a small CNN trained "
                                          "to tell them from real digits; 0.5 = it cannot), and with the "
                                          "bundled digit classifier FID, KID, Inception Score, modes, "
                                          "precision/recall and the Parzen log-likelihood, each beside its "
                                          "real-data floor.")
    p.add_argument("checkpoint", type=Path, nargs="?", help="a checkpoint file or a run folder")
    p.add_argument("--pretrained", action="store_true", help="score the weights shipped with vanilla-gan instead")
    p.add_argument("-n", "--num", type=int, default=10_000,
                   help=f"generated digits to score (default: 10000, at most {MAX_EVAL_SAMPLES})")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--seed", type=int, default=0, help="seed for the noise z (default: 0)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where to run (default: auto)")
    p.add_argument("--no-two-sample", dest="two_sample", action="store_false",
                   help="leave out the two-sample test (it trains a small classifier: about 15 s on 2 idle cores, "
                        "a minute or more beside other work)")
    p.add_argument("--threads", type=int,
                   help="CPU threads (default: all this process may use; beside busy programs fewer can be faster)")
    p.add_argument("--retrain-evaluator", action="store_true",
                   help="rebuild the evaluator's classifier from the embedded digits (about a minute)")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.retrain_evaluator:
        path, accuracy, sha = rebuild_evaluator()
        print(f"evaluator retrained: held-out accuracy {accuracy:.2%}, written to {path} (SHA-256 {sha})")
        if args.checkpoint is None and not args.pretrained:
            return 0
    if (args.checkpoint is None) == (not args.pretrained):
        raise UsageError("evaluate needs a checkpoint or run folder, or --pretrained (one of them; or "
                         "--retrain-evaluator)")
    check_whole("--seed", args.seed, 0, MAX_SEED)
    if args.threads is not None:
        torch.set_num_threads(check_whole("--threads", args.threads, 1, MAX_THREADS))
    if not evaluate.MIN_SAMPLES <= args.num <= MAX_EVAL_SAMPLES:
        raise UsageError(f"-n must be in {evaluate.MIN_SAMPLES}..{MAX_EVAL_SAMPLES:,}, got {args.num:,}")
    if args.pretrained:
        result = pretrained(device=args.device).evaluate(args.num, seed=args.seed, two_sample=args.two_sample)
    else:
        result, kept = evaluate.evaluate_and_keep(args.checkpoint, num_samples=args.num, seed=args.seed,
                                                  device=resolve_device(args.device), two_sample=args.two_sample,
                                                  generator=own_generator(args))
        print(kept, file=sys.stderr)
    print(json.dumps(result) if args.json else evaluate.format_table(result))
    return 0


# ----------------------------------------------------------------------------- report

def add_report_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", parents=run_parents(), help="write RUN/report.html: plots, animations, "
                                                                         "health notes, memorisation check",
                              description="Write one self-contained RUN/report.html (images inlined, no network "
                                          "requests) with the curves (RUN/plots/), progress.gif, a latent walk, "
                                          "real next to generated digits, training-health notes and a "
                                          "memorisation check; `train` writes it too when it ends.")
    p.add_argument("run", type=Path, help="a run folder (the --out of `vanilla-gan train`)")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="where to run G (default: cpu)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    print(write_report(args.run, device=resolve_device(args.device), generator=own_generator(args)).summary())
    return 0


# ----------------------------------------------------------------------------- export

def add_export_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", parents=run_parents(), help="write G as ONNX or TorchScript",
                              description="Export the generator (EMA weights when kept): z float32 (B, latent_dim) "
                                          "-> images float32 (B, H, W) or (B, H, W, 3) ((B, 28, 28) for the "
                                          "digits) in [-1, 1]; run it without vanilla-gan.")
    p.add_argument("checkpoint", type=Path, help="a checkpoint file or a run folder (its checkpoints/last.pt)")
    p.add_argument("--format", choices=("onnx", "torchscript"),
                   help="onnx or torchscript (default: from -o's suffix: .onnx is onnx, .pt or .pth torchscript)")
    p.add_argument("-o", "--output", type=Path, help="the file to write (default: generator.onnx or generator.pt)")
    p.add_argument("--raw", action="store_true", help="export G's trained weights instead of their moving average")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    suffix = args.output.suffix.lower() if args.output else ".onnx"
    if args.format is None and suffix not in EXPORT_SUFFIXES:
        raise UsageError(f"-o {args.output}: cannot tell the format from {suffix or 'no suffix'}: end it in .onnx or "
                         f".pt (TorchScript), or pass --format")
    fmt = args.format or EXPORT_SUFFIXES[suffix]
    output = args.output or Path("generator.onnx" if fmt == "onnx" else "generator.pt")
    source = resolve_checkpoint(args.checkpoint)
    if output.resolve() == source.resolve() or output.resolve().parent.name == "checkpoints":
        raise UsageError(f"-o {output}: never written into a checkpoints folder (it could replace a checkpoint); "
                         f"choose another file")
    state = load_checkpoint(source)
    make_folder(output.parent)
    path = export_generator(state, output, fmt, raw=args.raw, generator=own_generator(args))
    latent = state["model_config"]["latent_dim"]
    shape = ", ".join(map(str, from_dict(ModelConfig, state["model_config"]).shape))
    print(f"wrote {path} ({fmt}, epoch {state['epoch']}): z float32 (B, {latent}) -> images float32 (B, {shape}) "
          f"in [-1, 1]")
    return 0


# ----------------------------------------------------------------------------- sweep

def add_sweep_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sweep", parents=[common_options(), train_options(seed=False)], allow_abbrev=False,
                              help="train every configuration x seed, then summarise them",
                              description="Train each combination of the --set values with each of --seeds, every "
                                          "run an ordinary run folder inside --out, then write OUT/summary.csv and "
                                          "OUT/summary.html: the median and spread over the seeds, ranked by FID. "
                                          "The other options are train's, shared by every run. Ctrl-C saves every "
                                          "run; --resume continues.")
    sweep.add_arguments(p)
    p.set_defaults(func=sweep.sweep)


# ----------------------------------------------------------------------------- main

def build_parser() -> Parser:
    parser = Parser(prog="vanilla-gan", description="Train the classic MLP GAN on handwritten digits.")
    parser.add_argument("--version", action="version", version=f"vanilla-gan {__version__}")
    subparsers = parser.add_subparsers(title="commands", parser_class=Parser)
    add_train_parser(subparsers)
    add_sample_parser(subparsers)
    add_evaluate_parser(subparsers)
    add_report_parser(subparsers)
    add_export_parser(subparsers)
    add_sweep_parser(subparsers)
    add_explore_parser(subparsers, parents=[common_options()])
    return parser


def main(argv: list[str] | None = None) -> int:
    # a closed or broken stdout/stderr never stops a command (`| head -1`, `2>&-`); SIGTERM unwinds as Ctrl-C does
    with steady_streams(), stop_signals_interrupt():
        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):  # no command given: say what there is
            parser.print_help()
            return 0
        return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """The command's function, its errors as one line each."""
    try:
        return args.func(args)
    except Interrupted as stop:  # a stop on request, not an error: its message says how to resume
        print(stop, file=sys.stderr)
        return stop.exit_code
    except VanillaGanError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return Interrupted.exit_code
    except Exception as exc:  # an unexpected failure: one line, the traceback behind --debug
        if getattr(args, "debug", False):
            raise
        print(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1
