"""A trained run as Python sees it: `load(path) -> Run`, and `Run` (sample, grid, interpolate, evaluate, plots,
report, explore, metrics, config, checkpoint, generator). `vanilla_gan.train` returns one too (api/train.py), and
`vanilla_gan.api.pretrained()` a Run of the shipped weights (pretrained.py).

    run = vg.load("runs/nb")
    images = run.sample(64, seed=0)      # uint8 (64, 28, 28), or (64, H, W[, 3]): the run's image shape
    run.grid(images)                     # a PIL image, grey or RGB: shows itself in Jupyter
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from vanilla_gan.config import MAX_EVAL_SAMPLES, MAX_GRID, MAX_SAMPLES, MAX_SCALE, MAX_SEED, MAX_WALKS, check_whole
from vanilla_gan.data.images import grid, grid_rows
from vanilla_gan.errors import UsageError
from vanilla_gan.evaluation.classifier import check_digit_data, select_digits
from vanilla_gan.evaluation.evaluator import evaluate_and_keep
from vanilla_gan.gan.sampling import latent_walk, sample_images
from vanilla_gan.report import Report, plots, write_report
from vanilla_gan.report.explore_page import checkpoint_page, write_page
from vanilla_gan.runs.checkpoint import load_generator
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.training.process import resolve_device


def load(path: Path | str, generator: nn.Module | None = None, device: str = "auto") -> Run:
    """A trained run folder, to sample, show, evaluate and report. `generator`: for a run trained with its own
    generator module, an instance of it (its weights are loaded into it)."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise UsageError(f"load needs a run folder's path (a str or a Path), got a {type(path).__name__}")
    run_dir = RunDir(path)
    if not run_dir.path.is_dir():
        raise UsageError(f"no such run folder: {run_dir.path}")
    if not run_dir.last_checkpoint.is_file():
        raise UsageError(f"{run_dir.path} has no checkpoints/last.pt: is it a vanilla-gan run folder?")
    return Run(run_dir.path, generator=generator, device=resolve_device(device))


