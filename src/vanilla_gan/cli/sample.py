"""`vanilla-gan sample`: digits from a run, a checkpoint or the shipped weights, as a grid, a .npy or a latent walk.

    vanilla-gan sample runs/try -n 1000 -o digits.npy
    vanilla-gan sample runs/try --interpolate -o walk.gif      # also walk.png
    vanilla-gan sample --pretrained --digit 7 -n 64 -o sevens.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from vanilla_gan.api.pretrained import pretrained
from vanilla_gan.cli.common import (
    MAX_NPY,
    own_generator,
    run_parents,
)
from vanilla_gan.config import (
    DEVICES,
    MAX_GRID,
    MAX_SEED,
    MAX_WALKS,
    check_whole,
)
from vanilla_gan.data.images import save_grid
from vanilla_gan.errors import UsageError
from vanilla_gan.evaluation.classifier import DIGIT_CONFIDENCE, check_digit_data, select_digits
from vanilla_gan.fileio import atomic_write, make_folder
from vanilla_gan.gan.sampling import latent_walk, sample_images
from vanilla_gan.report.animation import write_walk
from vanilla_gan.runs.checkpoint import load_generator
from vanilla_gan.runs.rundir import load_checkpoint
from vanilla_gan.training.process import resolve_device


def add_parser(subparsers: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
