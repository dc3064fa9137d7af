"""The Python API, for scripts and notebooks: the same Trainer, run folder and checks as the command line.

    import vanilla_gan as vg
    run = vg.train(epochs=5, out="runs/nb", seed=1)      # a Run; shows a progress bar, prints nothing else
    images = run.sample(64, seed=0)                      # uint8 (64, 28, 28), 0 = background, 255 = ink
    run.grid(images)                                     # a PIL image: shows itself in Jupyter
    vg.load("runs/nb").evaluate(n=10_000)                # a dict, the keys of `vanilla-gan evaluate --json`

`train`'s keyword arguments are the command line's options with `_` for `-` (`batch_size=8` for
`--batch-size 8`), plus `out`, `resume`, `report` (False for `--no-report`), `tensorboard`, `verbose` (print
the epoch lines), and, for Python only, `generator=` / `discriminator=` (your own nn.Module: G maps z
(B, latent_dim) to images (B, 28, 28) in (-1, 1), D maps images (B, 28, 28) to pre-sigmoid scores (B,)) and
`epoch_hooks=` (callables hook(trainer, record) called after each epoch is checkpointed). Errors are the
package's exception types (`vg.VanillaGanError` and its subclasses), never SystemExit; an existing run is
never overwritten (pass resume=True to continue it).
"""

from __future__ import annotations

import copy
import os
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm.auto import tqdm

from vanilla_gan import distributed
from vanilla_gan.batched import BatchedTrainer
from vanilla_gan.checkpoint import load as load_checkpoint_file
from vanilla_gan.checkpoint import load_generator
from vanilla_gan.config import (
    MAX_EPOCHS,
    MAX_EVAL_SAMPLES,
    MAX_GRID,
    MAX_SAMPLES,
    MAX_SCALE,
    MAX_SEED,
    MAX_WALKS,
    ModelConfig,
    TrainConfig,
    check_whole,
    resume_configs,
)
from vanilla_gan.data import DATASET_NAMES, limit_images, load_dataset
from vanilla_gan.errors import CheckpointError, Interrupted, TrainingError, UsageError
from vanilla_gan.evaluate import Evaluator, evaluate_checkpoint, min_real_images
from vanilla_gan.images import grid, grid_rows
from vanilla_gan.models import Generator
from vanilla_gan.report import Report, plots, write_report
from vanilla_gan.report.tblog import TensorBoardLogger
from vanilla_gan.rundir import RunDir
from vanilla_gan.runtime import bf16_warning, resolve_device
from vanilla_gan.sampling import latent_walk, sample_images
from vanilla_gan.trainer import EpochHook, Trainer

# A single switch for a known set of options; options given beside it win.
RECIPES = {"tutorial": {"batch_size": 100, "betas": (0.9, 0.999), "ema_decay": 0.0}}  # the notebooks' plain Adam
MODEL_OPTIONS = tuple(f.name for f in fields(ModelConfig))
TRAIN_OPTIONS = tuple(f.name for f in fields(TrainConfig))


def default_run_dir() -> Path:
    return Path("runs") / time.strftime("run-%Y%m%d-%H%M%S")


