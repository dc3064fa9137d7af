"""The run folder: every path in it and every write to it, in one place.

    run = RunDir("runs/try")
    run.begin(config)                          # a new run: refuses a folder that already holds one
    run.reopen(config, metrics, epochs)        # a resumed run: the logs cut back to its checkpoint's epochs
    run.write_grid(epoch, images); run.append_steps(...); run.save_checkpoint(state, best=True)
    run.append_metrics(record)
    record = run.read()                        # config, metrics, steps, grids, stop: what reports need
    state = load_checkpoint("runs/try")        # a checkpoint file, or a run folder's last.pt

The layout (docs/design.md has the contract):
    config.json        the resolved configuration, the package version, the data set's size
    metrics.jsonl      one JSON object per epoch (schema.STEP_KEYS means, speed, evaluation metrics)
    steps.csv          header, then one row per step: epoch, step and the four schema.STEP_STATS
    samples/epoch_NNNN.png   the fixed-noise grid of each epoch
    checkpoints/last.pt, best.pt, epoch_NNNN.pt
    stop.json          only after a stop on non-finite losses
    report.html, plots/, progress.gif, interpolation.{gif,png}, tensorboard/   derived, rewritable
Every file is written through `fileio` (atomically, or appended and fsynced). At the end of an epoch the
order is: grid, steps.csv rows, best.pt, last.pt, the epoch's copy, metrics.jsonl; a resumed run first cuts
metrics.jsonl and steps.csv back to its checkpoint's epochs, so they never hold an epoch it does not.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vanilla_gan import checkpoint
from vanilla_gan.errors import CheckpointError, UsageError
from vanilla_gan.fileio import append_text, atomic_write
from vanilla_gan.images import save_grid
from vanilla_gan.schema import STEP_KEYS

STEP_COLUMNS = ("epoch", "step", *STEP_KEYS)


@dataclass
class RunRecord:
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


class RunDir:
    """A run folder: its paths, its writes and its read-back. Creating one touches nothing on disk."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ------------------------------------------------------------------ paths

    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    steps_path = property(lambda self: self.path / "steps.csv")
    stop_path = property(lambda self: self.path / "stop.json")
    samples_dir = property(lambda self: self.path / "samples")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    last_checkpoint = property(lambda self: self.checkpoints_dir / "last.pt")
    best_checkpoint = property(lambda self: self.checkpoints_dir / "best.pt")
    report_path = property(lambda self: self.path / "report.html")
    plots_dir = property(lambda self: self.path / "plots")
    progress_gif = property(lambda self: self.path / "progress.gif")
    walk_gif = property(lambda self: self.path / "interpolation.gif")
    walk_png = property(lambda self: self.path / "interpolation.png")
    tensorboard_dir = property(lambda self: self.path / "tensorboard")

    def grid_path(self, epoch: int) -> Path:
        return self.samples_dir / f"epoch_{epoch:04d}.png"

    def epoch_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints_dir / f"epoch_{epoch:04d}.pt"

    def holds_run(self) -> bool:
        return self.config_path.exists() or self.checkpoints_dir.exists()

    # ------------------------------------------------------------------ starting a training session

    def check_new(self) -> None:
        """Refuse a folder that already holds a run (never overwrite one)."""
        if self.holds_run():
            raise UsageError(f"{self.path} already holds a run: pass --resume to continue it, or choose another --out")

    def begin(self, config: dict[str, Any]) -> None:
        """Start a new run here: refuse a folder that holds one, then write config.json and an empty log."""
        self.check_new()
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_config(config)
        self.rewrite_metrics([])

    def reopen(self, config: dict[str, Any], metrics: list[dict[str, Any]], epochs: int) -> None:
        """Continue a run from a checkpoint of `epochs` epochs: its config, its metrics, steps.csv trimmed."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_config(config)
        self.rewrite_metrics(metrics)
        self.trim_steps(epochs)

    # ------------------------------------------------------------------ writes

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write(self.config_path, (json.dumps(config, indent=2) + "\n").encode())

    def rewrite_metrics(self, records: list[dict[str, Any]]) -> None:
        atomic_write(self.metrics_path, "".join(json.dumps(r) + "\n" for r in records).encode())

    def append_metrics(self, record: dict[str, Any]) -> None:
        append_text(self.metrics_path, json.dumps(record) + "\n")

    def append_steps(self, epoch: int, first_step: int, stats: np.ndarray) -> None:
        """Append one epoch's per-step statistics (steps, 4) as rows numbered first_step, first_step + 1, ..."""
        lines = [] if self.steps_path.exists() else [",".join(STEP_COLUMNS)]
        for i, row in enumerate(np.asarray(stats, dtype=np.float64)):
            lines.append(f"{epoch},{first_step + i}," + ",".join(f"{v:.5g}" for v in row))
        append_text(self.steps_path, "\n".join(lines) + "\n")

    def trim_steps(self, epochs: int) -> None:
        """Keep only the rows of epochs 1..`epochs` (rewritten atomically); nothing to do when none are beyond."""
        if not self.steps_path.exists():
            return
        lines = self.steps_path.read_text().splitlines()
        kept = [lines[0]] + [line for line in lines[1:] if line and int(line.split(",", 1)[0]) <= epochs]
        if len(kept) < len(lines):
            atomic_write(self.steps_path, ("\n".join(kept) + "\n").encode())

    def write_grid(self, epoch: int, images: np.ndarray) -> Path:
        """The epoch's fixed-noise grid, uint8 images (N, 28, 28)."""
        return save_grid(images, self.grid_path(epoch))

    def save_checkpoint(self, state: dict[str, Any], best: bool = False, keep: bool = False) -> None:
        """last.pt; first best.pt when `best` (so last.pt never records a best that is not on disk), and a
        kept copy checkpoints/epoch_NNNN.pt when `keep`."""
        if best:
            checkpoint.save(self.best_checkpoint, state)
        checkpoint.save(self.last_checkpoint, state)
        if keep:
            checkpoint.save(self.epoch_checkpoint(state["epoch"]), state)

    def write_stop(self, epoch: int, message: str) -> None:
        atomic_write(self.stop_path, (json.dumps({"epoch": epoch, "message": message}) + "\n").encode())

    def clear_stop(self) -> None:
        self.stop_path.unlink(missing_ok=True)

    def write(self, path: Path, data: bytes) -> Path:
        """A derived file (report, plots, animations) inside the folder, atomically."""
        path = Path(path)
        if self.path.resolve() not in path.resolve().parents:
            raise ValueError(f"{path} is outside the run folder {self.path}")
        return atomic_write(path, data)

    # ------------------------------------------------------------------ reads

    def load_checkpoint(self) -> dict[str, Any]:
        """checkpoints/last.pt, validated."""
        return checkpoint.load(self.last_checkpoint)

    def read_steps(self) -> dict[str, np.ndarray] | None:
        """steps.csv as one float array per column (None when the run has no step log, e.g. an older run)."""
        if not self.steps_path.exists():
            return None
        try:
            table = np.loadtxt(self.steps_path, delimiter=",", skiprows=1, ndmin=2)
        except ValueError as exc:
            raise UsageError(f"{self.steps_path} is damaged ({exc}); delete it to report without per-step plots"
                             ) from exc
        if table.size == 0:
            return None
        return {name: table[:, i] for i, name in enumerate(STEP_COLUMNS)}

    def _check_is_run(self) -> None:
        if not self.path.is_dir():
            raise UsageError(f"no such run folder: {self.path}")
        if not self.config_path.exists() or not self.metrics_path.exists():
            raise UsageError(f"{self.path} is not a vanilla-gan run folder (no config.json or metrics.jsonl); "
                             f"pass the --out folder of `vanilla-gan train`")

    def read_config(self) -> dict[str, Any]:
        self._check_is_run()
        try:
            return json.loads(self.config_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{self.config_path} is damaged ({exc})") from exc

    def read_metrics(self) -> list[dict[str, Any]]:
        self._check_is_run()
        try:
            return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{self.metrics_path} is damaged ({exc})") from exc

    def read(self) -> RunRecord:
        """config.json, metrics.jsonl, steps.csv, the grids and stop.json; not a run folder: a UsageError."""
        config, metrics = self.read_config(), self.read_metrics()
        grids = []
        for path in sorted(self.samples_dir.glob("epoch_*.png")):
            try:
                grids.append((int(path.stem.split("_")[1]), path))
            except ValueError:
                continue
        stop = None
        if self.stop_path.exists():
            try:
                stop = json.loads(self.stop_path.read_text())
            except json.JSONDecodeError:
                stop = {"message": "stop.json is unreadable"}
        return RunRecord(self.path, config, metrics, self.read_steps(), grids, stop)


def resolve_checkpoint(path: Path | str) -> Path:
    """A checkpoint file, or a run folder's checkpoints/last.pt."""
    path = Path(path)
    if path.is_dir():
        run = RunDir(path)
        if not run.last_checkpoint.is_file():
            raise CheckpointError(f"{path} is a folder without checkpoints/last.pt: is it a vanilla-gan run folder?")
        return run.last_checkpoint
    if not path.exists():
        raise CheckpointError(f"no such checkpoint or run folder: {path}")
    return path


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """The checkpoint of a file or of a run folder (its last.pt), validated."""
    return checkpoint.load(resolve_checkpoint(path))
