"""Runs of one configuration trained side by side as one batched model (`vanilla-gan sweep --batched K`).

    trainers, rngs = [], []
    for seed in (1, 2, 3):
        trainers.append(Trainer(ModelConfig(), TrainConfig(seed=seed), images, run=RunDir(f"runs/s{seed}")))
        rngs.append(training_rng(trainers[-1].device))     # right after each Trainer is built (or resumed)
    BatchedTrainer(trainers, rngs).train()                 # every run folder written as if trained alone

Each run keeps what makes it its own: its initial weights (built by its Trainer from its seed), its noise and
dropout masks (drawn from a generator holding the state the global RNG would have in a run alone, in the same
order), its data order (its Trainer's permutation generator), its Adam moments and its moving average. Only
the arithmetic is shared: each layer's K weight matrices are stacked, (K, in, out), and one torch.baddbmm
serves every run. A batched step equals the K runs' own steps on the same inputs to float tolerance
(tests/test_batched.py), not bit for bit: the products add up in another order, and a GAN amplifies such
rounding differences over thousands of steps, so a batched run and the same run alone drift apart as training
goes on. At each epoch's end (and when stopped) every run's weights, moving average, Adam state, position and
RNG state are copied back into its Trainer, which evaluates and writes its run folder as usual: a batched run's
folder is an ordinary run folder, and `vanilla-gan train --out RUN --resume` continues one alone.

For the package's networks on one process (no torchrun), eager (no CUDA graph).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vanilla_gan.config import to_dict
from vanilla_gan.errors import Interrupted, TrainingError, UsageError
from vanilla_gan.models import Discriminator, Generator
from vanilla_gan.progress import StepLog
from vanilla_gan.runtime import StopFlag
from vanilla_gan.trainer import Trainer

SHARED_POSITION = ("epoch", "step", "batch_in_epoch", "num_images")


def training_rng(device: torch.device) -> torch.Generator:
    """A generator holding the global RNG's state on `device` now: where a Trainer just built (or resumed)
    would draw its noise and dropout masks from."""
    generator = torch.Generator(device=device)
    generator.set_state(torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state())
    return generator


def _set_global_rng(generator: torch.Generator, device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(generator.get_state(), device)
    else:
        torch.set_rng_state(generator.get_state())


def _stacked(tensors: list[torch.Tensor]) -> torch.Tensor:
    """K runs' copies of one parameter (or its Adam moment) as one tensor: a weight (out, in) becomes (K, in, out),
    so that x @ W needs no transposition and its gradient comes out in the parameter's own layout; a bias (K, out)."""
    return torch.stack([t.t() if t.dim() == 2 else t for t in tensors]).contiguous()


def _run_of(stacked: torch.Tensor, k: int) -> torch.Tensor:
    """Run k's part of a `_stacked` tensor, in the layout of its own network."""
    return stacked[k].t() if stacked.dim() == 3 else stacked[k]


def check_batchable(trainers: Sequence[Trainer]) -> None:
    """A UsageError unless the Trainers can train as one batched model: the package's networks, one process,
    the same configuration but the seed, the same place in training."""
    first = trainers[0]
    same = {k: v for k, v in to_dict(first.config).items() if k != "seed"}
    for t in trainers:
        if type(t.G) is not Generator or type(t.D) is not Discriminator or t.world != 1:
            raise UsageError("runs train side by side only with the package's networks, in one process")
        if to_dict(t.model_config) != to_dict(first.model_config) or {
                k: v for k, v in to_dict(t.config).items() if k != "seed"} != same:
            raise UsageError("runs train side by side only when their configurations differ in the seed alone")
        if t.config.d_steps != 1:
            raise UsageError("runs train side by side only with --d-steps 1 (the batched step updates D once)")
        if any(getattr(t, k) != getattr(first, k) for k in SHARED_POSITION):
            raise UsageError("runs train side by side only from the same place (epoch and step)")