class Training:
    """A training session, prepared from options up to its first step: every check is done, the run folder is
    locked (train.lock; a context manager, or `close()`, releases it when `run` is not called), nothing else is
    written.

        session = Training(epochs=5, out="runs/a")     # or resume=True, out="runs/a", epochs=10
        session.seed_drawn, session.trainer.num_images, ...
        run = session.run()                            # trains, writes the report; a Run

    What `vg.train` and `vanilla-gan train` both do. `log` receives the epoch lines (default: none).
    """

    def __init__(self, *, out: Path | str | None = None, resume: bool = False, report: bool = True,
                 tensorboard: bool = False, generator: nn.Module | None = None, discriminator: nn.Module | None = None,
                 epoch_hooks: Iterable[EpochHook] = (), log: Callable[[str], None] | None = None,
                 progress: bool = True, recipe: str | None = None, **options: Any):
        if recipe is not None and recipe not in RECIPES:
            raise UsageError(f"--recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
        options = {**RECIPES.get(recipe or "", {}), **{k: v for k, v in options.items() if v is not None}}
        unknown = sorted(set(options) - set(MODEL_OPTIONS) - set(TRAIN_OPTIONS))
        if unknown:
            raise UsageError(f"unknown option(s) {', '.join(unknown)}; the options are "
                             f"{', '.join(MODEL_OPTIONS + TRAIN_OPTIONS)}, out, resume, report, tensorboard")
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if v is not None}
        check_paths(out, options)
        if "minutes" in options and "epochs" not in options:
            options["epochs"] = MAX_EPOCHS  # a time budget alone: as many epochs as it allows
        elif resume and "epochs" in options and "minutes" not in options:
            options["minutes"] = None  # --epochs on resume replaces the run's time budget
        self.write_report, self.report, self.report_error = report, None, None
        self.nothing_to_do = self.seed_drawn = self.started_over = False
        self.trainer: Trainer | None = None
        self.logger: TensorBoardLogger | None = None
        self.tensorboard, self.generator = tensorboard, generator
        self.kwargs = {"generator": generator, "discriminator": discriminator, "epoch_hooks": epoch_hooks,
                       "log": log, "progress": progress}
        if resume and out is None:
            raise UsageError("--resume needs --out RUN_DIR, the run to continue")
        if not resume:  # every check of the options before anything is written (or locked)
            model_config = ModelConfig(**{k: v for k, v in options.items() if k in MODEL_OPTIONS})
            config = TrainConfig(**{k: v for k, v in options.items() if k in TRAIN_OPTIONS})
            model_config.validate()
            config.validate()
            resolve_device(config.device)  # no CUDA for --device cuda: said before anything else
        self.run_dir = RunDir(distributed.on_main(lambda: Path(out) if out is not None else default_run_dir()))
        distributed.on_main(self.run_dir.lock)  # one writer per run folder: a second one stops here
        try:
            if not resume:
                distributed.on_main(self.run_dir.check_new)  # an existing run is never overwritten
                self._fresh(model_config, config)
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
            warning = bf16_warning(self.config.precision, self.device, self.config.batch_size)
            self.warnings = [warning] if warning else []
            if tensorboard:
                TensorBoardLogger.require()  # said now, before training: the logger itself starts in `run`
        except BaseException:
            self.close()
            raise

    def _data(self, config: TrainConfig) -> tuple[torch.Tensor, Evaluator]:
        self.config, self.device = config, resolve_device(config.device)
        every_image = load_dataset(config.dataset)[0]
        if config.eval_every and len(every_image) < min_real_images():  # said now, not after the first epoch
            raise UsageError(f"--eval-every {config.eval_every}: an evaluation needs at least {min_real_images()} real "
                             f"images and --dataset {config.dataset} has {len(every_image)}: pass --eval-every 0 (no "
                             f"evaluation) or use more images")
        images = limit_images(every_image, config.limit)
        return images, Evaluator(config.dataset, self.device, config.eval_samples, offline_ok=True)

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
            self.report = write_report(self.run_dir, device=self.device, generator=self._custom_generator())
        except Exception as exc:  # the checkpoint is safe on disk; the report can be made later
            self.report_error = (f"the report could not be written ({type(exc).__name__}: {exc}); "
                                 f"try: vanilla-gan report {shlex.quote(str(self.run_dir.path))}")

    def _custom_generator(self) -> nn.Module | None:
        """A fresh copy of a generator the user brought (for loading checkpoints), else None."""
        return None if self.generator is None or type(self.generator) is Generator else _fresh_copy(self.generator)

    def _result(self) -> Run:
        return Run(self.run_dir.path, generator=self._custom_generator(), device=self.device, report=self.report)


def check_paths(out: object, options: dict[str, Any]) -> None:
    """`out` and `dataset` are paths (one line naming the option otherwise, never the value itself); a data folder
    becomes an absolute path, so that a resume from another folder trains on the same images."""
    if out is not None and (isinstance(out, bytes) or not isinstance(out, (str, os.PathLike))):
        raise UsageError(f"out must be a folder's path (a str or a Path), got a {type(out).__name__}")
    dataset = options.get("dataset")
    if dataset is None:
        return
    if isinstance(dataset, os.PathLike):
        dataset = os.fspath(dataset)
    if not isinstance(dataset, str):
        raise UsageError(f"--dataset must be digits, mnist, fashion-mnist or a folder's path (a str), got a "
                         f"{type(dataset).__name__}: write your own images as IDX files into a folder")
    folder = Path(dataset).expanduser()
    options["dataset"] = str(folder.absolute()) if dataset not in DATASET_NAMES and folder.exists() else dataset


