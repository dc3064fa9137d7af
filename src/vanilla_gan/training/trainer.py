"""The Trainer: the training loop and its state (the position in the run, the metrics, what a checkpoint holds).

    trainer = Trainer(ModelConfig(), TrainConfig(seed=1), images)               # images: uint8 (N, 28, 28)
                                                        # or (N, H, W[, 3]): uint8, or floats in [0, 1]
    trainer.train()                                                             # no files: benchmarks, notebooks
    trainer = Trainer(ModelConfig(), TrainConfig(), images, run=RunDir("runs/a"), evaluate=Evaluator("digits"))
    trainer.train()                                                             # what `vanilla-gan train` does
    trainer = Trainer.resume(run.load_checkpoint(), images, run=run, changes={"epochs": 80})

The whole data set lives on the training device as uint8; each epoch draws one permutation and a batch is
an index into it, scaled to (-1, 1) on the device. The four statistics of each step (schema.STEP_STATS)
stay on the device and are read back every `log_every` steps, so the hot loop never waits on the host.

Not the Trainer's: the GAN's step (algorithm.py), placing it on devices, DDP and the CUDA graph (placement.py),
what happens at an epoch's end (callbacks.py, called by the loop: `Evaluation` of an `evaluate` callable,
`RunWriter` of a `run`, `EpochHooks`: the `epoch_hooks` after each epoch is checkpointed and the `log`
callable's epoch line), signals (`process.StopFlag`).

The seams for experiments (benchmarks/ and experiments/ use no private member): `batch_transform(real)` returns
the real images a step trains on, given them as floats (d_steps x B, pixels) in [-1, 1]; each of `step_hooks` is
called as f(trainer) after every step (`trainer.step` is then that step's number, from 0), where it may read or
change `trainer.gan` (G, D, the objective), `trainer.opt_g`/`opt_d` (their learning rates) and `trainer.ema`.
Neither is recorded in config.json: a resumed run needs them again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import shlex
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data.arrays import as_images, shape_words
from vanilla_gan.errors import Interrupted, TrainingError, UsageError
from vanilla_gan.gan import algorithm
from vanilla_gan.gan.algorithm import Objective, objective_of
from vanilla_gan.gan.models import MovingAverage, build_discriminator, build_generator, check_networks
from vanilla_gan.gan.sampling import draw
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.runs.schema import STEP_KEYS
from vanilla_gan.training import distributed, trainstate
from vanilla_gan.training.callbacks import Callback, EpochHooks, Evaluation, RunWriter
from vanilla_gan.training.optim import cooled_lr, planned_epochs
from vanilla_gan.training.placement import Engine
from vanilla_gan.training.process import StopFlag, draw_seed, resolve_device, set_seed
from vanilla_gan.training.progress import StepLog, epoch_label
from vanilla_gan.training.threads import ThreadPolicy

EpochHook = Callable[["Trainer", dict[str, Any]], None]
StepHook = Callable[["Trainer"], None]


class Trainer:
    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, images: torch.Tensor,
                 run: RunDir | None = None, *, evaluate: Callable[[nn.Module], dict[str, Any]] | None = None,
                 generator: nn.Module | None = None, discriminator: nn.Module | None = None,
                 epoch_hooks: Iterable[EpochHook] = (), log: Callable[[str], None] | None = None,
                 progress: bool = True, objective: Objective | None = None,
                 batch_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 step_hooks: Iterable[StepHook] = ()):
        """A fresh run of `images` (uint8 (N, 28, 28), or any (N, H, W) / (N, H, W, 3) uint8 or floats in [0, 1],
        see data/arrays.py). Without `run` nothing is written; without `evaluate` nothing is evaluated. A
        `train_config.seed` of None is drawn, a `model_config.image_shape` of None is the images' (both stored in
        the configs).

        `generator` and `discriminator` replace the package's networks: G maps z (B, latent_dim) to images
        (B, 28, 28) in (-1, 1); D maps images (B, 28, 28) to pre-sigmoid scores (B,) (or has a `logits` method).
        `objective` replaces the original GAN's losses: d_loss(real_scores, fake_scores), g_loss(fake_scores) and a
        name (algorithm.py).
        `batch_transform` and `step_hooks`: the seams for experiments (the module's docstring).
        """
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.model_config, self.config, images = _checked(model_config, train_config, images, self.world)
        train_config, model_config = self.config, self.model_config
        self.run, self.epoch_hooks, self.progress = run, list(epoch_hooks), progress  # (append hooks to the list)
        self.batch_transform, self.step_hooks = batch_transform, list(step_hooks)
        # What the loop calls at its moments (callbacks.py): the evaluation, the run folder, the hooks and the log.
        self.evaluation = Evaluation(evaluate, log) if evaluate is not None else None
        self.callbacks: list[Callback] = [c for c in (self.evaluation, RunWriter(run) if run else None) if c]
        self.callbacks.append(EpochHooks(self.epoch_hooks, log))
        self.device = resolve_device(train_config.device)
        self.num_images = images.shape[0]
        # Each step takes d_steps batches of batch_size images per process (one per D update); the last partial
        # step of an epoch is dropped.
        self.images_per_step = train_config.batch_size * train_config.d_steps * self.world
        self.steps_per_epoch = self.num_images // self.images_per_step
        # The images' fingerprint: a resume checks it, so a run never continues on other data by accident.
        self.data_sha256 = hashlib.sha256(images.cpu().contiguous().numpy().tobytes()).hexdigest()
        if train_config.seed is None:  # drawn once, on rank 0, so that every process agrees
            train_config.seed = distributed.on_main(draw_seed)

        self.objective = objective_of(objective, train_config.g_loss, train_config.real_label)
        self._build(generator, discriminator, images)
        self.threads = ThreadPolicy.choose(train_config.threads, self.device, (self.G, self.D))  # threads.py

        # completed epochs, completed steps (all epochs), completed steps in the current epoch (after an interrupt)
        self.epoch, self.step, self.batch_in_epoch = 0, 0, 0
        self.permutation: torch.Tensor | None = None
        self.epoch_stats: torch.Tensor | None = None  # (steps_per_epoch, 4) on the device
        self.epoch_time = 0.0  # seconds of training steps in the current epoch
        self.elapsed = 0.0  # seconds of training, all epochs and resumes
        self.epoch_cap = train_config.epochs  # the most epochs; under --minutes config.epochs becomes the length
        self.metrics: list[dict[str, Any]] = []
        self.best_fid, self.resumed, self.stop = math.inf, False, StopFlag()
        self.started = False  # whether the callbacks were told of this session's start (and not yet of its end)

    def _build(self, generator: nn.Module | None, discriminator: nn.Module | None, images: torch.Tensor) -> None:
        """From the seed: the networks (the package's, or the user's), the step's engine, the moving average, the
        data on the device, the permutation's and the grids' generators."""
        config, model_config = self.config, self.model_config
        set_seed(config.seed)
        self.images = images.reshape(self.num_images, model_config.pixels).to(self.device)  # uint8 (N, 784)
        self.G, self.D = generator or build_generator(model_config), discriminator or build_discriminator(model_config)
        if generator is not None or discriminator is not None or not isinstance(self.objective, algorithm.BCEObjective):
            check_networks(self.G, self.D, model_config.latent_dim, self.device, model_config.shape, config.batch_size,
                           None if isinstance(self.objective, algorithm.BCEObjective) else self.objective)
        self.G, self.D = self.G.to(self.device), self.D.to(self.device)
        # The epoch permutation has its own generator: identical on every rank, whatever each rank draws. It is
        # a CPU generator on every device, so a run started on a GPU resumes on a CPU and the other way round.
        self.permutation_rng = torch.Generator().manual_seed(config.seed)
        if self.world > 1:  # same initial weights (set above), but each rank its own noise and dropout
            torch.manual_seed(config.seed + self.rank)
        # The step's networks as placed (DDP, a CUDA graph), their optimizers and the objective (placement.py).
        self.engine = Engine(self.G, self.D, config, self.device, self.objective)
        self.gan, self.opt_g, self.opt_d = self.engine.gan, self.engine.opt_g, self.engine.opt_d
        self.graphed = self.engine.graphed
        self.gan.view = algorithm.DInputs(model_config.shape, config.augments, config.instance_noise)  # D's sight
        # A moving average of G's weights, for sampling only (G_ema: its module).
        self.ema = MovingAverage(self.G, config.ema_decay) if config.ema_decay else None
        self.G_ema = self.ema.module if self.ema is not None else None
        # z ~ N(0, I) (B, latent_dim) for the step; the grids' noise has its own generator (it never moves the
        # training RNG).
        self.noise = functools.partial(torch.randn, config.batch_size, model_config.latent_dim, device=self.device)
        self.fixed_noise = torch.randn(config.grid_size, model_config.latent_dim,
                                       generator=torch.Generator().manual_seed(config.seed))

    # ------------------------------------------------------------------ the GAN step

    def train_step(self, real: torch.Tensor) -> torch.Tensor:
        """One iteration of Algorithm 1 (algorithm.iteration: the step, replayed from a CUDA graph on one GPU), then
        the EMA; returns the step's stats as one tensor (4,) in schema.STEP_KEYS' order. `real` holds d_steps
        batches (d_steps x B, pixels), one per D update, each with its own z."""
        if self.config.lr_cooldown:  # read by Adam at its next step, or by the graph's replay
            self.engine.set_lr(cooled_lr(self.config, self.step, self.config.epochs * self.steps_per_epoch))
        set_schedule(self.gan, self.config, self.step, self.config.epochs * self.steps_per_epoch)
        stats = algorithm.iteration(self.gan, real.split(self.config.batch_size), self.noise, step=self.engine.step)
        if self.ema is not None:
            self.ema.update(self.step)  # and BatchNorm's statistics of a user's G (the package's G has none)
        for hook in self.step_hooks:
            hook(self)
        return torch.stack(stats)

    def sampling_generator(self) -> nn.Module:
        """The generator to draw samples from: the moving average of G's weights when kept, else G."""
        return self.G_ema if self.G_ema is not None else self.G

    def generate_fixed(self) -> np.ndarray:
        """The fixed noise's images, uint8 (grid_size, H, W[, 3]): the same z every epoch (sampling.draw)."""
        return draw(self.sampling_generator(), self.fixed_noise.to(self.device), self.model_config.shape)

    # ------------------------------------------------------------------ the loop

    def train(self) -> None:
        """Train to `config.epochs`. SIGINT/SIGTERM stop after the current step: the checkpoint is written,
        then Interrupted is raised; a non-finite loss raises TrainingError (the last good checkpoint is kept)."""
        try:
            with self.stop:
                while self.epoch < self.config.epochs:
                    self.train_epoch()
                    if self.stop.requested and self.epoch < self.config.epochs:
                        raise Interrupted(_interrupted(self.epoch + 1, self.step, self.run))
        finally:
            self.close()

    def close(self) -> None:
        """End the session: the callbacks' on_close (the run folder's lock released if this session took it;
        `train` does so when it ends; after `train_epoch` calls, call it). Training again starts a new one."""
        if self.started:
            self._call("on_close")
        self.started = False
        if self.world > 1:
            self.replicas_sha256 = distributed.check_replicas([self.G, self.D])

    def train_epoch(self) -> dict[str, Any]:
        """One epoch (or what is left of an interrupted one); returns its metrics record. Stopped mid-epoch, it
        saves the step reached (on_stop) and raises Interrupted."""
        if not self.started:
            self._call("on_start")
            self.started = True
        epoch = self.epoch + 1
        if self.batch_in_epoch == 0:  # a new epoch's order of the data (an interrupted one keeps its own)
            self.permutation = torch.randperm(self.num_images, generator=self.permutation_rng).to(self.device)
            self.epoch_stats = torch.zeros(self.steps_per_epoch, len(STEP_KEYS), device=self.device)
            self.epoch_time = 0.0
        with self.threads.training():
            start = time.perf_counter()
            self._run_steps(epoch)
            seconds = time.perf_counter() - start
            self.epoch_time, self.elapsed = self.epoch_time + seconds, self.elapsed + seconds
            if self.batch_in_epoch < self.steps_per_epoch:  # stopped by a signal: save the position in the epoch
                self._call("on_stop", self.state_dict())  # (the state: a collective, every rank takes part)
                raise Interrupted(_interrupted(epoch, self.step, self.run))
            length = budgeted_length(self, epoch)  # --minutes: the config says how long the run is
            if length != self.config.epochs:
                self.config.epochs = length
                self._call("on_length_set")
            self.epoch, self.batch_in_epoch = epoch, 0
            return self._end_epoch(epoch)

    def _call(self, moment: str, *args: Any) -> None:
        """Each callback's `moment` method, on the process that writes (rank 0)."""
        if self.rank == 0:
            for callback in self.callbacks:
                getattr(callback, moment)(self, *args)

    def _batch(self, b: int) -> torch.Tensor:
        """Step b's real images, this process's shard of them, as floats (d_steps x B, 784) in [-1, 1]."""
        size = self.config.batch_size * self.config.d_steps
        index = self.permutation[(b * self.world + self.rank) * size:][:size]
        real = self.images[index].float().div_(127.5).sub_(1)
        return self.batch_transform(real) if self.batch_transform is not None else real

    def _run_steps(self, epoch: int) -> None:
        """The epoch's steps from `batch_in_epoch` on, until the end or a stop request; a progress bar."""
        log = StepLog(self.epoch_stats, self.batch_in_epoch, epoch_label(epoch, self.config, self.elapsed),
                      self.images_per_step, show=self.rank == 0 and self.progress)
        start = time.perf_counter()
        self.G.train(), self.D.train()
        try:
            for b in range(self.batch_in_epoch, self.steps_per_epoch):
                self.epoch_stats[b] = self.train_step(self._batch(b))
                self.batch_in_epoch, self.step = b + 1, self.step + 1
                self.threads.after_step()
                if self.batch_in_epoch % self.config.log_every == 0 or self.batch_in_epoch == self.steps_per_epoch:
                    self._check(log, epoch, self.epoch_time + time.perf_counter() - start)
                    if self.world > 1 and distributed.any_rank(self.stop.requested):
                        self.stop.requested = True  # every rank stops at the same step
                        break
                if self.stop.requested and self.world == 1:
                    break
            self._check(log, epoch, self.epoch_time + time.perf_counter() - start)
        finally:
            log.close()

    def _check(self, log: StepLog, epoch: int, seconds: float) -> None:
        """Read the statistics back and stop on the first non-finite loss, naming its step."""
        rows, bad = log.read(self.batch_in_epoch, seconds, left=self._time_left(seconds - self.epoch_time))
        if bad is None:
            return
        row = rows[bad - (self.batch_in_epoch - len(rows))] if bad >= 0 else None
        losses = f"loss_D {row[0]}, loss_G {row[1]}" if row else "on another process"
        at = self.step - self.batch_in_epoch + (bad if bad >= 0 else self.batch_in_epoch - 1) + 1
        kept = ("no checkpoint was written yet" if self.run is None or not self.run.last_checkpoint.exists()
                else f"the last good checkpoint {self.run.last_checkpoint} (epoch {self.epoch}) is kept")
        raise TrainingError(f"the losses became non-finite ({losses}) at epoch {epoch}, step {at}; {kept}; "
                            f"try a lower --lr")

    def _time_left(self, session_seconds: float) -> float:
        """Seconds of training left in the whole run at its speed so far (or to the end of --minutes if sooner),
        `session_seconds` into the current epoch's stretch; evaluations are not counted."""
        spent = self.elapsed + session_seconds
        left = (self.config.epochs * self.steps_per_epoch - self.step) * spent / max(self.step, 1)
        return left if self.config.minutes is None else max(0.0, min(left, self.config.minutes * 60 - spent))

    def _end_epoch(self, epoch: int) -> dict[str, Any]:
        """The epoch's record (its mean statistics, speed, threads), measured by the callbacks (the evaluation),
        then saved (grid, steps, checkpoints, metrics line), then the epoch hooks and the epoch's line."""
        means = self.epoch_stats.mean(0).tolist()
        record = {"epoch": epoch, "step": self.step, **dict(zip(STEP_KEYS, means, strict=True)),
                  "images_per_s": self.steps_per_epoch * self.images_per_step / self.epoch_time,
                  "elapsed_s": self.elapsed,
                  "threads": self.threads.most_used() if self.device.type == "cpu" else None}  # a GPU's: none
        self._call("on_epoch_end", record)  # the evaluation, when due
        self.metrics.append(record)
        improved = record.get("fid", math.inf) < self.best_fid
        self.best_fid = min(self.best_fid, record.get("fid", math.inf))
        self._call("on_epoch_saved", record, self.state_dict(), improved)  # the state: a collective
        return record

    def evaluate(self, two_sample: bool = False) -> dict[str, Any]:
        """The sampling generator's metrics as metrics.jsonl keeps them (callbacks.Evaluation.measure); no RNG
        moves. With `two_sample` (the last epoch) the two-sample test too, its pictures into the run folder."""
        if self.evaluation is None:
            raise UsageError("this Trainer was built without an evaluate callable (e.g. evaluate.Evaluator)")
        return self.evaluation.measure(self, two_sample)

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything to resume or sample (trainstate.py; checkpoint.py lists the keys); collective under torchrun."""
        return trainstate.state_of(self)

    @classmethod
    def resume(cls, state: dict[str, Any], images: torch.Tensor, run: RunDir | None = None,
               changes: dict[str, Any] | None = None, **kwargs: Any) -> Trainer:
        """A trainer rebuilt from a checkpoint dict, to continue it. `changes` (field -> value) may change only
        config.RESUMABLE (epochs, device, ...); other keyword arguments are the constructor's."""
        return trainstate.resume(cls, state, images, run, changes or {}, **kwargs)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take the weights, optimizer states, position, RNG states and log of a (validated) checkpoint."""
        trainstate.restore(self, state)


def set_schedule(gan: algorithm.GAN, config: TrainConfig, step: int, total: int) -> None:
    """Before step `step` of `total`: the instance noise's sigma (annealed linearly from --instance-noise to 0 over
    the run) and the R1 penalty's weight (gamma/2 x K every K steps, else 0)."""
    if config.instance_noise:
        gan.view.sigma = config.instance_noise * max(0.0, 1 - step / total)
    if config.r1_gamma:
        gan.r1 = config.r1_gamma / 2 * config.r1_every if step % config.r1_every == 0 else 0.0


