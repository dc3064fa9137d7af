"""The options of a training run on the command line, shared by `train` and `sweep`, and the way back from
option values to arguments (a sweep starts each of its runs as `vanilla-gan train ARGS`).

    parser = argparse.ArgumentParser(parents=[train_options()])
    as_arguments({"batch_size": 8, "betas": (0.5, 0.999)})   # ['--batch-size', '8', '--betas', '0.5,0.999']
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vanilla_gan.config import (
    AUGMENTS,
    D_NETS,
    DEVICES,
    G_LOSSES,
    MAX_D_STEPS,
    MAX_EVAL_SAMPLES,
    NETS,
    PRECISIONS,
    RECIPES,
    ModelConfig,
    TrainConfig,
)

SWITCHES = ("cuda_graph", "spectral_norm", "minibatch_std")  # --X / --no-X


def int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 256,512,1024, got {text!r}") from None


def folder_path(text: str) -> Path:
    """--out's type: a path, never empty (Path("") is the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("--out is empty: name the run's folder (an empty path would be the "
                                         "current folder)")
    return Path(text)


def float_pair(text: str) -> tuple[float, float]:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers like 0.5,0.999, got {text!r}") from None
    return first, second


def train_options(seed: bool = True) -> argparse.ArgumentParser:
    """A parent parser with every model and training option (and --seed unless `seed` is False), in the order
    --help lists them: the recipe, the data and the run's length, the algorithm, the seed, where and how to
    train, the networks."""
    m, t = ModelConfig(), TrainConfig()
    p = argparse.ArgumentParser(add_help=False)
    # Defaults are None so that `--resume` can tell which options the user gave.
    p.add_argument("--recipe", choices=tuple(RECIPES),
                   help="a known set of options: tutorial = batch 100, Adam's default betas 0.9,0.999, no EMA (the "
                        "notebooks' plain settings, for comparison); best = the study's best 10-minute "
                        "combination: " + " ".join(as_arguments(RECIPES["best"])) + "; options given beside it win (an "
                        "--epochs or --minutes replaces both of its)")
    _data_options(p, t)
    _algorithm_options(p, t)
    if seed:
        p.add_argument("--seed", type=int, help="seed for everything (default: drawn and printed)")
    _where_and_how_options(p, t)
    _network_options(p, m)
    return p


def _data_options(p: argparse.ArgumentParser, t: TrainConfig) -> None:
    """What to train on, and for how long."""
    p.add_argument("--dataset", help=f"digits (embedded, offline), mnist, fashion-mnist, a folder of PNG/JPEG/BMP "
                                     f"pictures (recursive; subfolders may name classes) or with "
                                     f"train-images-idx3-ubyte[.gz], or a .npy/.npz file of uint8 (N, H, W[, 3]) "
                                     f"(default: {t.dataset})")
    p.add_argument("--image-size", type=int,
                   help="resize every image to N x N pixels on loading (needed when pictures differ in size; "
                        "default: as they are)")
    p.add_argument("--limit", type=int, help="train on N images spread over the data set, for quick trials "
                                             "(default: all)")
    p.add_argument("--epochs", type=int, help=f"passes over the data (default: {t.epochs})")
    p.add_argument("--minutes", type=float,
                   help="a time budget: train until this many minutes of training have passed, at an epoch's end "
                        "(with --lr-cooldown, at the length the budget plans), then evaluate and report as usual; "
                        "config.json records the epochs reached, so --epochs N "
                        "--seed S repeats the run on any machine (default: none; alone it lifts --epochs)")


def _algorithm_options(p: argparse.ArgumentParser, t: TrainConfig) -> None:
    """The GAN's training algorithm: the batch, Adam, the losses, the averaged G."""
    p.add_argument("--batch-size", type=int, help=f"m, the real (and generated) images of each D and G update, per "
                                                  f"process (default: {t.batch_size})")
    p.add_argument("--lr", type=float, help=f"Adam learning rate, G and D (G only with --lr-d; default: {t.lr})")
    p.add_argument("--lr-d", type=float,
                   help="D's own Adam learning rate, e.g. --lr 1e-4 --lr-d 4e-4 (TTUR, Heusel et al. 2017; "
                        "default: --lr)")
    p.add_argument("--betas", type=float_pair, help=f"Adam betas as B1,B2 (default: {t.betas[0]},{t.betas[1]})")
    p.add_argument("--g-loss", choices=G_LOSSES, help=f"generator loss (default: {t.g_loss})")
    p.add_argument("--d-steps", type=int,
                   help=f"D updates per G update, each on its own batch (k in Goodfellow et al. 2014's Algorithm 1; "
                        f"1..{MAX_D_STEPS}, default: {t.d_steps})")
    p.add_argument("--real-label", type=float,
                   help=f"D's target for real images; 0.9 is one-sided label smoothing (default: {t.real_label})")
    p.add_argument("--lr-cooldown", type=float,
                   help=f"lower the learning rate linearly to 0 over this last fraction of the steps, e.g. 0.2; "
                        f"under --minutes the budget sets the steps, planned at the pace so far until the "
                        f"cooldown begins (default: {t.lr_cooldown}, none)")
    p.add_argument("--ema-decay", type=float,
                   help=f"decay of the moving average of G's weights used for samples; 0 = off (default: "
                        f"{t.ema_decay})")
    p.add_argument("--augment", metavar="|".join(AUGMENTS),
                   help="differentiable augmentation of every image D scores, real and generated alike (Zhao et "
                        "al. 2020): translation (up to 1/8 of a side), cutout (a square of half a side), or "
                        "translation,cutout (default: none)")
    p.add_argument("--instance-noise", type=float,
                   help="std of Gaussian noise added to every image D scores, annealed linearly to 0 over the run "
                        "(pixels are in -1..1; Salimans et al. 2016 used 0.3; default: 0, none)")
    p.add_argument("--r1-gamma", type=float,
                   help="R1 gradient penalty gamma/2 |grad D(x)|^2 on real images (Mescheder et al. 2018), e.g. "
                        "0.1 (default: 0, none)")
    p.add_argument("--r1-every", type=int,
                   help=f"compute the R1 penalty every K steps, weighted by K (lazy; default: {t.r1_every})")


