"""The run's curves as PNG files (matplotlib, Agg backend: no display needed).

    paths = write_plots(RunDir(run_dir).read())   # RUN/plots/{losses,discriminator,speed,metrics}.png

- losses.png: loss_D and loss_G per step, smoothed (a moving average), the raw values faint behind.
- discriminator.png: D(x) and D(G(z)) per step, with the 0.5 line where D can no longer tell them apart.
- speed.png: training images per second, per epoch.
- metrics.png: each evaluation metric per evaluated epoch (absent when the run was never evaluated).
Runs without steps.csv (older runs) are plotted from the per-epoch means in metrics.jsonl.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from vanilla_gan.errors import UsageError
from vanilla_gan.fileio import atomic_write
from vanilla_gan.runs.runlog import RunRecord
from vanilla_gan.runs.schema import HEADLINE_METRICS, STEP_KEYS, STEP_STATS

COLOURS = {stat.key: stat.colour for stat in STEP_STATS}
LABELS = {stat.key: stat.label for stat in STEP_STATS}


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or a UsageError saying how to install it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise UsageError("the plots need matplotlib: pip install matplotlib (or reinstall vanilla-gan)") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over `window` values, the same length as `values` (shorter windows at the ends)."""
    if window <= 1 or len(values) < 3:
        return values.astype(float)
    kernel = np.ones(window)
    total = np.convolve(values, kernel, mode="same")
    count = np.convolve(np.ones(len(values)), kernel, mode="same")
    return total / count


def step_series(run: RunRecord) -> tuple[np.ndarray, dict[str, np.ndarray], bool]:
    """(steps, {stat: values}, per_step): from steps.csv, else the per-epoch means at each epoch's last step."""
    if run.steps is not None:
        return run.steps["step"], {k: run.steps[k] for k in STEP_KEYS}, True
    steps = np.array([m["step"] for m in run.metrics], dtype=float)
    return steps, {k: np.array([m[k] for m in run.metrics], dtype=float) for k in STEP_KEYS}, False


def _step_figure(run: RunRecord, keys: tuple[str, ...], title: str, ylabel: str, path: Path,
                 equilibrium: bool = False) -> Path:
    plt = pyplot()
    steps, series, per_step = step_series(run)
    window = max(1, len(steps) // 60)
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    for key in keys:
        values = series[key]
        if per_step and window > 1:
            ax.plot(steps, values, color=COLOURS[key], alpha=0.18, linewidth=0.6)
        ax.plot(steps, smooth(values, window) if per_step else values, color=COLOURS[key], linewidth=1.6,
                label=LABELS[key] + (f" (mean of {window} steps)" if per_step and window > 1 else ""))
    if equilibrium:
        ax.axhline(0.5, color="#555555", linestyle="--", linewidth=1, label="0.5: D cannot tell")
        ax.set_ylim(-0.02, 1.02)
    elif per_step and window > 1:  # a few wild raw steps must not flatten the curves: clip at the 99.5th percentile
        top = max(float(np.percentile(np.concatenate([series[k] for k in keys]), 99.5)),
                  *(float(smooth(series[k], window).max()) for k in keys))
        ax.set_ylim(bottom=min(0.0, *(float(series[k].min()) for k in keys)), top=top * 1.05)
    _epoch_axis(ax, run)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title + ("" if per_step else " (epoch means: no steps.csv in this run)"))
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _epoch_axis(ax: Any, run: RunRecord) -> None:
    """A second x axis on top labelled in epochs, when the run has any."""
    if not run.metrics:
        return
    steps_per_epoch = run.metrics[0]["step"] / max(run.metrics[0]["epoch"], 1)
    top = ax.secondary_xaxis("top", functions=(lambda s: s / steps_per_epoch, lambda e: e * steps_per_epoch))
    top.set_xlabel("epoch", fontsize=8)
    top.tick_params(labelsize=8)


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return atomic_write(path, buffer.getvalue())


def plot_losses(run: RunRecord, path: Path) -> Path:
    return _step_figure(run, ("loss_d", "loss_g"), "Losses", "BCE loss", path)


def plot_discriminator(run: RunRecord, path: Path) -> Path:
    return _step_figure(run, ("d_real", "d_fake"), "D's outputs: real images D(x), generated D(G(z))",
                        "mean probability 'real'", path, equilibrium=True)


def plot_speed(run: RunRecord, path: Path) -> Path:
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs, speed = run.series("images_per_s")
    fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
    ax.plot(epochs, speed, marker="o" if len(epochs) < 30 else None, color="#9467bd")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("images / s")
    ax.set_title(f"Training speed (median {np.median(speed):,.0f} images/s)" if len(speed) else "Training speed")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_metrics(run: RunRecord, path: Path) -> Path | None:
    """One small panel per evaluation metric the run has; None when it was never evaluated."""
    panels = [(m.key, m.label, m.meaning, *run.series(m.key)) for m in HEADLINE_METRICS]
    panels = [p for p in panels if len(p[3])]
    if not panels:
        return None
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    cols = 2 if len(panels) > 1 else 1
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(8, 2.4 * rows), dpi=100, squeeze=False)
    for ax, (key, title, hint, epochs, values) in zip(axes.flat, panels, strict=False):
        ax.plot(epochs, values, marker="o", color="#1f77b4")
        ax.set_title(f"{title} ({hint})", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if key == "modes":
            ax.set_ylim(0, 10.5)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epoch", fontsize=8)
    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path)


def plot_distances(generated: np.ndarray, real: np.ndarray, path: Path) -> Path:
    """Histograms of nearest-training-image distances: generated digits against real ones (memorisation)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    bins = np.linspace(0, max(generated.max(), real.max()) * 1.02, 40)
    ax.hist(real, bins=bins, alpha=0.55, color="#2ca02c", label="real image to its nearest other training image")
    ax.hist(generated, bins=bins, alpha=0.55, color="#d62728", label="generated image to its nearest training image")
    ax.axvline(np.percentile(real, 5), color="#2ca02c", linestyle="--", linewidth=1, label="real 5th percentile")
    ax.set_xlabel("pixel distance (L2, pixels in [0, 1])")
    ax.set_ylabel("images")
    ax.set_title("Nearest-neighbour distances")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def write_plots(run: RunRecord, out_dir: Path | None = None) -> dict[str, Path]:
    """Every curve of the run into `out_dir` (default RUN/plots); returns {name: path} of those written."""
    out_dir = Path(out_dir) if out_dir is not None else run.run_dir / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "losses": plot_losses(run, out_dir / "losses.png"),
        "discriminator": plot_discriminator(run, out_dir / "discriminator.png"),
        "speed": plot_speed(run, out_dir / "speed.png"),
    }
    metrics = plot_metrics(run, out_dir / "metrics.png")
    if metrics is not None:
        paths["metrics"] = metrics
    return paths