class BatchedTrainer:
    def __init__(self, trainers: Sequence[Trainer], rngs: Sequence[torch.Generator], progress: bool = True):
        """K Trainers (fresh or resumed, see `check_batchable`) and each one's noise generator (`training_rng`,
        taken right after the Trainer was built)."""
        if len(trainers) != len(rngs) or not trainers:
            raise ValueError("one noise generator per Trainer, and at least one Trainer")
        check_batchable(trainers)
        self.trainers, self.rngs, self.progress = list(trainers), list(rngs), progress
        for t in self.trainers:  # config.json says so (a run alone repeats it to float tolerance only)
            t.side_by_side = [other.config.seed for other in self.trainers] if len(self.trainers) > 1 else []
        first = self.trainers[0]
        self.config, self.model_config, self.device = first.config, first.model_config, first.device
        self.k, self.batch_size = len(trainers), first.config.batch_size
        self.stop = StopFlag()
        self.failed: Trainer | None = None  # the run whose losses became non-finite, if one did
        # The stacked networks: per Linear layer a weight (K, in, out) and a bias (K, out), in the order of
        # each network's parameters(), so index i here is parameter i of every run's network.
        self.g = self._stack([t.G for t in self.trainers])
        self.d = self._stack([t.D for t in self.trainers])
        self.ema = self._stack([t.G_ema for t in self.trainers], grad=False) if first.G_ema is not None else None
        adam = {"lr": first.config.lr, "betas": tuple(first.config.betas), "fused": True}
        self.opt_g, self.opt_d = torch.optim.Adam(self.g, **adam), torch.optim.Adam(self.d, **adam)
        for opt, own in ((self.opt_g, "opt_g"), (self.opt_d, "opt_d")):
            self._stack_adam(opt, [getattr(t, own) for t in self.trainers])
        self.real_labels = torch.full((self.k, self.batch_size), first.config.real_label, device=self.device)
        self.zeros = torch.zeros(self.k, self.batch_size, device=self.device)
        self.ones = torch.ones(self.k, self.batch_size, device=self.device)
        self.stats: torch.Tensor | None = None  # (steps_per_epoch, K, 4): each Trainer's epoch_stats is a column

    @staticmethod
    def _stack(modules: list[nn.Module], grad: bool = True) -> list[torch.Tensor]:
        per_run = [list(m.parameters()) for m in modules]
        return [_stacked([p.detach() for p in params]).requires_grad_(grad) for params in zip(*per_run, strict=True)]

    def _stack_adam(self, optimizer: torch.optim.Adam, own: list[torch.optim.Adam]) -> None:
        """A resumed run's Adam moments, stacked (fresh runs have none yet)."""
        params = [opt.param_groups[0]["params"] for opt in own]
        for i, stacked in enumerate(optimizer.param_groups[0]["params"]):
            states = [opt.state.get(p[i]) for opt, p in zip(own, params, strict=True)]
            if all(states):
                optimizer.state[stacked] = {
                    "step": states[0]["step"].detach().clone().to(self.device),
                    **{key: _stacked([s[key] for s in states]) for key in ("exp_avg", "exp_avg_sq")}}

    # ------------------------------------------------------------------ the step

    def _forward(self, x: torch.Tensor, layers: list[torch.Tensor], masks: list[torch.Tensor] | None) -> torch.Tensor:
        """An MLP of the stacked layers on x (K, B, in): LeakyReLU (and dropout by `masks`) after each hidden
        layer; returns the last layer's output (K, B, out)."""
        weights, biases = layers[0::2], layers[1::2]
        scale = 1 / (1 - self.model_config.dropout) if masks else 1.0
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            x = torch.baddbmm(b.unsqueeze(1), x, w)
            if i < len(weights) - 1:
                x = F.leaky_relu(x, self.model_config.slope)
                if masks:
                    x = x * masks[i].to(x.dtype).mul_(scale)  # as models.Dropout does it
        return x

    def _draws(self, batch: int) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Each run's noise z and dropout keep-masks, from its own generator, in the order its run alone draws
        them: z (B, latent), then D's masks of the D step (2B rows), then of the G step (B rows)."""
        p, widths = self.model_config.dropout, self.model_config.d_hidden
        zs, d_masks, g_masks = [], [], []
        for rng in self.rngs:
            zs.append(torch.randn(batch, self.model_config.latent_dim, generator=rng, device=self.device))
            for masks, rows in ((d_masks, 2 * batch), (g_masks, batch)):
                masks.append([torch.rand(rows, w, generator=rng, device=self.device) >= p for w in widths]
                             if p > 0 else [])
        stack = lambda per_run: [torch.stack(layer) for layer in zip(*per_run, strict=True)]  # noqa: E731
        return torch.stack(zs), stack(d_masks), stack(g_masks)

    def gan_step(self, real: torch.Tensor, z: torch.Tensor, d_masks: list[torch.Tensor],
                 g_masks: list[torch.Tensor]) -> torch.Tensor:
        """`Trainer.gan_step` for K runs at once: real (K, B, 784) in (-1, 1), z (K, B, latent), D's keep-masks
        per hidden layer (K, 2B, width) for the D step and (K, B, width) for the G step; returns each run's
        loss_D, loss_G, D(x), D(G(z)) as (K, 4). Each run's loss is averaged over its own batch and the K losses
        are summed, so each run's gradients are its own."""
        b = real.shape[1]
        first = self.trainers[0]
        with first._autocast():  # (1) D: real = real_label, fake = 0, one pass over both
            fake = torch.tanh(self._forward(z, self.g, None))
            logits = self._forward(torch.cat([real, fake.detach()], 1), self.d, d_masks).squeeze(2)  # (K, 2B)
            logit_real, logit_fake = logits[:, :b], logits[:, b:]
            loss_d = (F.binary_cross_entropy_with_logits(logit_real, self.real_labels, reduction="none").mean(1)
                      + F.binary_cross_entropy_with_logits(logit_fake, self.zeros, reduction="none").mean(1))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.sum().backward()
        self.opt_d.step()
        for p in self.d:  # (2) G through D (no weight gradients for D)
            p.requires_grad_(False)
        with first._autocast():
            logit_gen = self._forward(fake, self.d, g_masks).squeeze(2)
            if self.config.g_loss == "non-saturating":
                loss_g = F.binary_cross_entropy_with_logits(logit_gen, self.ones, reduction="none").mean(1)
            else:
                loss_g = -F.binary_cross_entropy_with_logits(logit_gen, self.zeros, reduction="none").mean(1)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward()
        self.opt_g.step()
        for p in self.d:
            p.requires_grad_(True)
        with torch.no_grad():
            d_real, d_fake = torch.sigmoid(logit_real).mean(1), torch.sigmoid(logit_fake).mean(1)
            return torch.stack([loss_d, loss_g, d_real, d_fake], 1)

    def train_step(self, real: torch.Tensor) -> torch.Tensor:
        """`Trainer.train_step` for the K runs: their draws, the learning-rate cooldown, the step, the EMA."""
        step = self.trainers[0].step
        z, d_masks, g_masks = self._draws(real.shape[1])
        if self.config.lr_cooldown:
            total = self.config.epochs * self.trainers[0].steps_per_epoch
            factor = min(1.0, (total - step) / (self.config.lr_cooldown * total))
            for group in self.opt_g.param_groups + self.opt_d.param_groups:
                group["lr"] = self.config.lr * factor
        stats = self.gan_step(real, z, d_masks, g_masks)
        if self.ema is not None:
            with torch.no_grad():
                torch._foreach_lerp_(self.ema, self.g, self.trainers[0].ema.weight(step))
        return stats

    # ------------------------------------------------------------------ the loop

    def train(self) -> None:
        """Train every run to the configured epochs; SIGINT/SIGTERM stop after the current step, every run's
        checkpoint is written, then Interrupted is raised."""
        try:
            with self.stop:
                while self.trainers[0].epoch < self.config.epochs:
                    self.train_epoch()
                    if self.stop.requested and self.trainers[0].epoch < self.config.epochs:
                        raise Interrupted(self._interrupt_message(self.trainers[0].epoch + 1))
        finally:
            for t in self.trainers:
                t.close()

    def train_epoch(self) -> None:
        epochs = [t.begin_epoch() for t in self.trainers]
        epoch, first = epochs[0], self.trainers[0]
        self.stats = torch.stack([t.epoch_stats for t in self.trainers], 1)
        for k, t in enumerate(self.trainers):
            t.epoch_stats = self.stats[:, k]
        order = torch.stack([t.permutation for t in self.trainers])  # (K, N): each run's own order of the data
        label = f"{first._epoch_label(epoch)}, {self.k} runs"
        logs = [StepLog(t.epoch_stats, t.batch_in_epoch, label, self.batch_size * self.k,
                        show=k == 0 and self.progress) for k, t in enumerate(self.trainers)]
        start, b0 = time.perf_counter(), first.batch_in_epoch
        try:
            for b in range(b0, first.steps_per_epoch):
                index = order[:, b * self.batch_size:(b + 1) * self.batch_size]
                self.stats[b] = self.train_step(first.images[index].float().div_(127.5).sub_(1))
                for t in self.trainers:
                    t.batch_in_epoch, t.step = b + 1, t.step + 1
                if (b + 1) % self.config.log_every == 0 or b + 1 == first.steps_per_epoch:
                    self._check(logs, epoch, time.perf_counter() - start)
                if self.stop.requested:
                    break
            self._check(logs, epoch, time.perf_counter() - start)
        finally:
            for log in logs:
                log.close()
        seconds = time.perf_counter() - start
        self.copy_to_trainers()
        stopped = []
        for t, rng in zip(self.trainers, self.rngs, strict=True):
            _set_global_rng(rng, self.device)  # what this run's checkpoint records as its RNG state
            try:
                t.finish_epoch(epoch, seconds)
            except Interrupted:
                stopped.append(t)
        if stopped:
            raise Interrupted(self._interrupt_message(epoch))
        # A time budget (--minutes) ends every run at the same epoch: they share the clock.
        last = min(t.config.epochs for t in self.trainers)
        for t in self.trainers:
            if t.config.epochs != last:
                t.config.epochs = last
                if t.run is not None:
                    t.run.write_config(t.run_config())
        self.config = first.config

    def _check(self, logs: list[StepLog], epoch: int, seconds: float) -> None:
        """Each run's statistics read back; a run's non-finite loss stops them all (`failed` names it)."""
        for t, log in zip(self.trainers, logs, strict=True):
            try:
                t._check(log, epoch, t.epoch_time + seconds)
            except TrainingError as failure:
                self.failed = t
                where = t.run.path if t.run is not None else f"seed {t.config.seed}"
                raise TrainingError(f"{where}: {failure} (the {self.k - 1} run(s) beside it stopped too; their "
                                    f"last checkpoints are kept)") from None

    def copy_to_trainers(self) -> None:
        """Every run's weights, moving average, Adam state and statistics into its own Trainer (copies)."""
        with torch.no_grad():
            for k, t in enumerate(self.trainers):
                for own, stacked in ((t.G, self.g), (t.D, self.d), (t.G_ema, self.ema)):
                    if own is not None:
                        for p, s in zip(own.parameters(), stacked, strict=True):
                            p.copy_(_run_of(s, k))
                for own, opt in ((t.opt_g, self.opt_g), (t.opt_d, self.opt_d)):
                    params = own.param_groups[0]["params"]
                    for p, s in zip(params, opt.param_groups[0]["params"], strict=True):
                        state = opt.state.get(s)
                        if state:
                            moments = {key: _run_of(state[key], k).clone() for key in ("exp_avg", "exp_avg_sq")}
                            own.state[p] = {"step": state["step"].clone(), **moments}
                if t.epoch_stats is not None:  # its own storage (a checkpoint saves a view's whole storage)
                    t.epoch_stats = t.epoch_stats.clone()

    def _interrupt_message(self, epoch: int) -> str:
        first = self.trainers[0]
        saved = ", ".join(str(t.run.last_checkpoint) for t in self.trainers if t.run is not None) or "nothing"
        return f"interrupted in epoch {epoch} at step {first.step}; {self.k} runs side by side saved: {saved}"
