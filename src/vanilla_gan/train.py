"""The Trainer: the seed's GAN step, epochs, fixed-noise grids, the metrics log, checkpoints, resume.

    trainer = Trainer(ModelConfig(), TrainConfig(seed=1), run_dir, images)   # images: uint8 (N, 28, 28)
    trainer.train()                                                          # or Trainer.resume(...)

The whole data set lives on the training device as uint8; each epoch draws one permutation there and a
batch is an index into it, scaled to (-1, 1) on the device. Losses stay on the device and are read back
every `log_every` steps, so the hot loop never waits on the host.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from vanilla_gan import __version__, checkpoint, distributed, runfiles
from vanilla_gan.config import IMAGE_PIXELS, ModelConfig, TrainConfig, from_dict, to_dict
from vanilla_gan.data import load_dataset, load_split
from vanilla_gan.errors import CheckpointError, UsageError, VanillaGanError
from vanilla_gan.models import Discriminator, Generator
from vanilla_gan.report import save_grid, to_uint8

STAT_NAMES = ("loss_d", "loss_g", "d_real", "d_fake")
EVAL_KEYS = ("fid", "kid", "inception_score", "modes", "kl_uniform", "precision", "recall", "parzen_ll",
             "parzen_se", "class_histogram")


class Interrupted(Exception):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint (exit status 130)."""


class TrainingError(VanillaGanError):
    """Training failed (a loss turned NaN or infinite)."""


# ----------------------------------------------------------------------------- seeds, devices, RNGs

def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) in one place, before data and models are built."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def draw_seed() -> int:
    return random.SystemRandom().randrange(2**31)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return resolve_device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if name == "cuda" and distributed.world_size() > 1:
        return torch.device("cuda", torch.cuda.current_device())  # this rank's GPU (distributed.setup)
    return torch.device(name)