def _checked(model_config: ModelConfig, train_config: TrainConfig, images: torch.Tensor,
             world: int) -> tuple[ModelConfig, TrainConfig, torch.Tensor]:
    """Validated copies of the configs (a drawn seed or a spent time budget never changes the caller's), the
    model's image shape filled from the images when None, and the images as checked uint8, enough for a step of
    `world` processes."""
    model_config.validate()
    train_config.validate()
    model_config, train_config = dataclasses.replace(model_config), dataclasses.replace(train_config)
    images = as_images(images, "the images")[0]  # uint8, checked: never floats scaled as if 0..255
    if model_config.image_shape is None:
        model_config.image_shape = tuple(images.shape[1:])
        model_config.validate()  # what depends on the images' shape (the conv networks' sides)
    elif model_config.shape != tuple(images.shape[1:]):
        raise UsageError(f"the images are {shape_words(images.shape[1:])} but model_config.image_shape is "
                         f"{model_config.shape}: leave image_shape None to take the images' shape")
    if model_config.minibatch_std and train_config.batch_size % 4:
        raise UsageError(f"--minibatch-std takes groups of 4 images: --batch-size must be a multiple of 4, got "
                         f"{train_config.batch_size}")
    per_step = train_config.batch_size * train_config.d_steps * world
    if per_step > images.shape[0]:
        raise UsageError(f"--batch-size {train_config.batch_size} x --d-steps {train_config.d_steps} x {world} "
                         f"process(es) is larger than the data set ({images.shape[0]} images): choose a smaller one")
    return model_config, train_config, images


def _interrupted(epoch: int, step: int, run: RunDir | None) -> str:
    """What Interrupted says: where the run stopped, where it was saved and how to resume it."""
    if run is None:
        return f"interrupted in epoch {epoch} at step {step}; nothing was saved (no run folder)"
    return (f"interrupted in epoch {epoch} at step {step}; checkpoint saved to {run.last_checkpoint}. "
            f"Resume with: vanilla-gan train --out {shlex.quote(str(run.path))} --resume")


def budgeted_length(t: Trainer, epoch: int) -> int:
    """A run's length (epochs) at the end of `epoch` under a time budget (--minutes): this epoch when the budget
    has run out, agreed by every process (their clocks differ); else under --lr-cooldown the slowest process's plan
    (optim.planned_epochs); else as it was."""
    budget = t.config.minutes
    if budget is None:
        return t.config.epochs
    if distributed.any_rank(t.elapsed >= budget * 60) and epoch < t.config.epochs:
        return epoch
    if t.config.lr_cooldown:
        return min(distributed.gather(planned_epochs(t.config, epoch, t.elapsed, t.epoch_cap)))
    return t.config.epochs
