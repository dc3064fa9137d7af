"""The shipped weights as a run: `pretrained() -> Pretrained`, a `Run` that needs no training and no run folder.

    run = vg.pretrained()                # assets/pretrained.pt, SHA-256 checked (shipped.py)
    images = run.sample(8)               # uint8 (8, 28, 28); run.grid(), run.interpolate(), run.evaluate()
    run.provenance                       # how they were trained: command, seed, epochs, machine, metrics, date
    run.explore("play.html")             # the page where G draws and D judges in the browser
    vg.pretrained("my.pt")               # another weights file (its my.json beside it); $VANILLA_GAN_PRETRAINED too

`sample`, `grid`, `interpolate` and `evaluate` are Run's own; `plots` and `report` need a run folder's logs, which
shipped weights do not have: they say so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vanilla_gan.api.run import Run
from vanilla_gan.config import to_dict
from vanilla_gan.errors import UsageError
from vanilla_gan.evaluation.evaluator import evaluate_generator
from vanilla_gan.report import Report
from vanilla_gan.report.explore_page import weights_page
from vanilla_gan.runs.shipped import Weights, load_weights
from vanilla_gan.training.process import resolve_device


def pretrained(path: Path | str | None = None, device: str = "auto") -> Pretrained:
    """The shipped G and D, ready to sample from: no training, no network. `path`: another weights file written by
    scripts/make_pretrained.py (default: $VANILLA_GAN_PRETRAINED, else the package's assets/pretrained.pt)."""
    if path is not None and (isinstance(path, bytes) or not isinstance(path, (str, os.PathLike))):
        raise UsageError(f"pretrained needs a weights file's path (a str or a Path), got a {type(path).__name__}")
    return Pretrained(load_weights(path), device=resolve_device(device))


class Pretrained(Run):
    """Shipped weights as a Run: sample, grid, interpolate, evaluate and explore; their provenance."""

    def __init__(self, weights: Weights, device: str | torch.device = "cpu"):
        super().__init__(weights.path, device=device)
        self.weights = weights

    def __repr__(self) -> str:
        record = self.provenance
        return f"Pretrained({str(self.path)!r}, {record.get('epochs', '?')} epochs, seed {record.get('seed', '?')})"

    @property
    def provenance(self) -> dict[str, Any]:
        """The JSON beside the weights: command, seed, epochs, machine, metrics, sha256, date."""
        return self.weights.provenance

    @property
    def config(self) -> dict[str, Any]:
        """Like a run's config.json: {"model": ..., "train": ...} (from the provenance)."""
        return {"model": to_dict(self.weights.model_config), "train": self.provenance.get("train", {})}

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The trained run's last evaluated epoch's record, as a one-item list (empty when it was not evaluated)."""
        record = self.provenance.get("metrics")
        return [record] if isinstance(record, dict) and record else []

    def checkpoint(self) -> dict[str, Any]:
        raise UsageError("the shipped weights are not a checkpoint (no optimizer state, no logs): they cannot be "
                         "resumed; see .generator(), .discriminator() and .provenance")

    def generator(self, raw: bool = False) -> nn.Module:
        """G: z (B, latent_dim) -> images (B, H, W[, 3]) in (-1, 1): the moving average unless `raw`."""
        return self.weights.generator(raw).to(self.device)

    def discriminator(self) -> nn.Module:
        """D: images (B, H, W[, 3]) in [-1, 1] -> the probability (B,) that each is real, in eval mode."""
        return self.weights.discriminator().to(self.device)

    def _evaluate(self, n: int, seed: int, two_sample: bool) -> dict[str, Any]:
        train = self.provenance.get("train", {})
        dataset = train.get("dataset", "digits") if isinstance(train, dict) else "digits"
        result = evaluate_generator(self.generator(), dataset, n, seed, self.device, two_sample=two_sample,
                                    image_size=train.get("image_size") if isinstance(train, dict) else None)
        epochs = self.provenance.get("epochs")
        return {"epoch": epochs, **result} if isinstance(epochs, int) else result

    def _page(self, with_raw: bool) -> str:
        return weights_page(self.weights, with_raw)

    def plots(self) -> dict[str, Any]:
        raise UsageError("the shipped weights have no training logs to plot: their metrics are in .provenance")

    def report(self) -> Report:
        raise UsageError("the shipped weights have no run folder to report on: their metrics are in .provenance; "
                         "run.explore('page.html') writes the page to play with them")