def _where_and_how_options(p: argparse.ArgumentParser, t: TrainConfig) -> None:
    """The device and precision, threads, and how often to checkpoint, evaluate and report progress."""
    p.add_argument("--device", choices=DEVICES, help=f"where to train (default: {t.device}: cuda if present)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help=f"fp32, or bf16 autocast for the forward passes (default: {t.precision})")
    p.add_argument("--cuda-graph", action=argparse.BooleanOptionalAction,
                   help="on one CUDA GPU, capture the training step once and replay it as a CUDA graph "
                        "(default: on; no effect on CPU or under torchrun)")
    p.add_argument("--threads", type=int,
                   help="CPU threads for training (default: chosen from the CPUs this process may use; for the "
                        "classic MLPs changed while training when other programs slow it down, which changes no "
                        "number; other networks keep the most, as their numbers may depend on it; OMP_NUM_THREADS "
                        "also fixes it)")
    p.add_argument("--checkpoint-every", type=int,
                   help="also keep checkpoints/epoch_NNNN.pt every K epochs (default: 0, only last.pt)")
    p.add_argument("--eval-every", type=int,
                   help=f"evaluate (FID, IS, precision/recall, ...) every K epochs and at the end, keeping "
                        f"checkpoints/best.pt by FID; 0 = never (default: {t.eval_every})")
    p.add_argument("--eval-samples", type=int, help=f"generated images per evaluation, 1000..{MAX_EVAL_SAMPLES:,} "
                                                      f"(default: {t.eval_samples})")
    p.add_argument("--log-every", type=int, help=f"steps between progress updates (default: {t.log_every})")


def _network_options(p: argparse.ArgumentParser, m: ModelConfig) -> None:
    """The networks: z's size, the hidden widths, LeakyReLU's slope, D's dropout (the images set the rest)."""
    p.add_argument("--latent-dim", type=int, help=f"size of z (default: {m.latent_dim})")
    p.add_argument("--g-hidden", type=int_list, help="G's hidden widths (default: 256,512,1024)")
    p.add_argument("--d-hidden", type=int_list, help="D's hidden widths (default: 1024,512,256)")
    p.add_argument("--slope", type=float, help=f"LeakyReLU negative slope (default: {m.slope})")
    p.add_argument("--dropout", type=float, help=f"dropout after D's hidden layers (default: {m.dropout}; "
                   "with --d-net mlp+conv, the MLP half's only)")
    p.add_argument("--g-net", choices=NETS,
                   help="G's network: mlp, the classic one above, or conv, DCGAN-style (Radford et al. 2015): a "
                        "linear layer to 7x7, then two 4x4 transposed convolutions with BatchNorm and ReLU "
                        f"(default: {m.g_net})")
    p.add_argument("--g-convs", type=int,
                   help="with --g-net conv: N 3x3 convolutions (BatchNorm, ReLU) at G's smallest scale, where the "
                        f"digit's shape is laid out (default: {m.g_convs})")
    p.add_argument("--g-refine", type=int,
                   help="with --g-net conv: G's last transposed convolution to R channels (BatchNorm, ReLU), then a "
                        "3x3 convolution at full resolution draws the image, so that each pixel's grey level follows "
                        f"its neighbours' (default: {m.g_refine}, none)")
    p.add_argument("--d-net", choices=D_NETS,
                   help="D's network: mlp, the classic one above; conv: two 4x4 stride-2 convolutions with "
                        "LeakyReLU and --dropout, then one linear layer; or mlp+conv: both side by side, their "
                        "logits summed (the MLP judges the shape with --dropout, the conv half the texture, "
                        f"without dropout) (default: {m.d_net})")
    p.add_argument("--conv-width", type=int,
                   help=f"channels of the conv networks' first D layer and last G layer; the other has twice as "
                        f"many (default: {m.conv_width})")
    p.add_argument("--spectral-norm", action=argparse.BooleanOptionalAction,
                   help="divide each of D's layers by its largest singular value (Miyato et al. 2018; default: off)")
    p.add_argument("--minibatch-std", action=argparse.BooleanOptionalAction,
                   help="give D's last layer the std of its features over groups of 4 images, so it can see a "
                        "batch that is too alike (Karras et al. 2018; --batch-size a multiple of 4; default: off)")


def as_arguments(options: dict[str, Any]) -> list[str]:
    """Option values (the names of ModelConfig/TrainConfig, and recipe) as command-line arguments."""
    arguments = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if name in SWITCHES:
            arguments.append(flag if value else f"--no-{flag[2:]}")
        else:
            arguments += [flag, ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)]
    return arguments
