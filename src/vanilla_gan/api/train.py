"""`vanilla_gan.train`: every option a named, typed keyword with its default, for `help()`, editors and
`inspect.signature`; errors name options as Python spells them (`batch_size`, `resume=True`).

    import vanilla_gan as vg
    run = vg.train(epochs=5, out="runs/nb", seed=1)                 # a Run (run.py); a progress bar, nothing else
    run = vg.train(dataset=images, epochs=5, out="runs/nb", overwrite=True)   # your array; replace the run
    run.sample(64, seed=0)                                          # uint8 (64, H, W[, 3])

A keyword left out keeps the configuration's default, and on `resume=True` the run's own value: the defaults
shown in the signature are `Default` markers that print as the value and are never passed on.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from vanilla_gan.api.run import Run
from vanilla_gan.api.session import Training
from vanilla_gan.config import MODEL_OPTIONS, TRAIN_OPTIONS, ModelConfig, TrainConfig
from vanilla_gan.errors import UsageError
from vanilla_gan.gan.algorithm import Objective
from vanilla_gan.training import distributed
from vanilla_gan.training.trainer import EpochHook


class Default:
    """A keyword's default in `train`'s signature: shows as the value; a keyword still holding it was not given."""

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


_M, _T = ModelConfig(), TrainConfig()


def train(*, dataset: str | Path | np.ndarray | torch.Tensor | torch.utils.data.Dataset = Default(_T.dataset),
          out: str | Path | None = None, epochs: int = Default(_T.epochs), minutes: float | None = Default(None),
          batch_size: int = Default(_T.batch_size), lr: float = Default(_T.lr), seed: int | None = Default(None),
          limit: int | None = Default(None), image_size: int | None = Default(None),
          betas: tuple[float, float] = Default(_T.betas), g_loss: str = Default(_T.g_loss),
          d_steps: int = Default(_T.d_steps), real_label: float = Default(_T.real_label),
          lr_cooldown: float = Default(_T.lr_cooldown), ema_decay: float = Default(_T.ema_decay),
          latent_dim: int = Default(_M.latent_dim), g_hidden: tuple[int, ...] = Default(_M.g_hidden),
          d_hidden: tuple[int, ...] = Default(_M.d_hidden), slope: float = Default(_M.slope),
          dropout: float = Default(_M.dropout), g_net: str = Default(_M.g_net), d_net: str = Default(_M.d_net),
          conv_width: int = Default(_M.conv_width), g_convs: int = Default(_M.g_convs),
          g_refine: int = Default(_M.g_refine), spectral_norm: bool = Default(False),
          minibatch_std: bool = Default(False), lr_d: float | None = Default(None), augment: str = Default(""),
          instance_noise: float = Default(0.0), r1_gamma: float = Default(0.0), r1_every: int = Default(1),
          device: str = Default(_T.device), precision: str = Default(_T.precision),
          cuda_graph: bool = Default(_T.cuda_graph), threads: int | None = Default(None),
          checkpoint_every: int = Default(_T.checkpoint_every), eval_every: int = Default(_T.eval_every),
          eval_samples: int = Default(_T.eval_samples), log_every: int = Default(_T.log_every),
          grid_size: int = Default(_T.grid_size), recipe: str | None = None, resume: bool = False,
          overwrite: bool = False, report: bool = True, tensorboard: bool = False, verbose: bool = False,
          generator: nn.Module | None = None, discriminator: nn.Module | None = None,
          epoch_hooks: Iterable[EpochHook] = (), objective: Objective | None = None) -> Run:
    """Train (or, with resume=True, continue) a run into the folder `out`; returns it as a Run.

    Data:
      dataset: "digits" (10,000 embedded digits, offline), "mnist", "fashion-mnist", a folder of PNG/JPEG/BMP
        pictures (searched recursively; its first level of folders may name classes) or of IDX files, a .npy
        or .npz file, or in Python a numpy array / torch tensor (N, H, W) or (N, H, W, 3) of uint8 0..255 or
        floats in [0, 1], or a torch Dataset of such images (or (image, label) pairs).
      image_size: resize every image to image_size x image_size; limit: train on N images spread over the set.
    The run:
      out: the run folder (default runs/run-DATE-TIME); resume: continue the run in `out`; overwrite: replace
        the run in `out` (only a folder holding a run of this package); report: write report.html at the end;
      tensorboard: log to RUN/tensorboard; verbose: print the epoch lines and the report's health notes; epochs;
      minutes: a time budget (the first epoch end past it, or lr_cooldown's plan); seed (drawn when None).
    Training (the original GAN's algorithm): batch_size, lr (Adam, G and D), betas, g_loss ("non-saturating" or
      "minimax"), d_steps (D updates per G update), real_label (D's target for real images), lr_cooldown (the
      last fraction of the steps lowers lr to 0), ema_decay (moving average of G's weights for samples; 0 off),
      recipe ("tutorial", "best": README; keywords beside it win), lr_d (D's own rate; lr is then G's), augment
      ("translation", "cutout" or both, comma-separated), instance_noise, r1_gamma, r1_every (D's inputs, penalty).
    The networks: latent_dim (size of z), g_hidden, d_hidden (hidden widths), slope (LeakyReLU), dropout (D);
      g_net ("mlp" or "conv"), d_net ("mlp", "conv" or "mlp+conv"), conv_width, g_convs (3x3 convs at the conv
      G's smallest scale), g_refine (channels before a last 3x3 conv at full size), spectral_norm, minibatch_std;
      the images set G's output size. generator, discriminator: your own nn.Modules instead (G: z (B, latent_dim)
      -> images (B, H, W[, 3]) in (-1, 1); D: images -> one pre-sigmoid score each). objective: your own losses
      (vanilla_gan.gan.algorithm): an object with d_loss(real_scores, fake_scores), g_loss(fake_scores), name.
    Where and how: device, precision ("fp32", "bf16"), cuda_graph, threads (None: chosen by the load for the
      classic MLPs, changing no number; others keep the most), checkpoint_every (keep epoch_NNNN.pt every K
      epochs), eval_every (0 never), eval_samples, log_every, grid_size. epoch_hooks: callables hook(trainer,
      record), called after each epoch is checkpointed.

    `vanilla-gan train --help` says the same of each option. Errors are vg.UsageError and its kin, one line naming
    the keyword. Ctrl-C saves a checkpoint and raises vg.Interrupted; `train(out=..., resume=True)` continues.
    """
    given = {name: value for name, value in locals().items()
             if name in MODEL_OPTIONS + TRAIN_OPTIONS and not isinstance(value, Default)}
    with python_spelled_errors():
        return _train(given, out=out, resume=resume, overwrite=overwrite, report=report, tensorboard=tensorboard,
                      verbose=verbose, generator=generator, discriminator=discriminator, epoch_hooks=epoch_hooks,
                      recipe=recipe, objective=objective)


def _train(options: dict[str, Any], *, verbose: bool, **keywords: Any) -> Run:
    """`train`'s work: `options` are the model and training options given, `keywords` the session's own (out,
    resume, ...). The switches are checked first, then a Training is prepared and run; its warnings are Python's."""
    switches = {name: keywords[name] for name in ("resume", "overwrite", "report", "tensorboard")}
    for name, value in {**switches, "verbose": verbose}.items():
        if not isinstance(value, (bool, np.bool_)):
            raise UsageError(f"{name} must be True or False, got a {type(value).__name__}")
    log = (lambda line: tqdm.write(line, file=sys.stdout)) if verbose else None
    with distributed.session(options.get("device") or "auto"):
        session = Training(log=log, **keywords, **options)
        for warning in session.warnings:
            warnings.warn(warning, RuntimeWarning, stacklevel=3)
        result = session.run()
    if session.report_error:
        warnings.warn(session.report_error, RuntimeWarning, stacklevel=3)
    if verbose and session.report is not None:
        print(session.report.summary())
    return result


_FLAGS = {"--resume": "resume=True", "--overwrite": "overwrite=True", "--no-report": "report=False",
          "--out": "out", **{"--no-" + n.replace("_", "-"): f"{n}=False" for n in ("cuda_graph",)},
          **{"--" + n.replace("_", "-"): n for n in (*MODEL_OPTIONS, *TRAIN_OPTIONS, "recipe", "tensorboard")}}


@contextmanager
def python_spelled_errors() -> Iterator[None]:
    """A UsageError raised inside names its options as Python spells them (`python_spelling`); one whose message
    names none passes unchanged."""
    try:
        yield
    except UsageError as error:
        spelled = python_spelling(str(error))
        if spelled == str(error):
            raise
        raise type(error)(spelled).with_traceback(error.__traceback__) from None


def python_spelling(message: str) -> str:
    """A message's command-line option names as Python spells them: --batch-size -> batch_size, --eval-every 0 ->
    eval_every=0, --resume -> resume=True; unknown --names are left as they are."""
    def keyword(match: re.Match) -> str:
        flag, number = match.group(1), match.group(2)
        name = _FLAGS.get(flag, flag)
        if number and name != flag and "=" not in name:
            return f"{name}={number}"
        return name + (f" {number}" if number else "")
    return re.sub(r"(?<![\w-])(--[a-z][a-z-]*)(?: (-?\d[\w.,]*))?", keyword, message)


__all__ = ["train", "Default", "python_spelling"]
