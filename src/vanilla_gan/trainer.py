"""The Trainer: the original GAN's step, the epoch loop, and the state a checkpoint holds.

    trainer = Trainer(ModelConfig(), TrainConfig(seed=1), images)               # images: uint8 (N, 28, 28)
                                                        # or (N, H, W[, 3]): uint8, or floats in [0, 1]
    trainer.train()                                                             # no files: benchmarks, notebooks
    trainer = Trainer(ModelConfig(), TrainConfig(), images, run=RunDir("runs/a"), evaluate=Evaluator("digits"))
    trainer.train()                                                             # what `vanilla-gan train` does
    trainer = Trainer.resume(run.load_checkpoint(), images, run=run, changes={"epochs": 80})

The whole data set lives on the training device as uint8; each epoch draws one permutation and a batch is
an index into it, scaled to (-1, 1) on the device. The four statistics of each step (schema.STEP_STATS)
stay on the device and are read back every `log_every` steps, so the hot loop never waits on the host.

Not the Trainer's: the run folder's files (`rundir.RunDir`, given as `run`), the metrics (an `evaluate`
callable: generator -> dict, e.g. `evaluate.Evaluator`), printing (a `log` callable for the epoch lines),
signals (`runtime.StopFlag`). `epoch_hooks` are called after each epoch is checkpointed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import math
import shlex
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from vanilla_gan import algorithm, distributed, trainstate
from vanilla_gan._version import __version__
from vanilla_gan.algorithm import GAN, BCEObjective
from vanilla_gan.config import ModelConfig, TrainConfig, resume_configs, to_dict
from vanilla_gan.cudagraph import GraphedStep
from vanilla_gan.data.arrays import as_images, shape_words
from vanilla_gan.errors import Interrupted, TrainingError, UsageError
from vanilla_gan.images import to_uint8
from vanilla_gan.models import Discriminator, Generator, MovingAverage, Scores, check_networks
from vanilla_gan.optim import set_lr
from vanilla_gan.progress import StepLog, slowdown
from vanilla_gan.rundir import RunDir
from vanilla_gan.runtime import StopFlag, StopNow, draw_seed, mkl_cbwr, resolve_device, set_seed
from vanilla_gan.schema import STEP_KEYS, epoch_metrics
from vanilla_gan.threads import ThreadPolicy

EpochHook = Callable[["Trainer", dict[str, Any]], None]


class Trainer:
    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, images: torch.Tensor,
                 run: RunDir | None = None, *, evaluate: Callable[[nn.Module], dict[str, Any]] | None = None,
                 generator: nn.Module | None = None, discriminator: nn.Module | None = None,
                 epoch_hooks: Iterable[EpochHook] = (), log: Callable[[str], None] | None = None,
                 progress: bool = True):
        """A fresh run of `images` (uint8 (N, 28, 28), or any (N, H, W) / (N, H, W, 3) uint8 or floats in [0, 1],
        see data/arrays.py). Without `run` nothing is written; without `evaluate` nothing is evaluated. A
        `train_config.seed` of None is drawn, a `model_config.image_shape` of None is the images' (both stored in
        the configs).

        `generator` and `discriminator` replace the package's networks: G maps z (B, latent_dim) to images
        (B, 28, 28) in (-1, 1); D maps images (B, 28, 28) to pre-sigmoid scores (B,) (or has a `logits` method).
        """
        model_config.validate()
        train_config.validate()  # copies: a drawn seed or a spent time budget never changes the caller's config
        self.model_config, self.config = dataclasses.replace(model_config), dataclasses.replace(train_config)
        train_config, model_config = self.config, self.model_config
        images = as_images(images, "the images")[0]  # uint8, checked: never floats scaled as if 0..255
        if model_config.image_shape is None:
            model_config.image_shape = tuple(images.shape[1:])
        elif model_config.shape != tuple(images.shape[1:]):
            raise UsageError(f"the images are {shape_words(images.shape[1:])} but model_config.image_shape is "
                             f"{model_config.shape}: leave image_shape None to take the images' shape")
        self.run, self.evaluate_fn, self.epoch_hooks = run, evaluate, list(epoch_hooks)
        self.log, self.progress = log or (lambda line: None), progress
        self.device = resolve_device(train_config.device)
        self.threads = ThreadPolicy.choose(train_config.threads, self.device)  # changes no result (threads.py)
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.num_images = images.shape[0]
        # Each step takes d_steps batches of batch_size images per process (one per D update); the last partial
        # step of an epoch is dropped.
        self.images_per_step = train_config.batch_size * train_config.d_steps * self.world
        if self.images_per_step > self.num_images:
            raise UsageError(f"--batch-size {train_config.batch_size} x --d-steps {train_config.d_steps} x "
                             f"{self.world} process(es) is larger than the data set ({self.num_images} images): "
                             f"choose a smaller one")
        self.steps_per_epoch = self.num_images // self.images_per_step
        # The images' fingerprint: a resume checks it, so a run never continues on other data by accident.
        self.data_sha256 = hashlib.sha256(images.cpu().contiguous().numpy().tobytes()).hexdigest()
        if train_config.seed is None:  # drawn once, on rank 0, so that every process agrees
            train_config.seed = distributed.on_main(draw_seed)

        set_seed(train_config.seed)
        self.images = images.reshape(self.num_images, model_config.pixels).to(self.device)  # uint8 (N, 784)
        self.G = (generator or Generator(model_config)).to(self.device)
        self.D = (discriminator or Discriminator(model_config)).to(self.device)
        if generator is not None or discriminator is not None:
            check_networks(self.G, self.D, model_config.latent_dim, self.device, model_config.shape)
        # On one GPU the step is captured once and replayed as a CUDA graph: one launch instead of ~100.
        self.graphed = (train_config.cuda_graph and self.device.type == "cuda" and self.world == 1
                        and train_config.d_steps == 1)
        self.graph_step = GraphedStep(self.gan_step, self.device) if self.graphed else None
        # A captured step reads the learning rate from device memory: a tensor, which --lr-cooldown writes into.
        def adam(params: Any) -> torch.optim.Adam:
            lr = torch.tensor(train_config.lr, device=self.device) if self.graphed else train_config.lr
            return torch.optim.Adam(params, lr=lr, betas=tuple(train_config.betas), fused=True,
                                    capturable=self.graphed)
        self.opt_g, self.opt_d = adam(self.G.parameters()), adam(self.D.parameters())
        # The epoch permutation has its own generator: identical on every rank, whatever each rank draws. It is
        # a CPU generator on every device, so a run started on a GPU resumes on a CPU and the other way round.
        self.permutation_rng = torch.Generator().manual_seed(train_config.seed)
        if self.world > 1:  # same initial weights (set above), but each rank its own noise and dropout
            torch.manual_seed(train_config.seed + self.rank)
        # What the step calls: the plain modules, or DDP wrappers that average gradients across processes.
        self.d_scores = Scores(self.D)
        self.g_train, self.d_train = distributed.wrap(self.G, self.device), distributed.wrap(self.d_scores, self.device)
        # A moving average of G's weights, for sampling only (G_ema: its module).
        self.ema = MovingAverage(self.G, train_config.ema_decay) if train_config.ema_decay else None
        self.G_ema = self.ema.module if self.ema is not None else None
        # The grids' noise has its own generator, so drawing it never moves the training RNG.
        noise_rng = torch.Generator().manual_seed(train_config.seed)
        self.fixed_noise = torch.randn(train_config.grid_size, model_config.latent_dim, generator=noise_rng)
        # The step (algorithm.py) updates these: the networks as placed above, and the original GAN's objective.
        self.gan = GAN(self.g_train, self.d_train, self.d_scores, self.opt_g, self.opt_d,
                       BCEObjective(train_config.g_loss, train_config.real_label), self._autocast)

        # completed epochs, completed steps (all epochs), completed steps in the current epoch (after an interrupt)
        self.epoch, self.step, self.batch_in_epoch = 0, 0, 0
        self.permutation: torch.Tensor | None = None
        self.epoch_stats: torch.Tensor | None = None  # (steps_per_epoch, 4) on the device
        self.epoch_time = 0.0  # seconds of training steps in the current epoch
        self.elapsed = 0.0  # seconds of training, all epochs and resumes
        self.metrics: list[dict[str, Any]] = []
        self.best_fid, self.resumed, self.stop = math.inf, False, StopFlag()
        self._run_open = self._owns_lock = False

    # ------------------------------------------------------------------ the GAN step

    def gan_step(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The last D update and G's (algorithm.gan_step) on real images (B, pixels) in (-1, 1) and noise z
        (B, latent_dim); returns loss_D, loss_G, D(x), D(G(z)) as one tensor (4,). What the CUDA graph captures."""
        return algorithm.gan_step(self.gan, real, z)

    def train_step(self, real: torch.Tensor) -> torch.Tensor:
        """One iteration of Algorithm 1 (algorithm.iteration; the last D update and G's replayed from a CUDA graph on
        one GPU), then the EMA; returns the 4 stats. `real` holds d_steps batches (d_steps x B, pixels), one per
        D update, each with its own z."""
        if self.config.lr_cooldown:  # linearly to 0 over the last fraction of the steps
            total = self.config.epochs * self.steps_per_epoch
            factor = min(1.0, (total - self.step) / (self.config.lr_cooldown * total))
            for optimizer in (self.opt_g, self.opt_d):  # read by Adam at its next step, or the graph's replay
                set_lr(optimizer, self.config.lr * factor)
        stats = algorithm.iteration(self.gan, real.split(self.config.batch_size), self._noise,
                               last=self.graph_step or self.gan_step)
        if self.ema is not None:
            self.ema.update(self.step)  # and BatchNorm's statistics of a user's G (the package's G has none)
        return stats

    def _noise(self) -> torch.Tensor:
        """z ~ N(0, I), (B, latent_dim), on the training device."""
        return torch.randn(self.config.batch_size, self.model_config.latent_dim, device=self.device)

    def _autocast(self) -> torch.autocast:
        """bf16 autocast for the forward passes when --precision bf16; weights and Adam stay fp32.
        (A CUDA graph needs autocast's cast cache off; each weight is cast once per step either way.)"""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16",
                              cache_enabled=not self.graphed)

    def sampling_generator(self) -> nn.Module:
        """The generator to draw samples from: the moving average of G's weights when kept, else G."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def generate_fixed(self) -> np.ndarray:
        """The fixed noise's images, uint8 (grid_size, H, W[, 3]): the same z every epoch, drawn in eval mode (a user's
        G with BatchNorm or dropout draws as `sample` does), its mode put back after."""
        generator = self.sampling_generator()
        training = generator.training
        try:
            return to_uint8(generator.eval()(self.fixed_noise.to(self.device)), self.model_config.shape)
        finally:
            generator.train(training)

    # ------------------------------------------------------------------ the loop

    def train(self) -> None:
        """Train to `config.epochs`. SIGINT/SIGTERM stop after the current step: the checkpoint is written,
        then Interrupted is raised; a non-finite loss raises TrainingError (the last good checkpoint is kept)."""
        try:
            with self.stop:
                while self.epoch < self.config.epochs:
                    self.train_epoch()
                    if self.stop.requested and self.epoch < self.config.epochs:
                        raise Interrupted(self._interrupt_message(self.epoch + 1))
        finally:
            self.close()

    def close(self) -> None:
        """Release the run folder's lock if this Trainer took it (`train` does so when it ends; after
        `train_epoch` calls, call it). Training again reopens it."""
        if self._run_open and self._owns_lock:
            self.run.unlock()
        self._run_open = False
        if self.world > 1:
            self.replicas_sha256 = distributed.check_replicas([self.G, self.D])

    def train_epoch(self) -> dict[str, Any]:
        """One epoch (or what is left of an interrupted one); returns its metrics record."""
        epoch = self.begin_epoch()
        with self.threads.training():
            start = time.perf_counter()
            self._run_steps(epoch)
            return self.finish_epoch(epoch, time.perf_counter() - start)

    def begin_epoch(self) -> int:
        """Before an epoch's steps: the run folder opened, the epoch's order of the data drawn (an interrupted
        epoch keeps its own); returns the epoch's number."""
        self._open_run()
        if self.batch_in_epoch == 0:
            self.permutation = torch.randperm(self.num_images, generator=self.permutation_rng).to(self.device)
            self.epoch_stats = torch.zeros(self.steps_per_epoch, len(STEP_KEYS), device=self.device)
            self.epoch_time = 0.0
        return self.epoch + 1

    def finish_epoch(self, epoch: int, seconds: float) -> dict[str, Any]:
        """After an epoch's steps (`seconds` of them): checkpoint and raise Interrupted when stopped mid-epoch;
        else end the epoch (time budget, log, grid, evaluation, checkpoint) and return its metrics record."""
        self.epoch_time, self.elapsed = self.epoch_time + seconds, self.elapsed + seconds
        # -- stopped by a signal mid-epoch: checkpoint the position in the epoch
        if self.batch_in_epoch < self.steps_per_epoch:
            self.save_checkpoint()
            raise Interrupted(self._interrupt_message(epoch))
        # -- a time budget (--minutes) that has run out: this is the last epoch, and the config says so
        budget = self.config.minutes  # agreed by every process: their clocks differ
        if budget is not None and distributed.any_rank(self.elapsed >= budget * 60) and epoch < self.config.epochs:
            self.config.epochs = epoch
            if self.run is not None and self.rank == 0:
                self.run.write_config(self.run_config())
        # -- the epoch's end: log, grid, evaluation, checkpoint
        self.epoch, self.batch_in_epoch = epoch, 0
        return self._end_epoch(epoch)

    def _batch(self, b: int) -> torch.Tensor:
        """Step b's real images, this process's shard of them, as floats (d_steps x B, 784) in [-1, 1]."""
        size = self.config.batch_size * self.config.d_steps
        index = self.permutation[(b * self.world + self.rank) * size:][:size]
        return self.images[index].float().div_(127.5).sub_(1)

    def _run_steps(self, epoch: int) -> None:
        """The epoch's steps from `batch_in_epoch` on, until the end or a stop request; a progress bar."""
        log = StepLog(self.epoch_stats, self.batch_in_epoch, self._epoch_label(epoch),
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
        """Log the epoch, evaluate when due, and write its grid, steps, checkpoints and metrics line."""
        means = self.epoch_stats.mean(0).tolist()
        record = {"epoch": epoch, "step": self.step, **dict(zip(STEP_KEYS, means, strict=True)),
                  "images_per_s": self.steps_per_epoch * self.images_per_step / self.epoch_time,
                  "elapsed_s": self.elapsed, "threads": self.threads.most_used()}
        every = self.config.eval_every
        due = self.evaluate_fn is not None and every and (epoch % every == 0 or epoch == self.config.epochs)
        if self.rank == 0 and due and not self.stop.requested:  # a stop is not kept waiting by an evaluation
            start = time.perf_counter()
            try:
                with self.stop.abortable(), self.threads.steady():
                    record.update(self.evaluate(two_sample=epoch == self.config.epochs))
                record["eval_s"] = time.perf_counter() - start
            except StopNow:
                pass  # the epoch is saved without its metrics; `vanilla-gan evaluate RUN` measures them
        self.metrics.append(record)
        improved = record.get("fid", math.inf) < self.best_fid
        self.best_fid = min(self.best_fid, record.get("fid", math.inf))
        state = self.state_dict()  # a collective: every rank takes part, rank 0 writes
        if self.rank == 0 and self.run is not None:
            with self.threads.steady():
                self.run.write_grid(epoch, self.generate_fixed())
            self.run.append_steps(epoch, self.step - self.steps_per_epoch + 1, self.epoch_stats.cpu().numpy())
            keep = bool(self.config.checkpoint_every) and epoch % self.config.checkpoint_every == 0
            self.run.save_checkpoint(state, best=improved, keep=keep)
            self.run.append_metrics(record)
        if self.rank == 0:
            for hook in self.epoch_hooks:
                hook(self, record)
            fid = f"  FID {record['fid']:.2f} (best {self.best_fid:.2f})" if "fid" in record else ""
            self.log(f"{self._epoch_label(epoch)}  loss_D {record['loss_d']:.3f}  loss_G {record['loss_g']:.3f}"
                     f"  D(x) {record['d_real']:.2f}  D(G(z)) {record['d_fake']:.2f}  "
                     f"{record['images_per_s']:,.0f} img/s  {self.elapsed:.0f} s{fid}{slowdown(self.metrics)}")
        return record

    def evaluate(self, two_sample: bool = False) -> dict[str, Any]:
        """The sampling generator's metrics as metrics.jsonl keeps them (schema.epoch_metrics); no RNG moves.
        With `two_sample` (the last epoch), an evaluate callable that takes a `two_sample` keyword (as
        evaluate.Evaluator does) is asked for the two-sample test too, and the
        digits it found easiest and hardest to spot go to the run folder (RunDir.write_two_sample)."""
        if self.evaluate_fn is None:
            raise UsageError("this Trainer was built without an evaluate callable (e.g. evaluate.Evaluator)")
        # Forked RNGs: building the evaluator draws initial weights, and nothing here may move the training RNG.
        with torch.random.fork_rng(devices=[self.device.index or 0] if self.device.type == "cuda" else []):
            generator = self.sampling_generator()
            ask = two_sample and _takes_keyword(self.evaluate_fn, "two_sample")  # (generator) -> dict still works
            result = self.evaluate_fn(generator, two_sample=True) if ask else self.evaluate_fn(generator)
        pictures = result.pop("two_sample_pictures", None)
        if pictures is not None and self.run is not None:
            self.run.write_two_sample(pictures)
        return epoch_metrics(result)

    def _epoch_label(self, epoch: int) -> str:
        budget, epochs = self.config.minutes, self.config.epochs
        return f"epoch {epoch}/{epochs}" if budget is None or epochs == epoch else (
            f"epoch {epoch} ({self.elapsed / 60:.1f}/{budget:g} min)")

    def _interrupt_message(self, epoch: int) -> str:
        if self.run is None:
            return f"interrupted in epoch {epoch} at step {self.step}; nothing was saved (no run folder)"
        return (f"interrupted in epoch {epoch} at step {self.step}; checkpoint saved to {self.run.last_checkpoint}. "
                f"Resume with: vanilla-gan train --out {shlex.quote(str(self.run.path))} --resume")

    # ------------------------------------------------------------------ the run folder and checkpoints

    def run_config(self) -> dict[str, Any]:
        """What config.json holds."""
        return {"package_version": __version__, "model": to_dict(self.model_config), "train": to_dict(self.config),
                "num_images": self.num_images, "steps_per_epoch": self.steps_per_epoch, "device": str(self.device),
                "world_size": self.world, "data_sha256": self.data_sha256,
                "mkl_cbwr": mkl_cbwr(),  # MKL's reproducibility mode (runtime.py)
                "threads": self.threads.record()}  # threads.py; each epoch's line in metrics.jsonl has its count

    def _open_run(self) -> None:
        """Once per Trainer, before its first step: start the run folder, or reopen it at the checkpoint."""
        if self._run_open or self.run is None or self.rank != 0:
            return
        fresh = not (self.resumed or self.epoch > 0)
        self._owns_lock = self.run.start(self.run_config(), self.metrics, self.epoch, fresh)
        self._run_open = True

    def save_checkpoint(self) -> None:
        """Every rank calls this (the RNG states are gathered); rank 0 writes last.pt."""
        state = self.state_dict()
        if self.rank == 0 and self.run is not None:
            self.run.save_checkpoint(state)

    def state_dict(self) -> dict[str, Any]:
        """Everything to resume or sample (trainstate.py; checkpoint.py lists the keys); collective under torchrun."""
        return trainstate.state_of(self)

    @classmethod
    def resume(cls, state: dict[str, Any], images: torch.Tensor, run: RunDir | None = None,
               changes: dict[str, Any] | None = None, **kwargs: Any) -> Trainer:
        """A trainer rebuilt from a checkpoint dict, to continue it. `changes` (field -> value) may change only
        config.RESUMABLE (epochs, device, ...); other keyword arguments are the constructor's."""
        model_config, train_config = resume_configs(state["model_config"], state["train_config"], changes or {},
                                                    state["epoch"])
        if model_config.shape != tuple(images.shape[1:]):
            raise UsageError(f"the run was trained on {shape_words(model_config.shape)} images and --dataset "
                             f"{train_config.dataset} gives {shape_words(images.shape[1:])} ones: resume with the "
                             f"run's --dataset and --image-size")
        if images.shape[0] != state["num_images"]:
            raise UsageError(f"the data set has {images.shape[0]} images but the run was trained on "
                             f"{state['num_images']}: resume with the run's --dataset and --limit")
        trainer = cls(model_config, train_config, images, run, **kwargs)
        if state.get("data_sha256", trainer.data_sha256) != trainer.data_sha256:  # older files have none
            raise UsageError(f"the images of --dataset {train_config.dataset} are not the ones the run was trained on "
                             f"(their SHA-256 differs): resume it with the data it was trained on")
        trainer.load_state_dict(state)
        return trainer

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take the weights, optimizer states, position, RNG states and log of a (validated) checkpoint."""
        trainstate.restore(self, state)
        self.resumed = True


def _takes_keyword(function: Callable[..., Any], name: str) -> bool:
    """Whether `function` accepts the keyword argument `name` (a user's evaluate callable may not)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
