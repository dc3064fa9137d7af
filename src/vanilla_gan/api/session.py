"""The training session both the API (`vanilla_gan.train`, api/train.py) and the command line run: options in,
every check made, the data loaded (data/sources.load_images), the run folder locked, a Trainer ready.

    session = Training(epochs=5, out="runs/a")      # or resume=True; or dataset=array, overwrite=True
    run = session.run()                             # trains, writes the report; a run.Run

Errors are the package's exception types (`vg.VanillaGanError` and its subclasses), never SystemExit; an existing
run is never overwritten unless `overwrite=True` (and then only a folder that holds a run of this package).
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vanilla_gan.api.run import Run, fresh_copy
from vanilla_gan.config import (
    MAX_EPOCHS,
    MAX_SIDE,
    MODEL_OPTIONS,
    RECIPES,
    TRAIN_OPTIONS,
    ModelConfig,
    TrainConfig,
    check_whole,
    resume_configs,
    with_recipe,
)
from vanilla_gan.data import DATASET_NAMES, limit_images
from vanilla_gan.data.sources import LoadedImages, load_images
from vanilla_gan.errors import CheckpointError, Interrupted, TrainingError, UsageError
from vanilla_gan.evaluation.evaluator import Evaluator, min_real_images
from vanilla_gan.gan.algorithm import Objective
from vanilla_gan.gan.models import Generator
from vanilla_gan.report import write_report
from vanilla_gan.report.tblog import TensorBoardLogger
from vanilla_gan.runs.checkpoint import load as load_checkpoint_file
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.training import distributed
from vanilla_gan.training.process import bf16_warning, resolve_device
from vanilla_gan.training.threads import unsteady_layer, usable_cpus
from vanilla_gan.training.trainer import EpochHook, Trainer


def threads_warning(threads: int | None) -> list[str]:
    """--threads above the CPUs this process may use: the threads take turns, and training runs slower."""
    cpus = usable_cpus()
    if threads is None or threads <= cpus:
        return []
    return [f"--threads {threads} is more than the {cpus} CPU(s) this process may use: the threads take turns and "
            f"training runs slower than with --threads {cpus} (or leave --threads out)"]


def resumed_threads_warning(trainer: Trainer | None) -> list[str]:
    """A resumed run (its epochs' records in `trainer.metrics`) whose networks' numbers depend on the thread count
    (threads.py), continuing at another count than its last epoch's: it will not repeat an uninterrupted run."""
    if trainer is None:
        return []
    policy = trainer.threads
    trained_at = trainer.metrics[-1].get("threads") if trainer.metrics else None  # None: it ran on a GPU
    if not isinstance(trained_at, int) or policy.adaptive or policy.most == trained_at:
        return []
    unsteady = unsteady_layer((trainer.G, trainer.D)) if trainer.device.type == "cpu" else None
    if not unsteady:
        return []
    return [f"the run's last epoch trained at {trained_at} thread(s) and it continues at {policy.most}: its {unsteady} "
            f"layers may compute other numbers at another count, so it will not repeat an uninterrupted run; resume "
            f"with --threads {trained_at} to keep the count"]


def default_run_dir() -> Path:
    return Path("runs") / time.strftime("run-%Y%m%d-%H%M%S")


class Training:
    """A training session, prepared from options up to its first step: every check is done, the run folder is
    locked (train.lock; a context manager, or `close()`, releases it when `run` is not called), nothing else is
    written.

        session = Training(epochs=5, out="runs/a")     # or resume=True, out="runs/a", epochs=10
        session.seed_drawn, session.trainer.num_images, ...
        run = session.run()                            # trains, writes the report; a Run

    What `vg.train` and `vanilla-gan train` both do. `log` receives the epoch lines (default: none); `objective`
    replaces the original GAN's losses (algorithm.py).
    """

    def __init__(self, *, out: Path | str | None = None, resume: bool = False, report: bool = True,
                 tensorboard: bool = False, generator: nn.Module | None = None, discriminator: nn.Module | None = None,
                 epoch_hooks: Iterable[EpochHook] = (), log: Callable[[str], None] | None = None,
                 progress: bool = True, recipe: str | None = None, overwrite: bool = False,
                 objective: Objective | None = None, **options: Any):
        options, self.loaded = session_options(options, recipe=recipe, out=out, resume=resume, overwrite=overwrite)
        self.write_report, self.report, self.report_error = report, None, None
        self.nothing_to_do = self.seed_drawn = self.started_over = False
        self.data_notes: list[str] = []
        self.data: LoadedImages | None = None
        self.trainer: Trainer | None = None
        self.logger: TensorBoardLogger | None = None
        self.tensorboard, self.generator = tensorboard, generator
        self.kwargs = {"generator": generator, "discriminator": discriminator, "epoch_hooks": epoch_hooks,
                       "log": log, "progress": progress, "objective": objective}
        if resume and out is None:
            raise UsageError("--resume needs --out RUN_DIR, the run to continue")
        fresh = None if resume else checked_configs(options)  # every check before anything is written (or locked)
        self.run_dir = RunDir(distributed.on_main(lambda: Path(out) if out is not None else default_run_dir()))
        if fresh is not None and not overwrite:  # a folder of someone's files is refused before the lock is made
            distributed.on_main(lambda: self.run_dir.check_new(before_lock=True))
        if resume:
            distributed.on_main(self.run_dir.check_resumable)
        distributed.on_main(self.run_dir.lock)  # one writer per run folder: a second one stops here
        try:
            self._open_run(fresh, options, overwrite)
            warning = bf16_warning(self.config.precision, self.device, self.config.batch_size)
            self.warnings = ([warning] if warning else []) + self.data_notes + threads_warning(self.config.threads)
            self.warnings += resumed_threads_warning(self.trainer)
            if tensorboard:
                TensorBoardLogger.require()  # said now, before training: the logger itself starts in `run`
        except BaseException:
            self.close()
            raise

    def _open_run(self, fresh: tuple[ModelConfig, TrainConfig] | None, options: dict[str, Any],
                  overwrite: bool) -> None:
        """In the locked folder: a new run of the configurations `fresh` (replacing the run there when
        `overwrite`), or, when `fresh` is None, the run there resumed from its last.pt, or started over from its
        config.json when it died before its first checkpoint. Builds the Trainer (or finds nothing to do)."""
        if overwrite:  # only a run of this package, and only once the new run is ready to start
            distributed.on_main(self.run_dir.check_replaceable)
        if fresh is not None:
            if not overwrite:
                distributed.on_main(self.run_dir.check_new)  # an existing run is never overwritten
            self._fresh(*fresh)
            if overwrite:  # the data loaded and the Trainer built: bad data never costs the old run
                distributed.on_main(self.run_dir.clear_run)
        elif self.run_dir.last_checkpoint.exists():
            state = load_checkpoint_file(self.run_dir.last_checkpoint)
            self.run_dir.check_belongs(state)  # another run's last.pt copied in is refused
            self._resume(state, options)
        elif not self.run_dir.config_path.exists():
            raise CheckpointError(f"no such checkpoint: {self.run_dir.last_checkpoint}, nor a config.json to start "
                                  f"the run over from: train it afresh (without --resume)")
        else:  # killed before its first checkpoint: start over with its configuration
            saved = self.run_dir.read_config()
            self._fresh(*resume_configs(saved.get("model", {}), saved.get("train", {}), options, 0))
            self.started_over = True

    def _data(self, config: TrainConfig) -> tuple[torch.Tensor, Evaluator]:
        self.config, self.device = config, resolve_device(config.device)
        data = self.loaded if self.loaded is not None else load_images(config.dataset, config.image_size)
        self.data_notes, self.data = data.notes, data
        every_image = data.images
        if config.eval_every and len(every_image) < min_real_images():  # said now, not after the first epoch
            raise UsageError(f"--eval-every {config.eval_every}: an evaluation needs at least {min_real_images()} real "
                             f"images and --dataset {config.dataset} has {len(every_image)}: pass --eval-every 0 (no "
                             f"evaluation) or use more images")
        images = limit_images(every_image, config.limit)
        return images, Evaluator(config.dataset, self.device, config.eval_samples, offline_ok=True, data=data)

    def _fresh(self, model_config: ModelConfig, config: TrainConfig) -> None:
        images, evaluate = self._data(config)
        self.seed_drawn = config.seed is None
        self.trainer = Trainer(model_config, config, images, self.run_dir, evaluate=evaluate, **self.kwargs)

    def _resume(self, state: dict[str, Any], options: dict[str, Any]) -> None:
        _, config = resume_configs(state["model_config"], state["train_config"], options, state["epoch"])
        self.epochs_done = state["epoch"]
        if config.epochs == state["epoch"] and not state["batch_in_epoch"]:  # nothing to train: no data, no Trainer
            self.nothing_to_do, self.config, self.device = True, config, resolve_device(config.device)
            return
        images, evaluate = self._data(config)
        self.trainer = Trainer.resume(state, images, self.run_dir, options, evaluate=evaluate, **self.kwargs)

    def close(self) -> None:
        """Release the run folder (its lock) and the Trainer's hooks; `run` does so when it ends."""
        if self.trainer is not None:
            self.trainer.close()
        self.run_dir.unlock()

    def __enter__(self) -> Training:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self) -> Run:
        """Train to the configured epochs, then write the report (unless report=False); returns the Run.

        Raises Interrupted (after saving) on SIGINT/SIGTERM, TrainingError on non-finite losses (after writing
        stop.json and the report, kept in `self.report`)."""
        trainer, main = self.trainer, distributed.is_main()
        try:
            if self.nothing_to_do:
                return self._result()
            if self.tensorboard and main:
                self.logger = TensorBoardLogger(self.run_dir.tensorboard_dir)
                trainer.epoch_hooks.append(self.logger)
            try:
                trainer.train()
                if trainer.stop.requested:  # stopped in the last epoch's end: done, but no report is waited for
                    raise Interrupted(f"stopped after the last epoch ({trainer.epoch}), which is saved; the report "
                                      f"was not written: vanilla-gan report {shlex.quote(str(self.run_dir.path))}")
            except TrainingError as failure:
                if main and self.run_dir.path.exists():
                    self.finish(failure)
                raise
            finally:
                if self.logger is not None:
                    self.logger.close()
            if main:
                self.finish()
            return self._result()
        finally:
            self.close()

    def finish(self, failure: TrainingError | None = None) -> None:
        """After training: stop.json saying why it failed (or none, after a success), then the report."""
        if failure is not None:
            self.run_dir.write_stop(self.trainer.epoch + 1, str(failure))
        else:
            self.run_dir.clear_stop()
        self._report()

    def _report(self) -> None:
        """The end-of-training report; a failure here is a warning (`report_error`), never a lost run."""
        if not self.write_report:
            return
        try:
            self.report = write_report(self.run_dir, device=self.device, generator=self._custom_generator(),
                                       data=self.data)
        except Exception as exc:  # the checkpoint is safe on disk; the report can be made later
            self.report_error = (f"the report could not be written ({type(exc).__name__}: {exc}); "
                                 f"try: vanilla-gan report {shlex.quote(str(self.run_dir.path))}")

    def _custom_generator(self) -> nn.Module | None:
        """A fresh copy of a generator the user brought (for loading checkpoints), else None."""
        return None if self.generator is None or type(self.generator) is Generator else fresh_copy(self.generator)

    def _result(self) -> Run:
        return Run(self.run_dir.path, generator=self._custom_generator(), device=self.device, report=self.report)


