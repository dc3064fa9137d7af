"""The run folder itself: the name of every file in it, the rule that each is a plain file inside it, and the lock
that makes one writer. The base of `rundir.RunDir` (runlog.py adds the logs, rundir.py the checkpoints and the
start of a session); nothing here knows what the files hold.

    folder = RunFolder("runs/try")
    folder.check_layout()                      # every command's first step: no link out, no FIFO, no device
    folder.lock()                              # one training process per folder (train.lock, fcntl)
    folder.last_checkpoint, folder.grid_path(3), folder.write(folder.report_path, html)
    folder.unlock()

The layout (docs/design.md has the contract):
    config.json        the resolved configuration, the package version, the data set's size
    metrics.jsonl      one JSON object per epoch (schema.STEP_KEYS means, speed, evaluation metrics)
    steps.csv          header, then one row per step: epoch, step and the four schema.STEP_STATS
    samples/epoch_NNNN.png   the fixed-noise grid of each epoch
    checkpoints/last.pt, best.pt, epoch_NNNN.pt
    stop.json          only after a stop on non-finite losses
    train.lock         the lock a training process holds (its PID inside); harmless when stale
    report.html, plots/, progress.gif, interpolation.{gif,png}, two_sample.png, explore.html, tensorboard/   derived,
                       rewritable
Run folders travel (downloads, shared disks), so every command first applies one rule (`check_layout`): each
file and folder above is a regular file (or folder) inside the run folder, never a link out of it, a FIFO or a
device; reads are bounded in size (`read_text`), and writes go through `fileio` (atomically, or appended and
fsynced, never through a link).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vanilla_gan.errors import UsageError
from vanilla_gan.fileio import (
    atomic_write,
    describe_write_error,
    fsync_folder,
    kind_of,
    read_bounded,
    remove_stale_temps,
)
from vanilla_gan.runs.lock import FolderLock


class RunFolder:
    """A run folder's paths, the rule for its files and its lock. Creating one touches nothing on disk."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = FolderLock(self.path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # ------------------------------------------------------------------ paths

    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    steps_path = property(lambda self: self.path / "steps.csv")
    stop_path = property(lambda self: self.path / "stop.json")
    evaluation_path = property(lambda self: self.path / "evaluation.json")  # the last `vanilla-gan evaluate`
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
                     self.explore_path, self.evaluation_path):
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

    def read_text(self, path: Path, limit: int) -> str:
        """A run file's text, checked by the rule and read bounded (at most `limit` bytes)."""
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
        """Whether this object holds the folder's lock."""
        return self._lock.held

    def unlock(self) -> None:
        self._lock.release()

    # ------------------------------------------------------------------ folders and derived files

    def make_folders(self) -> None:
        """The folders a run writes into, made durably (at the start of a session only: a folder that vanishes
        later is an error, not a new folder)."""
        for folder in (self.path, self.samples_dir, self.checkpoints_dir):
            try:
                if not folder.is_dir():
                    folder.mkdir(parents=True)
                    fsync_folder(folder.parent)
            except OSError as exc:
                raise UsageError(describe_write_error(folder, exc)) from exc

    def write(self, path: Path, data: bytes) -> Path:
        """A derived file (report, plots, animations) inside the folder, atomically; its folder is made."""
        path = Path(path)
        path.parent.mkdir(exist_ok=True)
        self.check_entry(path.parent, folder=True)
        return atomic_write(path, data)
