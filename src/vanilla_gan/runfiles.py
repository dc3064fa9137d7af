"""Reading a run folder back, and its per-step log (`steps.csv`), for reports, plots and health notes.

    append_steps(run_dir, epoch, first_step, stats)   # the trainer, at the end of each epoch
    trim_steps(run_dir, epochs)                       # the trainer, when (re)starting: drop epochs > `epochs`
    run = load_run(run_dir)                           # config, metrics (one dict per epoch), steps, grids

steps.csv has a header line then one row per training step: epoch, step, loss_d, loss_g, d_real, d_fake
(the four statistics the trainer records for every step; step counts from 1 over the whole run). Rows are
appended when an epoch ends, before its checkpoint is written; a resumed run first drops rows of epochs
that its checkpoint does not hold, so the file matches the checkpoint like metrics.jsonl does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vanilla_gan.errors import UsageError

STEPS_FILE = "steps.csv"
STEP_COLUMNS = ("epoch", "step", "loss_d", "loss_g", "d_real", "d_fake")


def append_steps(run_dir: Path, epoch: int, first_step: int, stats: np.ndarray) -> None:
    """Append one epoch's per-step statistics (steps, 4) as rows numbered first_step, first_step + 1, ..."""
    path = Path(run_dir) / STEPS_FILE
    lines = [] if path.exists() else [",".join(STEP_COLUMNS)]
    for i, (loss_d, loss_g, d_real, d_fake) in enumerate(np.asarray(stats, dtype=np.float64)):
        lines.append(f"{epoch},{first_step + i},{loss_d:.5g},{loss_g:.5g},{d_real:.5g},{d_fake:.5g}")
    with open(path, "a") as f:
        f.write("\n".join(lines) + "\n")


def trim_steps(run_dir: Path, epochs: int) -> None:
    """Keep only the rows of epochs 1..`epochs` (rewritten atomically); nothing to do when none are beyond."""
    path = Path(run_dir) / STEPS_FILE
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line and int(line.split(",", 1)[0]) <= epochs]
    if len(kept) == len(lines):
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(kept) + "\n")
    tmp.replace(path)


def read_steps(run_dir: Path) -> dict[str, np.ndarray] | None:
    """steps.csv as one float array per column (None when the run has no step log, e.g. an older run)."""
    path = Path(run_dir) / STEPS_FILE
    if not path.exists():
        return None
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as exc:
        raise UsageError(f"{path} is damaged ({exc}); delete it to report without per-step plots") from exc
    if table.size == 0:
        return None
    return {name: table[:, i] for i, name in enumerate(STEP_COLUMNS)}


@dataclass
class Run:
    """What a run folder holds, read back: enough for plots, health notes and the report."""

    run_dir: Path
    config: dict[str, Any]
    metrics: list[dict[str, Any]]
    steps: dict[str, np.ndarray] | None
    grids: list[tuple[int, Path]] = field(default_factory=list)  # (epoch, samples/epoch_NNNN.png), in order
    stop: dict[str, Any] | None = None  # stop.json: why the last training session failed, if it did

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(epochs, values) of the epochs whose record has a finite `key` (e.g. 'fid' on evaluated epochs)."""
        rows = [(m["epoch"], m[key]) for m in self.metrics
                if isinstance(m.get(key), (int, float)) and math.isfinite(m[key])]
        return np.array([r[0] for r in rows], dtype=int), np.array([r[1] for r in rows], dtype=float)


def load_run(run_dir: Path) -> Run:
    """Read config.json, metrics.jsonl, steps.csv and the grid list; a folder that is not a run is a UsageError."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"no such run folder: {run_dir}")
    config_path, metrics_path = run_dir / "config.json", run_dir / "metrics.jsonl"
    if not config_path.exists() or not metrics_path.exists():
        raise UsageError(f"{run_dir} is not a vanilla-gan run folder (no config.json or metrics.jsonl); "
                         f"pass the --out folder of `vanilla-gan train`")
    try:
        config = json.loads(config_path.read_text())
        metrics = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{run_dir}'s config.json or metrics.jsonl is damaged ({exc})") from exc
    grids = []
    for path in sorted((run_dir / "samples").glob("epoch_*.png")):
        try:
            grids.append((int(path.stem.split("_")[1]), path))
        except ValueError:
            continue
    stop = None
    if (run_dir / "stop.json").exists():
        try:
            stop = json.loads((run_dir / "stop.json").read_text())
        except json.JSONDecodeError:
            stop = {"message": "stop.json is unreadable"}
    return Run(run_dir, config, metrics, read_steps(run_dir), grids, stop)