class Run:
    """A run folder, trained or loaded: its configuration and metrics, and its generator to sample from."""

    def __init__(self, path: Path | str, generator: nn.Module | None = None, device: str | torch.device = "cpu",
                 report: Report | None = None):
        self.path, self.run_dir = Path(path), RunDir(path)
        self.device = torch.device(device)
        self.report_written = report  # the report written at the end of training, if any
        self._custom = generator
        self.draws: int | None = None  # the draws the last sample(digit=...) took

    def __repr__(self) -> str:
        try:
            epochs = f"{len(self.metrics)} epochs"
        except UsageError:
            epochs = "no metrics.jsonl"
        return f"Run({str(self.path)!r}, {epochs})"

    @property
    def config(self) -> dict[str, Any]:
        """config.json: {"model": ..., "train": ..., "num_images", ...}."""
        return self.run_dir.read_config()

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """metrics.jsonl: one dict per epoch (losses, D outputs, speed; evaluation metrics when evaluated)."""
        return self.run_dir.read_metrics()

    def checkpoint(self) -> dict[str, Any]:
        """checkpoints/last.pt as a dict (see vanilla_gan.runs.checkpoint)."""
        return self.run_dir.load_checkpoint()

    def generator(self, raw: bool = False) -> nn.Module:
        """The trained generator: z (B, latent_dim) -> images (B, H, W[, 3]) in (-1, 1); the moving average of its
        weights when the run kept one, unless `raw`."""
        custom = None if self._custom is None else fresh_copy(self._custom)
        return load_generator(self.checkpoint(), raw=raw, generator=custom).to(self.device)

    def sample(self, n: int = 64, seed: int = 0, raw: bool = False, digit: int | None = None) -> np.ndarray:
        """`n` images, uint8 (n, H, W) or (n, H, W, 3) (the digits: (n, 28, 28), 0 = background, 255 = ink): the
        same for the same seed. `digit` (digits runs only): keep drawing and keep the images the package's digit
        classifier reads as that digit with p >= 0.9 (selection, not conditioning; `self.draws` says how many
        draws it took)."""
        n = check_whole("n", n, 1, MAX_SAMPLES)
        seed = check_whole("seed", seed, 0, MAX_SEED)
        if digit is None:
            return sample_images(self.generator(raw), n, seed=seed, device=self.device)
        digit = check_whole("digit", digit, 0, 9)
        config = self.config
        check_digit_data(config.get("train", {}).get("dataset"), config.get("model", {}).get("image_shape"))
        images, self.draws = select_digits(self.generator(raw), digit, n, seed=seed, device=self.device)
        return images

    def grid(self, images: np.ndarray | None = None, cols: int | None = None, scale: int = 2) -> Image.Image:
        """Images (N, H, W) or (N, H, W, 3) uint8 (default: 64 samples) as one picture; Jupyter shows it."""
        images = self.sample(64) if images is None else np.asarray(images)
        if images.ndim not in (3, 4) or images.dtype != np.uint8 or not 1 <= len(images) <= MAX_GRID \
                or (images.ndim == 4 and images.shape[3] != 3):
            raise UsageError(f"images must be uint8 (N, H, W) or (N, H, W, 3) with N in 1..{MAX_GRID:,}, got "
                             f"{images.dtype} {images.shape}")
        cols = None if cols is None else check_whole("cols", cols, 1, len(images))
        return grid(images, scale=check_whole("scale", scale, 1, MAX_SCALE), cols=cols)

    def interpolate(self, walks: int = 8, frames: int = 12, seed: int = 0) -> Image.Image:
        """Walks through the latent space (spherical interpolation between random z) as one picture, a row per
        walk; `sampling.latent_walk` gives the images themselves."""
        walks, frames = check_whole("walks", walks, 1, MAX_WALKS), check_whole("frames", frames, 2, MAX_WALKS)
        seed = check_whole("seed", seed, 0, MAX_SEED)
        return grid_rows(latent_walk(self.generator(), walks, frames, seed, self.device).swapaxes(0, 1),
                         scale=2)

    def evaluate(self, n: int = 10_000, seed: int = 0, two_sample: bool = True) -> dict[str, Any]:
        """The two-sample test's accuracy (`c2st_accuracy`: 0.5 = a classifier cannot tell these digits from
        real ones), FID, IS, precision, recall, ... of `n` samples, each beside its real-data floor
        (`real_floor`); `two_sample=False` leaves the two-sample test out (about 15 s, 2 idle cores)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1000 <= n <= MAX_EVAL_SAMPLES:
            raise UsageError(f"n must be a whole number of samples in 1000..{MAX_EVAL_SAMPLES:,}, got {n!r}")
        seed = check_whole("seed", seed, 0, MAX_SEED)
        return self._evaluate(n, seed, bool(two_sample))

    def _evaluate(self, n: int, seed: int, two_sample: bool) -> dict[str, Any]:
        return evaluate_and_keep(self.path, num_samples=n, seed=seed, device=self.device,
                                 generator=None if self._custom is None else fresh_copy(self._custom),
                                 two_sample=two_sample)[0]

    def explore(self, out: Path | str = "explore.html", with_raw: bool = False) -> Path:
        """Write one self-contained page where G draws and D judges in the browser (new images, sliders over
        latent directions, a walk, a canvas to draw on); `with_raw` also embeds G's raw weights beside their
        moving average. Returns its path."""
        return write_page(out, self._page(bool(with_raw)))

    def _page(self, with_raw: bool) -> str:
        if self._custom is not None:
            raise UsageError("explore draws the package's Generator only, not a run's own generator module")
        return checkpoint_page(self.checkpoint(), self.path.name, with_raw)

    def plots(self) -> dict[str, Image.Image]:
        """The curves (losses, discriminator, speed, metrics when evaluated), written to RUN/plots/ and returned
        as pictures."""
        paths = plots.write_plots(self.run_dir.read(), self.run_dir.plots_dir)
        pictures = {}
        for name, path in paths.items():
            with Image.open(path) as picture:
                pictures[name] = picture.copy()  # in memory: no file left open
        return pictures

    def report(self) -> Report:
        """Write RUN/report.html (and its plots and animations); returns its health notes and verdicts."""
        custom = None if self._custom is None else fresh_copy(self._custom)
        return write_report(self.run_dir, device=self.device, generator=custom)


def fresh_copy(module: nn.Module) -> nn.Module:
    return copy.deepcopy(module).cpu()