def train_side_by_side(sessions: list[Training], rngs: list[torch.Generator], progress: bool = True) -> list[Run]:
    """Prepared sessions whose configurations differ in the seed alone, trained as one batched model
    (`batched.BatchedTrainer`; `rngs[k]` = `batched.training_rng` taken right after session k was prepared), then
    each one's report, as `Training.run` does. A non-finite loss in one run stops all (its stop.json says so)."""
    try:
        side_by_side = BatchedTrainer([s.trainer for s in sessions], rngs, progress)
        try:
            side_by_side.train()
        except TrainingError as failure:
            for session in sessions:
                if session.trainer is side_by_side.failed:
                    session.finish(failure)
            raise
        for session in sessions:
            session.finish()
        return [session._result() for session in sessions]
    finally:
        for session in sessions:
            session.close()


def train(*, out: Path | str | None = None, resume: bool = False, report: bool = True, tensorboard: bool = False,
          verbose: bool = False, generator: nn.Module | None = None, discriminator: nn.Module | None = None,
          epoch_hooks: Iterable[EpochHook] = (), recipe: str | None = None, **options: Any) -> Run:
    """Train (or, with resume=True, continue) a run into the folder `out`; returns it as a Run.

    Options are the command line's with `_` for `-` (`epochs`, `minutes`, `batch_size`, `lr`, `betas`, `seed`,
    `limit`, `dataset`, ...; see TrainConfig and ModelConfig); `vanilla-gan train --help` says what each means,
    and error messages name them as the command line spells them (`--batch-size`). `report=False` skips the
    report; `verbose` prints the epoch lines and the report's health notes.
    `generator`, `discriminator`: your own nn.Modules in place of the classic MLPs (G: z (B, latent_dim) ->
    images (B, 28, 28) in (-1, 1); D: images -> one pre-sigmoid score each, or a `logits` method).
    `epoch_hooks`: callables hook(trainer, record), called after each epoch is checkpointed.
    `recipe="tutorial"`: the notebooks' plain settings (batch 100, Adam's default betas, no EMA), for comparison.
    Interrupting (Ctrl-C, the kernel's stop button) saves a checkpoint and raises vg.Interrupted;
    `train(out=..., resume=True)` continues the run.
    """
    log = (lambda line: tqdm.write(line, file=sys.stdout)) if verbose else None
    with distributed.session(options.get("device") or "auto"):
        session = Training(out=out, resume=resume, report=report, tensorboard=tensorboard, generator=generator,
                           discriminator=discriminator, epoch_hooks=epoch_hooks, log=log, recipe=recipe, **options)
        for warning in session.warnings:
            warnings.warn(warning, RuntimeWarning, stacklevel=2)
        result = session.run()
    if session.report_error:
        warnings.warn(session.report_error, RuntimeWarning, stacklevel=2)
    if verbose and session.report is not None:
        print(session.report.summary())
    return result