def rng_state() -> dict[str, Any]:
    """Every RNG state in use, as plain data that `torch.load(weights_only=True)` accepts."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ----------------------------------------------------------------------------- the trainer

class Trainer:
    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, run_dir: Path,
                 images: torch.Tensor):
        """A fresh run; `train_config.seed` must be set (the CLI draws one when the user gives none)."""
        model_config.validate()
        train_config.validate()
        if train_config.seed is None:
            raise UsageError("a seed is needed: pass --seed N")
        self.model_config, self.config = model_config, train_config
        self.run_dir = Path(run_dir)
        self.device = resolve_device(train_config.device)
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.num_images = images.shape[0]
        if train_config.batch_size * self.world > self.num_images:
            raise UsageError(f"--batch-size {train_config.batch_size} x {self.world} process(es) is larger than "
                             f"the data set ({self.num_images} images): choose a smaller one")
        # Each step takes batch_size images per process; the last partial step of an epoch is dropped.
        self.steps_per_epoch = self.num_images // (train_config.batch_size * self.world)

        set_seed(train_config.seed)
        self.images = images.reshape(self.num_images, IMAGE_PIXELS).to(self.device)  # uint8 (N, 784)
        self.G = Generator(model_config).to(self.device)
        self.D = Discriminator(model_config).to(self.device)
        # On one GPU the step is captured once and replayed as a CUDA graph: one launch instead of ~100.
        self.graphed = train_config.cuda_graph and self.device.type == "cuda" and self.world == 1
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_warmups = 0
        adam = {"lr": train_config.lr, "betas": tuple(train_config.betas), "fused": True,
                "capturable": self.graphed}
        self.opt_g = torch.optim.Adam(self.G.parameters(), **adam)
        self.opt_d = torch.optim.Adam(self.D.parameters(), **adam)
        # The epoch permutation has its own generator: identical on every rank, whatever each rank draws. It is
        # a CPU generator on every device, so a run started on a GPU resumes on a CPU and the other way round.
        self.permutation_rng = torch.Generator().manual_seed(train_config.seed)
        if self.world > 1:  # same initial weights (set above), but each rank its own noise and dropout
            torch.manual_seed(train_config.seed + self.rank)
        # What the training step calls: the plain modules, or DDP wrappers that average gradients.
        self.g_train, self.d_train = self.G, self.D.net
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_train = DistributedDataParallel(self.G, device_ids=ids)
            self.d_train = DistributedDataParallel(self.D.net, device_ids=ids)
        # An exponential moving average of G's weights, for sampling only: it changes no training step.
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if train_config.ema_decay else None
        if self.G_ema is not None:
            self._ema_params, self._g_params = list(self.G_ema.parameters()), list(self.G.parameters())
        # The grids' noise has its own generator, so drawing it never moves the training RNG.
        noise_rng = torch.Generator().manual_seed(train_config.seed)
        self.fixed_noise = torch.randn(train_config.grid_size, model_config.latent_dim, generator=noise_rng)
        self.ones = torch.ones(train_config.batch_size, device=self.device)
        self.zeros = torch.zeros(train_config.batch_size, device=self.device)

        self.epoch = 0  # completed epochs
        self.step = 0  # completed steps, all epochs
        self.batch_in_epoch = 0  # completed steps in the current epoch (non-zero only after an interrupt)
        self.permutation: torch.Tensor | None = None
        self.epoch_stats: torch.Tensor | None = None  # (steps_per_epoch, 4) on the device
        self.epoch_time = 0.0  # seconds of training steps in the current epoch
        self.elapsed = 0.0  # seconds of training, all epochs and resumes
        self.metrics: list[dict[str, Any]] = []
        self.best_fid = math.inf
        self._evaluation: tuple | None = None  # (evaluator, real images, held-out images), loaded once
        self._stop_requested = False
        # Called on rank 0 after each epoch is logged and checkpointed, e.g. TensorBoard (cli.py).
        self.epoch_hooks: list[Callable[[Trainer, dict[str, Any]], None]] = []

    # ------------------------------------------------------------------ paths

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "checkpoints" / "best.pt"

    def grid_path(self, epoch: int) -> Path:
        return self.run_dir / "samples" / f"epoch_{epoch:04d}.png"

    # ------------------------------------------------------------------ the GAN step

    def gan_step(self, real: torch.Tensor) -> torch.Tensor:
        """One D update then one G update on a real batch (B, 784) in (-1, 1); returns the 4 stats."""
        z = torch.randn(real.shape[0], self.model_config.latent_dim, device=self.device)
        stats = self._graph_step(real, z) if self.graphed else self._step(real, z)
        if self.G_ema is not None:
            self._update_ema()
        return stats

    def _step(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The seed's step for real images (B, 784) and noise z (B, latent); returns loss_D, loss_G, D(x), D(G(z))."""
        # (1) Update D: maximise log D(x) + log(1 - D(G(z))), i.e. minimise BCE with real = 1, fake = 0.
        # One D pass over real and fake together: D has no batch statistics and draws its dropout masks
        # element by element, so this is the same computation as two passes, with larger matrix products.
        with self._autocast():
            fake = self.g_train(z)  # (B, 784)
            logits = self.d_train(torch.cat([real, fake.detach()])).squeeze(1)  # (2B,)
            logit_real, logit_fake = logits[:real.shape[0]], logits[real.shape[0]:]
            loss_d = (F.binary_cross_entropy_with_logits(logit_real, self.ones)
                      + F.binary_cross_entropy_with_logits(logit_fake, self.zeros))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # (2) Update G through D: non-saturating maximises log D(G(z)) (BCE with target 1); minimax
        # minimises log(1 - D(G(z))), which is -BCE with target 0. D needs no weight gradients here, and
        # the plain module is used: D's replicas are identical and nothing of D is to be averaged.
        self.D.requires_grad_(False)
        with self._autocast():
            logit_gen = self.D.logits(fake)
            if self.config.g_loss == "non-saturating":
                loss_g = F.binary_cross_entropy_with_logits(logit_gen, self.ones)
            else:
                loss_g = -F.binary_cross_entropy_with_logits(logit_gen, self.zeros)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)

        with torch.no_grad():
            return torch.stack([loss_d, loss_g, torch.sigmoid(logit_real).mean(),
                                torch.sigmoid(logit_fake).mean()])

    def _graph_step(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """`_step` replayed from a CUDA graph: the same kernels on fixed input buffers, launched at once.

        A few eager steps on a side stream come first (cuBLAS and Adam's state must exist before a capture);
        the capture records the step without running it, so the step it was captured on is then replayed."""
        if self._graph is None and self._graph_warmups < 3:
            self._graph_warmups += 1
            side, main = torch.cuda.Stream(self.device), torch.cuda.current_stream(self.device)
            side.wait_stream(main)
            with torch.cuda.stream(side):
                stats = self._step(real, z)
            main.wait_stream(side)
            return stats
        if self._graph is None:
            self._graph_inputs = (real.clone(), z.clone())
            self._graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self._graph):
                self._graph_stats = self._step(*self._graph_inputs)
        else:
            self._graph_inputs[0].copy_(real)
            self._graph_inputs[1].copy_(z)
        self._graph.replay()
        return self._graph_stats

    def _autocast(self) -> torch.autocast:
        """bf16 autocast for the forward passes when --precision bf16; weights and Adam stay fp32.
        (A CUDA graph needs autocast's cast cache off; each weight is cast once per step either way.)"""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16",
                              cache_enabled=not self.graphed)

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up: early on the average follows G closely, so it is not dominated by the random init.
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(self._ema_params, self._g_params, 1 - decay)

    @property
    def sampler(self) -> Generator:
        """The generator to draw samples from: the EMA one when kept."""
        return self.G_ema if self.G_ema is not None else self.G

    # ------------------------------------------------------------------ epochs

    def train(self) -> None:
        """Train to `config.epochs`; raises Interrupted (after saving) on SIGINT/SIGTERM."""
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._write_config()
            self._rewrite_metrics()
            runfiles.trim_steps(self.run_dir, self.epoch)  # steps.csv holds the checkpoint's epochs only
        previous = self._install_signal_handlers()
        try:
            while self.epoch < self.config.epochs:
                self._run_epoch()
            if self.world > 1:
                self.check_replicas()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def check_replicas(self) -> str:
        """Every rank's weights hash to the same SHA-256 (a collective); returns it, or raises."""
        digest = hashlib.sha256()
        for module in (self.G, self.D):
            for tensor in module.state_dict().values():
                digest.update(tensor.detach().cpu().numpy().tobytes())
        digests = distributed.gather(digest.hexdigest())
        if len(set(digests)) != 1:
            raise TrainingError(f"the {self.world} replicas' weights differ after training: {digests}")
        self.replicas_sha256 = digests[0]
        return digests[0]

    def _run_epoch(self) -> None:
        config, epoch = self.config, self.epoch + 1
        if self.batch_in_epoch == 0:
            self.permutation = torch.randperm(self.num_images, generator=self.permutation_rng).to(self.device)
            self.epoch_stats = torch.zeros(self.steps_per_epoch, len(STAT_NAMES), device=self.device)
            self.epoch_time = 0.0
        bar = tqdm(total=self.steps_per_epoch, initial=self.batch_in_epoch, desc=f"epoch {epoch}/{config.epochs}",
                   unit="step", leave=False, dynamic_ncols=True, disable=None if self.rank == 0 else True)
        step_images = config.batch_size * self.world
        read_upto = self.batch_in_epoch
        start = time.perf_counter()
        self.G.train()
        self.D.train()
        for b in range(self.batch_in_epoch, self.steps_per_epoch):
            first = (b * self.world + self.rank) * config.batch_size  # this rank's shard of step b
            index = self.permutation[first:first + config.batch_size]
            real = self.images[index].float().div_(127.5).sub_(1)  # (B, 784) in [-1, 1]
            self.epoch_stats[b] = self.gan_step(real)
            self.batch_in_epoch, self.step = b + 1, self.step + 1
            if self.batch_in_epoch % config.log_every == 0 or self.batch_in_epoch == self.steps_per_epoch:
                rows = self._read_stats(read_upto, self.batch_in_epoch, epoch)
                read_upto = self.batch_in_epoch
                seconds = self.epoch_time + time.perf_counter() - start
                bar.update(len(rows))
                bar.set_postfix(loss_D=f"{rows[-1][0]:.3f}", loss_G=f"{rows[-1][1]:.3f}",
                                D_x=f"{rows[-1][2]:.2f}", D_G_z=f"{rows[-1][3]:.2f}",
                                img_s=f"{self.batch_in_epoch * step_images / seconds:.0f}")
                if self.world > 1 and distributed.any_rank(self._stop_requested):
                    self._stop_requested = True  # every rank stops at the same step
                    break
            if self._stop_requested and self.world == 1:
                break
        self._read_stats(read_upto, self.batch_in_epoch, epoch)
        bar.close()
        seconds = time.perf_counter() - start
        self.epoch_time += seconds
        self.elapsed += seconds

        if self.batch_in_epoch < self.steps_per_epoch:  # stopped by a signal mid-epoch
            self.save_checkpoint()
            raise Interrupted(self._interrupt_message(epoch))
        self.epoch, self.batch_in_epoch = epoch, 0
        self._end_epoch(epoch)
        if self._stop_requested and self.epoch < config.epochs:
            raise Interrupted(self._interrupt_message(epoch + 1))

    def _read_stats(self, lo: int, hi: int, epoch: int) -> list[list[float]]:
        """Copy stats rows [lo, hi) to the host (the only sync) and stop on the first non-finite loss."""
        rows = self.epoch_stats[lo:hi].tolist()
        bad = [i for i, row in enumerate(rows) if not all(math.isfinite(v) for v in row[:2])]
        if distributed.any_rank(bool(bad)):
            i = bad[0] if bad else len(rows) - 1
            losses = f"loss_D {rows[i][0]}, loss_G {rows[i][1]}" if bad else "on another process"
            step = self.step - self.batch_in_epoch + lo + i + 1
            kept = (f"the last good checkpoint {self.checkpoint_path} (epoch {self.epoch}) is kept"
                    if self.checkpoint_path.exists() else "no checkpoint was written yet")
            raise TrainingError(f"the losses became non-finite ({losses}) at epoch {epoch}, step {step}; {kept}; "
                                f"try a lower --lr")
        return rows

    def _end_epoch(self, epoch: int) -> None:
        """Log the epoch, draw its fixed-noise grid, evaluate when due, and checkpoint it (atomically)."""
        means = self.epoch_stats.mean(0).tolist()
        record = {"epoch": epoch, "step": self.step, **dict(zip(STAT_NAMES, means, strict=True)),
                  "images_per_s": self.steps_per_epoch * self.config.batch_size * self.world / self.epoch_time,
                  "elapsed_s": self.elapsed}
        every = self.config.eval_every
        if self.rank == 0 and every and (epoch % every == 0 or epoch == self.config.epochs):
            start = time.perf_counter()
            record.update(self.evaluate())
            record["eval_s"] = time.perf_counter() - start
        self.metrics.append(record)
        improved = record.get("fid", math.inf) < self.best_fid
        self.best_fid = min(self.best_fid, record.get("fid", math.inf))
        state = self.state_dict()  # a collective: every rank takes part, rank 0 writes
        if self.rank != 0:
            return
        save_grid(self.generate_fixed(), self.grid_path(epoch))
        runfiles.append_steps(self.run_dir, epoch, self.step - self.steps_per_epoch + 1, self.epoch_stats.cpu().numpy())
        checkpoint.save(self.checkpoint_path, state)
        if improved:
            checkpoint.save(self.best_path, state)
        if self.config.checkpoint_every and epoch % self.config.checkpoint_every == 0:
            checkpoint.save(self.checkpoint_path.with_name(f"epoch_{epoch:04d}.pt"), state)
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        for hook in self.epoch_hooks:
            hook(self, record)
        fid = f"  FID {record['fid']:.2f} (best {self.best_fid:.2f})" if "fid" in record else ""
        tqdm.write(f"epoch {epoch}/{self.config.epochs}  loss_D {record['loss_d']:.3f}  "
                   f"loss_G {record['loss_g']:.3f}  D(x) {record['d_real']:.2f}  D(G(z)) {record['d_fake']:.2f}  "
                   f"{record['images_per_s']:,.0f} img/s  {self.elapsed:.0f} s{fid}", file=sys.stdout)

    def evaluate(self) -> dict[str, Any]:
        """The evaluation metrics of the sampling generator on `eval_samples` images (no training RNG used)."""
        from vanilla_gan import evaluate
        from vanilla_gan.classifier import load_evaluator

        # Forked RNGs: building the evaluator draws initial weights, and nothing here may move the training RNG.
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            if self._evaluation is None:
                real, _ = load_dataset(self.config.dataset)
                try:
                    heldout = load_split(self.config.dataset, "test")[0]
                except VanillaGanError:  # no test split (the digits), or not available offline
                    heldout = None
                self._evaluation = (load_evaluator(self.device), real, heldout)
            evaluator, real, heldout = self._evaluation
            images = evaluate.sample_images(self.sampler, self.config.eval_samples, seed=0, device=self.device)
            result = evaluate.compute_metrics(images, real, heldout, device=self.device, evaluator=evaluator)
        return {key: result[key] for key in EVAL_KEYS}

    @torch.no_grad()
    def generate_fixed(self) -> np.ndarray:
        return to_uint8(self.sampler(self.fixed_noise.to(self.device)))

    # ------------------------------------------------------------------ signals

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop_requested:  # a second Ctrl-C: stop now (the checkpoint on disk is still whole)
            raise KeyboardInterrupt
        self._stop_requested = True
        tqdm.write("stopping after this step and saving a checkpoint (a second signal quits at once)",
                   file=sys.stderr)

    def _interrupt_message(self, epoch: int) -> str:
        return (f"interrupted in epoch {epoch} at step {self.step}; checkpoint saved to {self.checkpoint_path}. "
                f"Resume with: vanilla-gan train --out {self.run_dir} --resume")

    # ------------------------------------------------------------------ files and checkpoints

    def _write_config(self) -> None:
        config = {"package_version": __version__, "model": to_dict(self.model_config),
                  "train": to_dict(self.config), "num_images": self.num_images,
                  "steps_per_epoch": self.steps_per_epoch, "device": str(self.device), "world_size": self.world}
        (self.run_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    def _rewrite_metrics(self) -> None:
        """metrics.jsonl holds exactly the epochs in the checkpoint (a resumed run rewrites it)."""
        tmp = self.run_dir / "metrics.jsonl.tmp"
        tmp.write_text("".join(json.dumps(record) + "\n" for record in self.metrics))
        tmp.replace(self.run_dir / "metrics.jsonl")

    def save_checkpoint(self) -> None:
        """Every rank calls this (the RNG states are gathered); rank 0 writes."""
        state = self.state_dict()
        if self.rank == 0:
            checkpoint.save(self.checkpoint_path, state)

    def state_dict(self) -> dict[str, Any]:
        mid_epoch = self.batch_in_epoch > 0
        return {
            "package_version": __version__,
            "model_config": to_dict(self.model_config),
            "train_config": to_dict(self.config),
            "generator": self.G.state_dict(),
            "generator_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "batch_in_epoch": self.batch_in_epoch,
            "num_images": self.num_images,
            "permutation": self.permutation.cpu() if mid_epoch else None,
            "epoch_stats": self.epoch_stats.cpu() if mid_epoch else None,
            "epoch_time": self.epoch_time,
            "elapsed": self.elapsed,
            "rng": distributed.gather(rng_state()),  # one per rank
            "permutation_rng": self.permutation_rng.get_state(),
            "fixed_noise": self.fixed_noise,
            "seed": self.config.seed,
            "metrics": self.metrics,
            "best_fid": self.best_fid,
        }

    @classmethod
    def resume(cls, state: dict[str, Any], run_dir: Path, images: torch.Tensor,
               overrides: dict[str, Any] | None = None) -> Trainer:
        """Rebuild a trainer from a checkpoint dict; `overrides` may change epochs, device, log_every."""
        model_config = from_dict(ModelConfig, state["model_config"])
        train_config = from_dict(TrainConfig, {**state["train_config"], **(overrides or {})})
        if images.shape[0] != state["num_images"]:
            raise UsageError(f"the data set has {images.shape[0]} images but the run was trained on "
                             f"{state['num_images']}: resume with the run's --dataset and --limit")
        trainer = cls(model_config, train_config, run_dir, images)
        try:
            trainer.G.load_state_dict(state["generator"])
            trainer.D.load_state_dict(state["discriminator"])
            if trainer.G_ema is not None:
                trainer.G_ema.load_state_dict(state["generator_ema"])
            trainer.opt_g.load_state_dict(state["opt_g"])
            trainer.opt_d.load_state_dict(state["opt_d"])
            for group in trainer.opt_g.param_groups + trainer.opt_d.param_groups:
                group["capturable"] = trainer.graphed  # the saved flag is the saving machine's
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"the checkpoint's weights do not fit its model config ({exc})") from exc
        trainer.epoch, trainer.step = state["epoch"], state["step"]
        trainer.batch_in_epoch = state["batch_in_epoch"]
        if trainer.batch_in_epoch:
            trainer.permutation = state["permutation"].to(trainer.device)
            trainer.epoch_stats = state["epoch_stats"].to(trainer.device)
        trainer.epoch_time, trainer.elapsed = state["epoch_time"], state["elapsed"]
        trainer.fixed_noise = state["fixed_noise"]
        trainer.metrics = list(state["metrics"])
        trainer.best_fid = state.get("best_fid", math.inf)
        if len(state["rng"]) != trainer.world:
            raise UsageError(f"the run was trained by {len(state['rng'])} process(es): resume it with as many "
                             f"(torchrun --nproc_per_node={len(state['rng'])}), not {trainer.world}")
        set_rng_state(state["rng"][trainer.rank])
        try:
            trainer.permutation_rng.set_state(state["permutation_rng"])
        except RuntimeError as exc:
            raise CheckpointError(f"the checkpoint's permutation RNG state does not fit this version ({exc})") from exc
        return trainer
