"""The run folder: every path in it and every write to it, in one place, and the lock that makes one writer.

    run = RunDir("runs/try")
    run.lock()                                 # one training process per folder (train.lock, fcntl)
    run.begin(config)                          # a new run: refuses a folder that holds one
    run.reopen(config, metrics, epochs)        # a resumed run: the logs cut back to its checkpoint's epochs
    run.write_grid(epoch, images); run.append_steps(...); run.save_checkpoint(state, best=True)
    run.append_metrics(record)
    run.unlock()
    record = run.read()                        # config, metrics, steps, grids, stop: what reports need
    state = load_checkpoint("runs/try")        # a checkpoint file, or a run folder's last.pt

The layout (docs/design.md has the contract):
    config.json        the resolved configuration, the package version, the data set's size
    metrics.jsonl      one JSON object per epoch (schema.STEP_KEYS means, speed, evaluation metrics)
    steps.csv          header, then one row per step: epoch, step and the four schema.STEP_STATS
    samples/epoch_NNNN.png   the fixed-noise grid of each epoch
    checkpoints/last.pt, best.pt, epoch_NNNN.pt
    stop.json          only after a stop on non-finite losses
    train.lock         the lock a training process holds (its PID inside); harmless when stale
    report.html, plots/, progress.gif, interpolation.{gif,png}, explore.html, tensorboard/   derived, rewritable
Every file is written through `fileio` (atomically, or appended and fsynced). At the end of an epoch the
order is: grid, steps.csv rows, best.pt, the epoch's copy, last.pt, metrics.jsonl; a resumed run first cuts
metrics.jsonl, steps.csv and the grids back to its checkpoint's epochs, so they never hold an epoch it does
not. A folder holds a run once it holds last.pt: a run killed before its first one starts over.
Reading is tolerant: a torn or damaged line of metrics.jsonl or steps.csv, or an unreadable grid, is left
out and named in `RunRecord.skipped`, so a report of a run being trained (or half-written) still works.
Run folders travel (downloads, shared disks), so every command first applies one rule (`check_layout`): each
file and folder above is a regular file (or folder) inside the run folder, never a link out of it, a FIFO or a
device; reads are bounded in size, and a resumed checkpoint must be this folder's run (`check_belongs`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vanilla_gan import checkpoint, images
from vanilla_gan.config import RESUMABLE, RETIRED, is_finite_number, option
from vanilla_gan.errors import CheckpointError, UsageError
from vanilla_gan.fileio import (
    append_text,
    atomic_write,
    describe_write_error,
    fsync_folder,
    kind_of,
    parse_json,
    read_bounded,
    remove_stale_temps,
)
from vanilla_gan.lock import LOCK_NAME, FolderLock
from vanilla_gan.schema import STEP_KEYS

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


class RunDir:
    """A run folder: its paths, its writes and its read-back. Creating one touches nothing on disk."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = FolderLock(self.path)

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
    two_sample_png = property(lambda self: self.path / "two_sample.png")
    explore_path = property(lambda self: self.path / "explore.html")

    def grid_path(self, epoch: int) -> Path:
        return self.samples_dir / f"epoch_{epoch:04d}.png"

    def epoch_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints_dir / f"epoch_{epoch:04d}.pt"

    def holds_run(self) -> bool:
        """A run is there once last.pt is, or any checkpoint but those a start that died before its first last.pt
        can leave (best.pt, epoch_0001.pt): a folder of someone's other checkpoints is never started over."""
        left = {self.best_checkpoint.name, self.epoch_checkpoint(1).name}
        return self.last_checkpoint.exists() or (self.checkpoints_dir.is_dir() and any(
            p.suffix == ".pt" and p.name not in left for p in self.checkpoints_dir.iterdir()))

    # ------------------------------------------------------------------ the rule for its files

    def check_layout(self) -> None:
        """The rule every command goes through before it reads or writes here: each file and folder of the run
        is a regular file (or folder) inside the run folder; a link out of it (a write would land outside, a
        delete would remove someone's files) or a FIFO or device (a read would block for ever) is a UsageError
        naming it. Files are then read bounded (`read_bounded`) and written without following links (fileio)."""
        for folder in (self.path, self.samples_dir, self.checkpoints_dir, self.plots_dir, self.tensorboard_dir):
            self.check_entry(folder, folder=True)
        for path in (self.config_path, self.metrics_path, self.steps_path, self.stop_path, self.report_path,
                     self.progress_gif, self.walk_gif, self.walk_png, self.last_checkpoint, self.best_checkpoint,
                     self.explore_path):
            self.check_entry(path)

    def check_entry(self, path: Path, folder: bool = False) -> bool:
        """Whether `path` exists, once it is checked to be a regular file (or a folder) inside the run folder
        (a link to one inside is accepted); anything else is a one-line UsageError saying what to remove."""
        try:
            status = os.lstat(path)
            if stat.S_ISLNK(status.st_mode):
                target = path.resolve()
                inside = self.path.resolve()
                if target != inside and inside not in target.parents:
                    raise UsageError(f"{path} is a symbolic link out of the run folder (to {target}): vanilla-gan "
                                     f"reads and writes only inside {self.path}; remove the link")
                status = os.stat(path)
        except FileNotFoundError:
            return False
        except (OSError, RuntimeError) as exc:  # a loop of links, a folder we may not read
            raise UsageError(f"cannot use {path}: {getattr(exc, 'strerror', None) or exc}; remove it") from None
        if stat.S_ISDIR(status.st_mode) != folder or not (folder or stat.S_ISREG(status.st_mode)):
            raise UsageError(f"{path} is {kind_of(status.st_mode)}, not a {'folder' if folder else 'regular file'}: "
                             f"remove it (a run folder holds only what vanilla-gan writes)")
        return True

    def _read(self, path: Path, limit: int) -> str:
        """A run file's text, checked by the rule and bounded."""
        self.check_entry(path)
        return read_bounded(path, limit).decode(errors="replace")

    def remove_stale_temps(self) -> None:
        """The temporary files of writers that died (an interrupted report, a killed training)."""
        self.check_layout()
        remove_stale_temps(self.path, self.samples_dir, self.checkpoints_dir, self.plots_dir)

    # ------------------------------------------------------------------ one writer

    def lock(self) -> None:
        """Take the folder's lock (lock.py), then remove the temporary files of writers that died."""
        if not self._lock.held:
            self._lock.acquire()
            try:
                self.remove_stale_temps()  # the rule first: never delete (or write) through a link
            except BaseException:
                self._lock.release()
                raise

    @property
    def locked(self) -> bool:
        """Whether this RunDir holds the folder's lock."""
        return self._lock.held

    def unlock(self) -> None:
        self._lock.release()

    # ------------------------------------------------------------------ starting a training session

    def start(self, config: dict[str, Any], metrics: list[dict[str, Any]], epochs: int, fresh: bool) -> bool:
        """Lock (unless this RunDir holds the lock), then `begin` a fresh run or `reopen` one at a checkpoint of
        `epochs` epochs; returns whether this call took the lock."""
        took = not self.locked
        self.lock()
        try:
            if fresh:
                self.begin(config)
            else:
                self.reopen(config, metrics, epochs)
        except BaseException:
            if took:
                self.unlock()
            raise
        return took

    def check_replaceable(self) -> None:
        """For overwrite=True: a folder with files must hold a run of this package (a config.json naming a
        package_version, or a last.pt that loads as ours), else a UsageError; nothing is removed. An empty folder
        (or one holding only the lock this session took) is a new run's."""
        if not self.path.exists() or all(p.name == LOCK_NAME for p in self.path.iterdir()):
            return
        self.check_layout()
        try:
            ours = "package_version" in self.read_config()
        except UsageError:
            ours = False
        if not ours and self.last_checkpoint.is_file():
            checkpoint.load(self.last_checkpoint)  # a CheckpointError line when it is not one of ours
            ours = True
        if not ours:
            raise UsageError(f"{self.path} is not a vanilla-gan run folder: --overwrite replaces only a run of this "
                             f"package; choose another --out")

    def clear_run(self) -> None:
        """For overwrite=True: remove the run held here (`check_replaceable` first), its own files only: other files
        stay."""
        self.check_replaceable()
        if not self.path.exists():
            return
        for name in (self.config_path, self.metrics_path, self.steps_path, self.stop_path, self.report_path,
                     self.progress_gif, self.walk_gif, self.walk_png, self.two_sample_png, self.explore_path):
            name.unlink(missing_ok=True)
        for folder in (self.samples_dir, self.checkpoints_dir, self.plots_dir, self.tensorboard_dir):
            if folder.is_dir():
                shutil.rmtree(folder)

    def check_new(self) -> None:
        """Refuse a folder that already holds a run (never overwrite one)."""
        if self.holds_run():
            raise UsageError(f"{self.path} already holds a run: pass --resume to continue it, or choose another --out")

    def begin(self, config: dict[str, Any]) -> None:
        """Start a new run here: refuse a folder that holds one; where a start died before its first checkpoint
        (config.json is there), clear what it left; then write config.json and an empty log."""
        self.check_new()
        if self.steps_path.exists() and not self.config_path.exists():
            raise UsageError(f"{self.path} holds a steps.csv but no config.json: not a vanilla-gan run folder; "
                             f"choose another --out")
        self._prepare()
        if self.config_path.exists():
            for stale in (self.steps_path, self.stop_path, self.best_checkpoint, self.epoch_checkpoint(1),
                          *self.samples_dir.glob("epoch_*.png")):
                stale.unlink(missing_ok=True)
        self.write_config(config)
        self.rewrite_metrics([])

    def reopen(self, config: dict[str, Any], metrics: list[dict[str, Any]], epochs: int) -> None:
        """Continue a run from a checkpoint of `epochs` epochs: its config, its metrics, steps.csv and the grids
        cut back to its epochs."""
        self._prepare()
        self.write_config(config)
        self.rewrite_metrics(metrics)
        self.trim_steps(epochs)
        for epoch, grid in self._grid_files():
            if epoch > epochs:
                grid.unlink()
        for kept in self.checkpoints_dir.glob("epoch_*.pt"):  # kept copies of epochs the resume retrains
            number = kept.stem.split("_")[1]
            if number.isdigit() and int(number) > epochs:
                kept.unlink()
        if self.best_checkpoint.exists() and checkpoint.epoch_of(self.best_checkpoint) > epochs:
            self.best_checkpoint.unlink()  # written just before a crash: the resume writes it again

    def _prepare(self) -> None:
        """The folders a run writes into, made durably (at the start of a session only: a folder that vanishes
        later is an error, not a new folder)."""
        for folder in (self.path, self.samples_dir, self.checkpoints_dir):
            try:
                if not folder.is_dir():
                    folder.mkdir(parents=True)
                    fsync_folder(folder.parent)
            except OSError as exc:
                raise UsageError(describe_write_error(folder, exc)) from exc

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
        text = self._read(self.steps_path, STEPS_LIMIT)
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

    def save_checkpoint(self, state: dict[str, Any], best: bool = False, keep: bool = False) -> None:
        """best.pt when `best`, the kept copy checkpoints/epoch_NNNN.pt when `keep`, then last.pt: a crash before
        last.pt is replaced retrains the epoch and writes them again, so none is ever missing or stale."""
        if best:
            checkpoint.save(self.best_checkpoint, state)
        if keep:
            checkpoint.save(self.epoch_checkpoint(state["epoch"]), state)
        checkpoint.save(self.last_checkpoint, state)

    def write_stop(self, epoch: int, message: str) -> None:
        atomic_write(self.stop_path, (json.dumps({"epoch": epoch, "message": message}) + "\n").encode())

    def clear_stop(self) -> None:
        self.stop_path.unlink(missing_ok=True)

    def write(self, path: Path, data: bytes) -> Path:
        """A derived file (report, plots, animations) inside the folder, atomically; its folder is made."""
        path = Path(path)
        path.parent.mkdir(exist_ok=True)
        self.check_entry(path.parent, folder=True)
        return atomic_write(path, data)

    # ------------------------------------------------------------------ reads

    def check_belongs(self, state: dict[str, Any]) -> None:
        """A checkpoint to resume here must be this folder's run: what config.json says of the model, the
        training (but what a resume may change), the seed and the data must be what the checkpoint holds (a
        config.json that cannot be read is rewritten from the checkpoint instead)."""
        try:
            config = self.read_config()
        except UsageError:
            return
        ours = {**_plain(config.get("model")), **_plain(config.get("train"))}
        theirs = {**_plain(state["model_config"]), **_plain(state["train_config"])}
        differ = [option(k) for k in sorted(ours.keys() & theirs.keys())  # an older version may lack a key
                  if k not in RESUMABLE + RETIRED and ours[k] != theirs[k]]
        data, saved = config.get("data_sha256"), state.get("data_sha256")
        if data and saved and data != saved:  # older runs have no fingerprint
            differ.append("training images")
        if differ:
            raise UsageError(f"{self.last_checkpoint} is not this run's checkpoint: its {', '.join(differ)} differ "
                             f"from {self.config_path}; put the run's own last.pt back, or resume that checkpoint "
                             f"in its own folder")

    def load_checkpoint(self) -> dict[str, Any]:
        """checkpoints/last.pt, validated."""
        self.check_layout()
        return checkpoint.load(self.last_checkpoint)

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
            config = parse_json(self._read(self.config_path, JSON_LIMIT))
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
        for number, line in enumerate(self._read(self.metrics_path, METRICS_LIMIT).splitlines(), start=1):
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
        for number, line in enumerate(self._read(self.steps_path, STEPS_LIMIT).splitlines()[1:], start=2):
            row = _step_row(line)
            if row is not None:
                rows.append(row)
            elif skipped is not None and line.strip():
                skipped.append(f"steps.csv line {number}: torn or damaged, left out")
        if not rows:
            return None
        table = np.array(rows, dtype=float)
        return {name: table[:, i] for i, name in enumerate(STEP_COLUMNS)}

    def _grid_files(self) -> list[tuple[int, Path]]:
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
        for epoch, path in self._grid_files():
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
                stop = parse_json(self._read(self.stop_path, JSON_LIMIT))
            except ValueError:
                stop = {"message": "stop.json is unreadable"}
            if not isinstance(stop, dict):
                stop = {"message": "stop.json is unreadable"}
        return RunRecord(self.path, config, metrics, self.read_steps(skipped), grids, stop, skipped)


def _plain(value: Any) -> dict[str, Any]:
    """A config dict as JSON holds it (tuples as lists), {} for anything else."""
    return json.loads(json.dumps(value)) if isinstance(value, dict) else {}


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


def resolve_checkpoint(path: Path | str) -> Path:
    """A checkpoint file, or a run folder's checkpoints/last.pt."""
    path = Path(path)
    if path.is_dir():
        run = RunDir(path)
        run.check_layout()
        if not run.last_checkpoint.is_file():
            raise CheckpointError(f"{path} is a folder without checkpoints/last.pt: is it a vanilla-gan run folder?")
        return run.last_checkpoint
    if not path.exists():
        raise CheckpointError(f"no such checkpoint or run folder: {path}")
    return path


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """The checkpoint of a file or of a run folder (its last.pt), validated."""
    return checkpoint.load(resolve_checkpoint(path))
