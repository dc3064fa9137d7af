"""The report of a run: plots, animations, health notes and a memorisation check in one report.html.

    report = write_report("runs/try")        # RUN/report.html (+ plots/, progress.gif, interpolation.*)
    report.notes, report.memorisation.verdict, report.skipped

The parts: `plots` (the curves, matplotlib), `animation` (progress.gif, latent walks), `health` (notes
from the metrics log), `memorisation` (nearest training digits), `page` (the HTML), `explore_page` (explore.html,
where G draws in the browser; the report links to it), `tblog` (TensorBoard, an epoch hook for
`train --tensorboard`). Each panel that fails is left out of the page with a note.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vanilla_gan.data import fixed_order, limit_images
from vanilla_gan.data.sources import LoadedImages, load_images
from vanilla_gan.evaluation.memorisation import Memorisation, check_memorisation
from vanilla_gan.gan.sampling import latent_walk, sample_images
from vanilla_gan.report import plots
from vanilla_gan.report.animation import write_progress_gif, write_walk
from vanilla_gan.report.explore_page import checkpoint_page
from vanilla_gan.report.health import Note, average_lag, diversity, format_notes, health_notes
from vanilla_gan.report.page import render
from vanilla_gan.runs.checkpoint import load_generator
from vanilla_gan.runs.rundir import RunDir


@dataclass
class Report:
    """What `write_report` produced: the page, the health notes, the memorisation verdict, skipped panels."""

    path: Path
    notes: list[Note]
    memorisation: Memorisation | None = None
    skipped: list[str] = field(default_factory=list)  # "panel: reason", also shown in the page

    def summary(self) -> str:
        """The health notes, the memorisation verdict and the page's path, as the terminal shows them."""
        lines = ["training health:\n" + format_notes(self.notes)]
        if self.memorisation is not None:
            lines.append(f"memorisation: {self.memorisation.verdict}")
        lines += [f"note: left out of the report: {panel}" for panel in self.skipped]
        lines.append(f"report: {self.path}")
        return "\n".join(lines)


def write_report(run_dir: Path | str | RunDir, device: str | torch.device = "cpu",
                 memorisation_samples: int = 1000, generator: torch.nn.Module | None = None,
                 data: LoadedImages | None = None) -> Report:
    """Write RUN/plots/*.png, RUN/progress.gif, RUN/interpolation.{gif,png}, RUN/explore.html and RUN/report.html.

    The run folder and its checkpoint must be readable (else a UsageError); each panel that fails for
    another reason (matplotlib missing, data set not available offline, ...) is left out with a note.
    `generator`: for a run trained with its own generator module, an instance of it. `data`: the run's whole
    training data when already loaded (data given in Python is not on disk), else it is loaded again.
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    record = run.read()
    run.remove_stale_temps()  # what an interrupted report (or training) left
    state = run.load_checkpoint()
    custom = None if generator is None else copy.deepcopy(generator)  # before its weights are loaded
    generator = load_generator(state, generator=generator)
    skipped: list[str] = []

    def attempt(name: str, make: Callable[[], Any]) -> Any:
        try:
            return make()
        except Exception as exc:  # a panel must never stop the report (or the end of training)
            skipped.append(f"{name}: {exc}")
            return None

    skipped += record.skipped
    figures = attempt("plots", lambda: plots.write_plots(record, run.plots_dir)) or {}
    progress = attempt("progress.gif", lambda: write_progress_gif(record.grids, run.progress_gif))
    walk = attempt("interpolation", lambda: write_walk(latent_walk(generator, device=device), run.walk_gif,
                                                         run.walk_png))
    real, labels = attempt("real images", lambda: _training_images(state, data)) or (None, None)
    real_diversity = None if real is None else diversity(real[fixed_order(len(real))[:64]])
    classes = None if labels is None else sorted(int(c) for c in np.unique(labels))
    lag = attempt("moving average", lambda: _average_lag(state, generator, custom, run.path, device)) or []
    notes = attempt("health notes", lambda: health_notes(record, real_diversity, classes, lag)) or []
    memo = None
    if real is not None:
        memo = attempt("memorisation", lambda: check_memorisation(generator, real, num=memorisation_samples,
                                                                   device=device))
    if memo is not None:
        attempt("memorisation plot", lambda: figures.update(distances=plots.plot_distances(
            memo.generated_distances, memo.real_distances, run.plots_dir / "memorisation.png")))
    two_sample = run.two_sample_png if run.two_sample_png.is_file() else None
    explore = attempt("explore.html", lambda: run.write(run.explore_path, checkpoint_page(
        state, run.path.resolve().name, images=real).encode("utf-8")))  # the images loaded above, not again
    page = render(record, state, figures, progress, walk, real, notes, memo, skipped, two_sample, explore)
    path = run.write(run.report_path, page.encode("utf-8"))
    return Report(path, notes, memo, skipped)


def _average_lag(state: dict[str, Any], average: torch.nn.Module, custom: torch.nn.Module | None, path: Path,
                 device: str | torch.device) -> list[Note]:
    """health.average_lag on 256 images of G's moving average and of G itself, the same noise."""
    if state.get("generator_ema") is None:
        return []
    raw = load_generator(state, raw=True, generator=custom)
    return average_lag(sample_images(average, 256, device=device), sample_images(raw, 256, device=device), path)


def _training_images(state: dict[str, Any], data: LoadedImages | None = None,
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """The run's training images (its --limit applied) and their labels when the data set has them."""
    config = state["train_config"]
    data = data if data is not None else load_images(config["dataset"], config.get("image_size"))
    images = data.images
    labels = data.labels if data.kind in ("name", "idx") else None  # digit classes, for the health notes
    limit = config.get("limit")
    return (np.asarray(limit_images(images, limit)),
            None if labels is None else np.asarray(limit_images(labels, limit)))
