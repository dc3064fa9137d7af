"""The run folder as a training session uses it: starting a run there (new, resumed, or replacing one), its
checkpoints, and everything below (runlog.py: config.json, the logs, the grids and their read-back; runfolder.py:
the paths, the rule for its files and the lock). `RunDir` is the one object the Trainer, the API and the
commands are given.

    run = RunDir("runs/try")
    run.lock()                                 # one training process per folder (train.lock, fcntl)
    run.begin(config)                          # a new run: refuses a folder that holds one
    run.reopen(config, metrics, epochs)        # a resumed run: the logs cut back to its checkpoint's epochs
    run.write_grid(epoch, images); run.append_steps(...); run.save_checkpoint(state, best=True)
    run.append_metrics(record)
    run.unlock()
    record = run.read()                        # config, metrics, steps, grids, stop: what reports need
    state = load_checkpoint("runs/try")        # a checkpoint file, or a run folder's last.pt

At the end of an epoch the order is: grid, steps.csv rows, best.pt, the epoch's copy, last.pt, metrics.jsonl; a
resumed run first cuts metrics.jsonl, steps.csv and the grids back to its checkpoint's epochs, so they never
hold an epoch it does not. A folder holds a run once it holds last.pt: a run killed before its first one starts
over. A resumed checkpoint must be this folder's run (`check_belongs`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from vanilla_gan.runs import checkpoint
from vanilla_gan.config import RESUMABLE, RETIRED, option
from vanilla_gan.errors import CheckpointError, UsageError
from vanilla_gan.fileio import TEMP_MARK
from vanilla_gan.runs.lock import LOCK_NAME
from vanilla_gan.runs.runlog import RunLog


class RunDir(RunLog):
    """A run folder as a training session uses it: the start of a run (new, resumed, replacing one) and its
    checkpoints, over RunLog (the logs, the grids, their read-back) and RunFolder (the paths, the rule, the lock).
    Creating one touches nothing on disk."""

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
                     self.progress_gif, self.walk_gif, self.walk_png, self.two_sample_png, self.explore_path,
                     self.evaluation_path):
            name.unlink(missing_ok=True)
        for folder in (self.samples_dir, self.checkpoints_dir, self.plots_dir, self.tensorboard_dir):
            if folder.is_dir():
                shutil.rmtree(folder)

    def check_new(self, before_lock: bool = False) -> None:
        """The one rule for a folder a new run is started in: it does not exist, is empty, or holds what a start
        of this package left before its first checkpoint (a config.json naming a package_version); a folder that
        holds a run, or anything else (a user's own files), is refused, and nothing in it is touched."""
        if self.holds_run():
            if before_lock:
                return  # the lock speaks first (a run being trained says by whom); this is asked again under it
            raise UsageError(f"{self.path} already holds a run: pass --resume to continue it, or choose another --out")
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise UsageError(f"--out {self.path} is a file, not a folder: choose a new or empty folder")
        self.check_layout()
        entries = sorted(p.name for p in self.path.iterdir() if not self._left_by_a_start(p))
        if not entries or self._started_here():
            return
        shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
        raise UsageError(f"--out {self.path} holds files that are not a vanilla-gan run ({shown}): train into a "
                         f"new or empty folder (nothing was changed)")

    def check_resumable(self) -> None:
        """--resume needs a run here: a last.pt, or the config.json a start of this package left; a folder of
        someone else's files is refused before anything (the lock included) is written into it."""
        if self.path.is_dir():
            self.check_layout()
        if self.last_checkpoint.is_file() or not self.config_path.is_file() or self._started_here():
            return  # (no last.pt and no config.json: the resume says there is nothing to continue)
        raise UsageError(f"--out {self.path} holds a config.json that vanilla-gan did not write and no "
                         f"checkpoints/last.pt: it is not a run to resume (nothing was changed)")

    def _left_by_a_start(self, path: Path) -> bool:
        """What a start of ours killed before config.json leaves: the lock, the empty folders it makes first, a
        temporary file of config.json or metrics.jsonl (NAME.tmp-PID), TensorBoard's first event files."""
        folders = (self.samples_dir.name, self.checkpoints_dir.name)
        temps = tuple(f"{p.name}{TEMP_MARK}" for p in (self.config_path, self.metrics_path))
        folder = path.is_dir() and not path.is_symlink()
        if folder and path.name == self.tensorboard_dir.name:  # --tensorboard's writer starts before the run
            return all(p.name.startswith("events.out.tfevents.") for p in path.iterdir())
        empty_folder = folder and not any(path.iterdir())
        return path.name == LOCK_NAME or (path.name in folders and empty_folder) or path.name.startswith(temps)

    def _started_here(self) -> bool:
        """Whether config.json is one this package wrote (a start that died before its first checkpoint)."""
        try:
            return self.config_path.is_file() and "package_version" in self.read_config()
        except UsageError:
            return False

    def begin(self, config: dict[str, Any]) -> None:
        """Start a new run here: refuse a folder that holds one; where a start died before its first checkpoint
        (config.json is there), clear what it left; then write config.json and an empty log."""
        self.check_new()
        if self.steps_path.exists() and not self.config_path.exists():
            raise UsageError(f"{self.path} holds a steps.csv but no config.json: not a vanilla-gan run folder; "
                             f"choose another --out")
        self.make_folders()
        if self.config_path.exists():
            for stale in (self.steps_path, self.stop_path, self.evaluation_path, self.best_checkpoint,
                          self.epoch_checkpoint(1),
                          *self.samples_dir.glob("epoch_*.png")):
                stale.unlink(missing_ok=True)
        self.write_config(config)
        self.rewrite_metrics([])

    def reopen(self, config: dict[str, Any], metrics: list[dict[str, Any]], epochs: int) -> None:
        """Continue a run from a checkpoint of `epochs` epochs: its config, its metrics, steps.csv and the grids
        cut back to its epochs."""
        self.make_folders()
        self.write_config(config)
        self.rewrite_metrics(metrics)
        self.trim_steps(epochs)
        for epoch, grid in self.grid_files():
            if epoch > epochs:
                grid.unlink()
        for kept in self.checkpoints_dir.glob("epoch_*.pt"):  # kept copies of epochs the resume retrains
            number = kept.stem.split("_")[1]
            if number.isdigit() and int(number) > epochs:
                kept.unlink()
        if self.best_checkpoint.exists() and checkpoint.epoch_of(self.best_checkpoint) > epochs:
            self.best_checkpoint.unlink()  # written just before a crash: the resume writes it again

    # ------------------------------------------------------------------ checkpoints

    def holds_run(self) -> bool:
        """A run is there once last.pt is, or any checkpoint but those a start that died before its first last.pt
        can leave (best.pt, epoch_0001.pt): a folder of someone's other checkpoints is never started over."""
        left = {self.best_checkpoint.name, self.epoch_checkpoint(1).name}
        return self.last_checkpoint.exists() or (self.checkpoints_dir.is_dir() and any(
            p.suffix == ".pt" and p.name not in left for p in self.checkpoints_dir.iterdir()))

    def save_checkpoint(self, state: dict[str, Any], best: bool = False, keep: bool = False) -> None:
        """best.pt when `best`, the kept copy checkpoints/epoch_NNNN.pt when `keep`, then last.pt: a crash before
        last.pt is replaced retrains the epoch and writes them again, so none is ever missing or stale."""
        if best:
            checkpoint.save(self.best_checkpoint, state)
        if keep:
            checkpoint.save(self.epoch_checkpoint(state["epoch"]), state)
        checkpoint.save(self.last_checkpoint, state)

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


def _plain(value: Any) -> dict[str, Any]:
    """A config dict as JSON holds it (tuples as lists), {} for anything else."""
    return json.loads(json.dumps(value)) if isinstance(value, dict) else {}


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
