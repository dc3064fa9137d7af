"""Checkpoints: one file, a plain dict, written atomically and loaded as data (`weights_only=True`).

    save(path, state)        # temp file in the same folder, fsync, rename over the old one
    state = load(path)       # validated: a vanilla-gan checkpoint of a known format version
    state = load(resolve(path_or_run_dir))
    G = load_generator(state)   # for sampling: the EMA weights when kept

The dict holds: format, format_version, package_version, model_config, train_config (plain dicts),
generator, discriminator (state dicts), opt_g, opt_d (optimizer states), epoch, step,
batch_in_epoch, permutation, epoch_stats, rng (every RNG state), fixed_noise, seed, metrics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from vanilla_gan.config import ModelConfig, from_dict
from vanilla_gan.errors import CheckpointError
from vanilla_gan.models import Generator

FORMAT = "vanilla-gan-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("model_config", "train_config", "generator", "discriminator", "epoch", "step")


def save(path: Path, state: dict[str, Any]) -> None:
    """Write `state` to `path` so that a crash at any moment leaves either the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def resolve(path: Path) -> Path:
    """A checkpoint file, or a run folder (its checkpoints/last.pt)."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "checkpoints" / "last.pt"
        if not candidate.is_file():
            raise CheckpointError(f"{path} is a folder without checkpoints/last.pt: is it a vanilla-gan run folder?")
        return candidate
    if not path.exists():
        raise CheckpointError(f"no such checkpoint or run folder: {path}")
    return path


def load_generator(state: dict[str, Any], raw: bool = False) -> Generator:
    """The checkpoint's generator for sampling: its moving average when the run kept one, unless `raw`."""
    generator = Generator(from_dict(ModelConfig, state["model_config"]))
    weights = state["generator"] if raw or state.get("generator_ema") is None else state["generator_ema"]
    try:
        generator.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError("the checkpoint's generator weights do not fit its model config") from exc
    return generator.eval()


def load(path: Path) -> dict[str, Any]:
    """Load and validate a checkpoint on the CPU; any problem is a one-line CheckpointError."""
    path = resolve(path)
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