def session_options(options: dict[str, Any], *, recipe: str | None, out: object, resume: bool,
                    overwrite: bool) -> tuple[dict[str, Any], LoadedImages | None]:
    """A session's options checked and completed before anything else: the recipe's under those given (None
    means not given), no unknown name, lists as tuples, data given in Python (an array, a tensor, a Dataset)
    loaded now and named by its description, paths checked, a time budget's epochs. Returns (options, the data
    loaded now or None)."""
    if recipe is not None and recipe not in RECIPES:
        raise UsageError(f"--recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
    options = with_recipe(recipe, {k: v for k, v in options.items() if v is not None})
    unknown = sorted(set(options) - set(MODEL_OPTIONS) - set(TRAIN_OPTIONS))
    if unknown:
        raise UsageError(f"unknown option(s) {', '.join(unknown)}; the options are "
                         f"{', '.join(MODEL_OPTIONS + TRAIN_OPTIONS)}, out, resume, report, tensorboard")
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if v is not None}
    if resume and overwrite:
        raise UsageError("--overwrite replaces a run and --resume continues it: pass one of them")
    loaded = None
    if "dataset" in options and not isinstance(options["dataset"], (str, os.PathLike, bytes)):
        size = options.get("image_size")
        loaded = load_images(options["dataset"], None if size is None else check_whole(
            "--image-size", size, 1, MAX_SIDE))
        options["dataset"] = loaded.description
    check_paths(out, options)
    if "minutes" in options and "epochs" not in options:
        options["epochs"] = MAX_EPOCHS  # a time budget alone: as many epochs as it allows
    elif resume and "epochs" in options and "minutes" not in options:
        options["minutes"] = None  # --epochs on resume replaces the run's time budget
    return options, loaded