def load(path: Path | str, generator: nn.Module | None = None, device: str = "auto") -> Run:
    """A trained run folder, to sample, show, evaluate and report. `generator`: for a run trained with its own
    generator module, an instance of it (its weights are loaded into it)."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise UsageError(f"load needs a run folder's path (a str or a Path), got a {type(path).__name__}")
    run_dir = RunDir(path)
    if not run_dir.path.is_dir():
        raise UsageError(f"no such run folder: {run_dir.path}")
    if not run_dir.last_checkpoint.is_file():
        raise UsageError(f"{run_dir.path} has no checkpoints/last.pt: is it a vanilla-gan run folder?")
    return Run(run_dir.path, generator=generator, device=resolve_device(device))


class Run:
    """A run folder, trained or loaded: its configuration and metrics, and its generator to sample from."""

    def __init__(self, path: Path | str, generator: nn.Module | None = None, device: str | torch.device = "cpu",
                 report: Report | None = None):
        self.path, self.run_dir = Path(path), RunDir(path)
        self.device = torch.device(device)
        self.report_written = report  # the report written at the end of training, if any
        self._custom = generator

    def __repr__(self) -> str:
        try:
            epochs = f"{len(self.metrics)} epochs"
        except UsageError:
            epochs = "no metrics.jsonl"
        return f"Run({str(self.path)!r}, {epochs})"

    @property
    def config(self) -> dict[str, Any]:
        """config.json: {"model": ..., "train": ..., "num_images", ...}."""
        return self.run_dir.read_config()

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """metrics.jsonl: one dict per epoch (losses, D outputs, speed; evaluation metrics when evaluated)."""
        return self.run_dir.read_metrics()

    def checkpoint(self) -> dict[str, Any]:
        """checkpoints/last.pt as a dict (see vanilla_gan.checkpoint)."""
        return self.run_dir.load_checkpoint()

    def generator(self, raw: bool = False) -> nn.Module:
        """The trained generator: z (B, latent_dim) -> images (B, 28, 28) in (-1, 1); the moving average of its
        weights when the run kept one, unless `raw`."""
        custom = None if self._custom is None else _fresh_copy(self._custom)
        return load_generator(self.checkpoint(), raw=raw, generator=custom).to(self.device)

    def sample(self, n: int = 64, seed: int = 0, raw: bool = False) -> np.ndarray:
        """`n` digits, uint8 (n, 28, 28), 0 = background, 255 = ink: the same for the same seed."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SAMPLES:
            raise UsageError(f"n must be a whole number of digits in 1..{MAX_SAMPLES:,}, got {n!r}")
        seed = check_whole("seed", seed, 0, MAX_SEED)
        return sample_images(self.generator(raw), n, seed=seed, device=self.device)

    def grid(self, images: np.ndarray | None = None, cols: int | None = None, scale: int = 2) -> Image.Image:
        """Images (N, 28, 28) uint8 (default: 64 samples) as one picture; Jupyter shows it."""
        images = self.sample(64) if images is None else np.asarray(images)
        if images.ndim != 3 or images.dtype != np.uint8 or not 1 <= len(images) <= MAX_GRID \
                or not images.shape[1] == images.shape[2] == 28:
            raise UsageError(f"images must be uint8 (N, 28, 28) with N in 1..{MAX_GRID:,}, got {images.dtype} "
                             f"{images.shape}")
        cols = None if cols is None else check_whole("cols", cols, 1, len(images))
        return grid(images, scale=check_whole("scale", scale, 1, MAX_SCALE), cols=cols)

    def interpolate(self, walks: int = 8, frames: int = 12, seed: int = 0) -> Image.Image:
        """Walks through the latent space (spherical interpolation between random z) as one picture, a row per
        walk; `sampling.latent_walk` gives the images themselves."""
        walks, frames = check_whole("walks", walks, 1, MAX_WALKS), check_whole("frames", frames, 2, MAX_WALKS)
        seed = check_whole("seed", seed, 0, MAX_SEED)
        return grid_rows(latent_walk(self.generator(), walks, frames, seed, self.device).transpose(1, 0, 2, 3),
                         scale=2)

    def evaluate(self, n: int = 10_000, seed: int = 0, two_sample: bool = True) -> dict[str, Any]:
        """The two-sample test's accuracy (`c2st_accuracy`: 0.5 = a classifier cannot tell these digits from
        real ones), FID, IS, precision, recall, ... of `n` samples, each beside its real-data floor
        (`real_floor`); `two_sample=False` leaves the two-sample test out (about half a minute on 2 cores)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1000 <= n <= MAX_EVAL_SAMPLES:
            raise UsageError(f"n must be a whole number of samples in 1000..{MAX_EVAL_SAMPLES:,}, got {n!r}")
        seed = check_whole("seed", seed, 0, MAX_SEED)
        return evaluate_checkpoint(self.path, num_samples=n, seed=seed, device=self.device,
                                   generator=None if self._custom is None else _fresh_copy(self._custom),
                                   two_sample=bool(two_sample))

    def plots(self) -> dict[str, Image.Image]:
        """The curves (losses, discriminator, speed, metrics when evaluated), written to RUN/plots/ and returned
        as pictures."""
        paths = plots.write_plots(self.run_dir.read(), self.run_dir.plots_dir)
        pictures = {}
        for name, path in paths.items():
            with Image.open(path) as picture:
                pictures[name] = picture.copy()  # in memory: no file left open
        return pictures

    def report(self) -> Report:
        """Write RUN/report.html (and its plots and animations); returns its health notes and verdicts."""
        custom = None if self._custom is None else _fresh_copy(self._custom)
        return write_report(self.run_dir, device=self.device, generator=custom)


def _fresh_copy(module: nn.Module) -> nn.Module:
    return copy.deepcopy(module).cpu()
