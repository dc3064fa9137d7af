"""A run's record as it grows and as reports read it back: config.json, metrics.jsonl, steps.csv, the epoch
grids, two_sample.png and stop.json. The middle layer of `rundir.RunDir` (runfolder.py below it holds the paths,
the rule and the lock; rundir.py above it the checkpoints and the start of a session).

    log = RunLog("runs/try")
    log.write_config(config); log.append_steps(epoch, first_step, stats); log.write_grid(epoch, pixels)
    log.append_metrics(record)
    log.trim_steps(epochs)                     # a resume: steps.csv cut back to its checkpoint's epochs
    record = log.read()                        # a RunRecord: config, metrics, steps, grids, stop

Every write goes through `fileio` (atomically, or appended and fsynced). Reading is tolerant: a torn or damaged
line of metrics.jsonl or steps.csv, or an unreadable grid, is left out and named in `RunRecord.skipped`, so a
report of a run being trained (or half-written) still works.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vanilla_gan.data import images
from vanilla_gan.config import is_finite_number
from vanilla_gan.errors import UsageError
from vanilla_gan.fileio import append_text, atomic_write, parse_json
from vanilla_gan.runs.runfolder import RunFolder
from vanilla_gan.runs.schema import STEP_KEYS

STEP_COLUMNS = ("epoch", "step", *STEP_KEYS)
RECORD_KEYS = ("epoch", "step", *STEP_KEYS, "images_per_s", "elapsed_s")  # every metrics.jsonl line has them
# The most a file of a run folder is read as: far above what a run writes (config.json: a few kB; a metrics line:
# ~1 kB an epoch; steps.csv: ~60 bytes a step), far below what would fill the memory.
JSON_LIMIT, METRICS_LIMIT, STEPS_LIMIT = 16 << 20, 256 << 20, 4 << 30


@dataclass
class RunRecord:
    """What a run folder holds, read back: enough for plots, health notes and the report."""

    run_dir: Path
    config: dict[str, Any]
    metrics: list[dict[str, Any]]
    steps: dict[str, np.ndarray] | None
    grids: list[tuple[int, Path]] = field(default_factory=list)  # (epoch, samples/epoch_NNNN.png), in order
    stop: dict[str, Any] | None = None  # stop.json: why the last training session failed, if it did
    skipped: list[str] = field(default_factory=list)  # what could not be read, e.g. "metrics.jsonl line 3: ..."
    evaluation: dict[str, Any] | None = None  # evaluation.json: the last `vanilla-gan evaluate` of the run

    def metrics_with_evaluation(self) -> list[dict[str, Any]]:
        """The metrics, with evaluation.json's result merged into its epoch's record when it is newer than the
        run's own last evaluation (or the run made none): what the report shows."""
        if self.evaluation is None:
            return self.metrics
        result = self.evaluation["result"]
        own = [m["epoch"] for m in self.metrics if "c2st_accuracy" in m or "fid" in m]
        at = [i for i, m in enumerate(self.metrics) if m.get("epoch") == result["epoch"]]
        if not at or (own and own[-1] > result["epoch"]) or (own and own[-1] == result["epoch"]
                                                              and "c2st_accuracy" in self.metrics[at[0]]):
            return self.metrics
        merged = list(self.metrics)
        merged[at[0]] = {**merged[at[0]], **{k: v for k, v in result.items() if k not in ("epoch", "dataset")},
                         "evaluated_by": self.evaluation}
        return merged

    @property
    def train(self) -> dict[str, Any]:
        """config.json's "train" part ({} when the file was edited into something else)."""
        train = self.config.get("train")
        return train if isinstance(train, dict) else {}

    @property
    def grid_size(self) -> int:
        """How many digits each epoch's grid holds."""
        size = self.train.get("grid_size")
        return size if isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= 1024 else 64

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(epochs, values) of the epochs whose record has a finite `key` (e.g. 'fid' on evaluated epochs)."""
        rows = [(m["epoch"], m[key]) for m in self.metrics
                if isinstance(m.get(key), (int, float)) and math.isfinite(m[key])]
        return np.array([r[0] for r in rows], dtype=int), np.array([r[1] for r in rows], dtype=float)


class RunLog(RunFolder):
    """A run folder's logs and pictures: written epoch by epoch, cut back on resume, read back as a RunRecord."""

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
        """Keep only the whole rows of epochs 1..`epochs` (rewritten atomically): a torn last row, rows of
        epochs the checkpoint does not hold and damaged rows go."""
        if not self.steps_path.exists():
            return
        text = self.read_text(self.steps_path, STEPS_LIMIT)
        rows = [(line, _step_row(line)) for line in text.splitlines()[1:]]
        kept = [line for line, row in rows if row is not None and row[0] <= epochs]
        if len(kept) < len(rows) or not text.endswith("\n"):
            atomic_write(self.steps_path, ("\n".join([",".join(STEP_COLUMNS), *kept]) + "\n").encode())

    def write_grid(self, epoch: int, pixels: np.ndarray) -> Path:
        """The epoch's fixed-noise grid, uint8 images (N, 28, 28)."""
        return images.save_grid(pixels, self.grid_path(epoch))

    def write_two_sample(self, pictures: dict[str, np.ndarray]) -> Path:
        """two_sample.png: the generated digits the two-sample test found easiest and hardest to spot, then
        real ones (uint8 (32, 28, 28) each, under "easiest", "hardest", "real"), three grids side by side."""
        panels = [images.grid(pictures[key], scale=images.GRID_SCALE, cols=8) for key in ("easiest", "hardest", "real")]
        return atomic_write(self.two_sample_png, images.png_bytes(images.side_by_side(panels)))

    def write_stop(self, epoch: int, message: str) -> None:
        atomic_write(self.stop_path, (json.dumps({"epoch": epoch, "message": message}) + "\n").encode())

    def write_evaluation(self, checkpoint: Path, options: dict[str, Any], result: dict[str, Any]) -> None:
        """What `vanilla-gan evaluate` (or `run.evaluate()`) computed, kept beside the run's own evaluations for the
        report: the checkpoint scored (relative to the run folder), the options, the time, the result."""
        record = {"made": time.strftime("%Y-%m-%d %H:%M:%S"), "checkpoint": str(checkpoint), **options,
                  "result": result}
        atomic_write(self.evaluation_path, (json.dumps(record) + "\n").encode())

    def read_evaluation(self, skipped: list[str]) -> dict[str, Any] | None:
        """evaluation.json, or None when there is none or it is unreadable (then said in `skipped`)."""
        if not self.check_entry(self.evaluation_path):
            return None
        try:
            record = parse_json(self.read_text(self.evaluation_path, JSON_LIMIT))
        except ValueError:
            record = None
        if not (isinstance(record, dict) and isinstance(record.get("result"), dict)
                and isinstance(record["result"].get("epoch"), int)):
            skipped.append("evaluation.json: unreadable, left out")
            return None
        return record

    def clear_stop(self) -> None:
        self.stop_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ reads

    def _check_is_run(self, *needed: Path) -> None:
        if not self.path.exists():
            raise UsageError(f"no such run folder: {self.path}")
        if not self.path.is_dir():
            raise UsageError(f"{self.path} is a file, not a run folder: pass the --out folder of `vanilla-gan train`")
        self.check_layout()
        if not all(path.exists() for path in needed):
            raise UsageError(f"{self.path} is not a vanilla-gan run folder (no config.json or metrics.jsonl); "
                             f"pass the --out folder of `vanilla-gan train`")

    def read_config(self) -> dict[str, Any]:
        self._check_is_run(self.config_path)
        try:
            config = parse_json(self.read_text(self.config_path, JSON_LIMIT))
        except ValueError as exc:
            raise UsageError(f"{self.config_path} is damaged ({exc}); a resume rewrites it from the checkpoint"
                             ) from exc
        if not isinstance(config, dict):
            raise UsageError(f"{self.config_path} is damaged (not a JSON object); a resume rewrites it")
        return config

    def read_metrics(self, skipped: list[str] | None = None) -> list[dict[str, Any]]:
        """The whole records of metrics.jsonl; lines that are torn or lack a key are named in `skipped`."""
        self._check_is_run(self.metrics_path)
        records = []
        for number, line in enumerate(self.read_text(self.metrics_path, METRICS_LIMIT).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = parse_json(line)
                complete = isinstance(record, dict) and all(is_finite_number(record.get(k)) for k in RECORD_KEYS)
            except ValueError:
                complete = False
            if complete:
                records.append(record)
            elif skipped is not None:
                skipped.append(f"metrics.jsonl line {number}: torn or damaged, left out")
        return records

    def read_steps(self, skipped: list[str] | None = None) -> dict[str, np.ndarray] | None:
        """steps.csv as one float array per column (None when the run has no step log, e.g. an older run)."""
        if not self.steps_path.exists():
            return None
        rows = []
        for number, line in enumerate(self.read_text(self.steps_path, STEPS_LIMIT).splitlines()[1:], start=2):
            row = _step_row(line)
            if row is not None:
                rows.append(row)
            elif skipped is not None and line.strip():
                skipped.append(f"steps.csv line {number}: torn or damaged, left out")
        if not rows:
            return None
        table = np.array(rows, dtype=float)
        return {name: table[:, i] for i, name in enumerate(STEP_COLUMNS)}

    def grid_files(self) -> list[tuple[int, Path]]:
        """(epoch, samples/epoch_NNNN.png) of every grid on disk, in order (unchecked: `read` checks them)."""
        grids = []
        for path in sorted(self.samples_dir.glob("epoch_*.png")):
            number = path.stem.split("_")[1]
            if number.isdigit():
                grids.append((int(number), path))
        return grids

    def read(self) -> RunRecord:
        """config.json, metrics.jsonl, steps.csv, the grids and stop.json; not a run folder: a UsageError."""
        skipped: list[str] = []
        self._check_is_run(self.config_path, self.metrics_path)
        config, metrics = self.read_config(), self.read_metrics(skipped)
        grids = []
        for epoch, path in self.grid_files():
            try:
                self.check_entry(path)  # a FIFO would block the PNG reader for ever
                with Image.open(path) as picture:
                    picture.verify()
                grids.append((epoch, path))
            except Exception:  # PIL raises many types for damaged images
                skipped.append(f"{path.name}: not a readable PNG, left out")
        stop = None
        if self.stop_path.exists():
            try:
                stop = parse_json(self.read_text(self.stop_path, JSON_LIMIT))
            except ValueError:
                stop = {"message": "stop.json is unreadable"}
            if not isinstance(stop, dict):
                stop = {"message": "stop.json is unreadable"}
        evaluation = self.read_evaluation(skipped)
        return RunRecord(self.path, config, metrics, self.read_steps(skipped), grids, stop, skipped, evaluation)


def _step_row(line: str) -> tuple[float, ...] | None:
    """A whole steps.csv row as numbers (epoch first), or None for a torn or damaged one."""
    parts = line.split(",")
    if len(parts) != len(STEP_COLUMNS):
        return None
    try:
        row = tuple(float(part) for part in parts)
    except ValueError:
        return None
    return row if row[0].is_integer() and row[1].is_integer() else None