def checked_configs(options: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """A new run's configurations from its options, validated, and its device found (no CUDA for --device cuda:
    said before anything else)."""
    model_config = ModelConfig(**{k: v for k, v in options.items() if k in MODEL_OPTIONS})
    config = TrainConfig(**{k: v for k, v in options.items() if k in TRAIN_OPTIONS})
    model_config.validate()
    config.validate()
    resolve_device(config.device)
    return model_config, config


def check_paths(out: object, options: dict[str, Any]) -> None:
    """`out` and `dataset` are paths (one line naming the option otherwise, never the value itself); a data folder
    becomes an absolute path, so that a resume from another folder trains on the same images."""
    if out is not None and (isinstance(out, bytes) or not isinstance(out, (str, os.PathLike))):
        raise UsageError(f"out must be a folder's path (a str or a Path), got a {type(out).__name__}")
    if out is not None and not os.fspath(out).strip():
        raise UsageError("--out is empty: name the run's folder (an empty path would be the current folder)")
    dataset = options.get("dataset")
    if dataset is None:
        return
    if isinstance(dataset, os.PathLike):
        dataset = os.fspath(dataset)
    if not isinstance(dataset, str):
        raise UsageError(f"--dataset must be digits, mnist, fashion-mnist, a path, an array, a tensor or a torch "
                         f"Dataset, got a {type(dataset).__name__}")
    if not dataset.strip():
        raise UsageError("--dataset is empty: name a data set (digits, mnist, fashion-mnist) or a path (an empty "
                         "path would be the current folder)")
    folder = Path(dataset).expanduser()
    options["dataset"] = str(folder.absolute()) if dataset not in DATASET_NAMES and folder.exists() else dataset
