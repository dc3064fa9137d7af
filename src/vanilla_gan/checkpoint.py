"""Checkpoints: one file, a plain dict, written atomically and loaded as data (`weights_only=True`).

    save(path, state)           # temp file in the same folder, fsync, rename over the old one
    state = load(path)          # validated: a vanilla-gan checkpoint of a known format version
    G = load_generator(state)   # for sampling: the EMA weights when kept

A run folder's checkpoints are found by `rundir.RunDir` (and `rundir.load_checkpoint(file_or_run_folder)`).

The dict holds: format, format_version, package_version, model_config, train_config (plain dicts),
generator, generator_ema, discriminator (state dicts), opt_g, opt_d (optimizer states), epoch, step,
batch_in_epoch, num_images, permutation, epoch_stats, epoch_time, elapsed, rng (every RNG state, one per
process), permutation_rng, fixed_noise, seed, metrics, best_fid, and `modules` (the classes of G and D,
where a run used its own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from vanilla_gan.config import ModelConfig, from_dict
from vanilla_gan.errors import CheckpointError, UsageError
from vanilla_gan.fileio import atomic_write
from vanilla_gan.models import Generator

FORMAT = "vanilla-gan-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("model_config", "train_config", "generator", "discriminator", "epoch", "step")
BUILTIN_GENERATOR = f"{Generator.__module__}.{Generator.__qualname__}"


def save(path: Path, state: dict[str, Any]) -> None:
    """Write `state` to `path` so that a crash at any moment leaves either the old or the new file."""
    atomic_write(path, lambda f: torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **state}, f))


def load(path: Path) -> dict[str, Any]:
    """Load and validate a checkpoint file on the CPU; any problem is a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such checkpoint: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or foreign files
        # torch's messages run on ("This is an internal miniz error. If you are seeing…"): keep the first clause.
        reason = str(exc).strip().splitlines()[0].split(". ")[0][:160] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is damaged or not a vanilla-gan checkpoint ({reason})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a vanilla-gan checkpoint")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {state.get('format_version')}, this vanilla-gan reads "
            f"format {FORMAT_VERSION}: use the vanilla-gan version that wrote it"
        )
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{path} is incomplete: missing {', '.join(missing)}")
    return state


def class_name(module: nn.Module) -> str:
    """`package.module.Class` of a network, as recorded in a checkpoint's `modules`."""
    return f"{type(module).__module__}.{type(module).__qualname__}"


def load_generator(state: dict[str, Any], raw: bool = False, generator: nn.Module | None = None) -> nn.Module:
    """The checkpoint's generator for sampling: its moving average when the run kept one, unless `raw`.

    A run trained with its own generator module needs an instance of it as `generator` (its weights are
    loaded into it); otherwise the package's Generator is built from the checkpoint's model config.
    """
    recorded = state.get("modules", {}).get("generator", BUILTIN_GENERATOR)
    if generator is None:
        if recorded != BUILTIN_GENERATOR:
            raise UsageError(f"this run trained its own generator ({recorded}): load it from Python with "
                             f"vanilla_gan.load(RUN, generator=YourGenerator(...))")
        generator = Generator(from_dict(ModelConfig, state["model_config"]))
    weights = state["generator"] if raw or state.get("generator_ema") is None else state["generator_ema"]
    try:
        generator.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError, ValueError) as exc:
        raise CheckpointError("the checkpoint's generator weights do not fit its generator") from exc
    return generator.eval()
