"""Checkpoints: one file, a plain dict, written atomically and loaded as data (`weights_only=True`).

    save(path, state)           # temp file in the same folder, fsync, rename over the old one
    state = load(path)          # validated: a vanilla-gan checkpoint of a known format version
    G = load_generator(state)   # for sampling: the EMA weights when kept

A run folder's checkpoints are found by `rundir.RunDir` (and `rundir.load_checkpoint(file_or_run_folder)`).

The dict holds: format, format_version, package_version, model_config, train_config (plain dicts),
generator, generator_ema, discriminator (state dicts), opt_g, opt_d (optimizer states), epoch, step,
batch_in_epoch, num_images, permutation, epoch_stats, epoch_time, elapsed, rng (every RNG state, one per
process), permutation_rng, fixed_noise, seed, metrics, best_fid, `modules` (the classes of G and D,
where a run used its own), `data_sha256` (the training images' fingerprint; absent in older files) and
`objective` (its name: "non-saturating", "minimax" or a user's own; absent in older files: train_config's g_loss)
and `epoch_cap` (the epochs the run was given, which a time budget may have planned down in train_config; absent
in older files).
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vanilla_gan.config import ModelConfig, TrainConfig, from_dict, is_finite_number
from vanilla_gan.errors import CheckpointError, UsageError
from vanilla_gan.fileio import atomic_write
from vanilla_gan.gan.models import (
    ConvDiscriminator,
    ConvGenerator,
    Discriminator,
    Generator,
    PairDiscriminator,
    build_discriminator,
    build_generator,
)
from vanilla_gan.gan.sampling import RUN_SHAPE

FORMAT = "vanilla-gan-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("model_config", "train_config", "generator", "discriminator", "epoch", "step")
BUILTIN_GENERATOR = f"{Generator.__module__}.{Generator.__qualname__}"
BUILTIN_DISCRIMINATOR = f"{Discriminator.__module__}.{Discriminator.__qualname__}"
# The package's own classes (--g-net, --d-net), as a checkpoint's `modules` records them: rebuilt from the config.
# Checkpoints written before the networks moved to vanilla_gan.gan.models record them as vanilla_gan.models.
PACKAGE_CLASSES = {f"{module}.{c.__qualname__}" for c in (Generator, Discriminator, ConvGenerator, ConvDiscriminator,
                                                            PairDiscriminator)
                   for module in (c.__module__, "vanilla_gan.models")}


def save(path: Path, state: dict[str, Any]) -> None:
    """Write `state` to `path` so that a crash at any moment leaves either the old or the new file.

    Serialised in memory first: a full disk is then an OSError on the write (a StorageError naming the file),
    not one of torch's messages from inside its zip writer."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **state}, buffer)
    atomic_write(path, buffer.getvalue())


def load(path: Path) -> dict[str, Any]:
    """Load and validate a checkpoint file on the CPU; any problem is a one-line CheckpointError.

    Checked before anything is built from it: the zip's CRC-32 of every record (bit-rot), then torch.load
    with weights_only=True (no code runs), the format marker and version, the configs (types and ranges), the
    position's types, and every weight's shape and dtype against the networks its config describes."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such checkpoint: {path}" if not path.exists() else f"{path} is not a file")
    data = path.read_bytes()
    problem = _zip_problem(data)
    if problem:
        raise CheckpointError(f"{path} is damaged or not a vanilla-gan checkpoint ({problem})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about TorchScript archives before failing on them
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or foreign files
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
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
    try:
        validate(state)
    except (UsageError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path} is damaged: {exc}") from exc
    return state


def validate(state: dict[str, Any]) -> None:
    """The checkpoint's contents are what this version writes: configs in range, the position as counts, the
    fixed noise, the log and, for the package's own networks, every weight of G, its average and D, and both
    Adam states, with the config's shapes, float32. Raises ValueError (or UsageError) saying what is wrong."""
    model_config = from_dict(ModelConfig, state["model_config"])
    model_config.validate()
    train_config = from_dict(TrainConfig, state["train_config"])
    train_config.validate()
    if train_config.seed is None:
        raise ValueError("its train_config has no seed")
    for key in ("epoch", "step", "batch_in_epoch", "num_images", "epoch_cap"):
        if not _is_count(state.get(key, 0)):
            raise ValueError(f"{key} is {state.get(key)!r}, not a count")
    for key in ("data_sha256", "objective"):
        if not isinstance(state.get(key, ""), str):
            raise ValueError(f"{key} is not a string")
    for key in ("epoch_time", "elapsed"):
        if not is_finite_number(state.get(key, 0.0)):
            raise ValueError(f"{key} is {state.get(key)!r}, not a number")
    noise = state.get("fixed_noise")
    if noise is not None and (not isinstance(noise, torch.Tensor) or noise.dtype != torch.float32
                              or noise.shape != (train_config.grid_size, model_config.latent_dim)):
        raise ValueError("fixed_noise does not fit the configs")
    metrics = state.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, dict) for m in metrics):
        raise ValueError("metrics is not a list of records")
    try:
        json.dumps(metrics)  # metrics.jsonl is rewritten from them on resume
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metrics holds something that is not JSON ({exc})") from exc
    if state.get("batch_in_epoch", 0):
        _check_position(state)
    modules = state.get("modules", {})
    if not isinstance(modules, dict) or not all(isinstance(name, str) for name in modules.values()):
        raise ValueError("its modules entry is not a dict of class names")
    with torch.device("meta"):  # shapes only: nothing is allocated, whatever the config says
        networks = {"generator": build_generator(model_config), "discriminator": build_discriminator(model_config)}
    for key, builtin in (("generator", BUILTIN_GENERATOR), ("generator_ema", BUILTIN_GENERATOR),
                         ("discriminator", BUILTIN_DISCRIMINATOR)):
        weights = state.get(key)
        network = key.replace("_ema", "")
        if weights is None and key == "generator_ema":
            continue
        if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
            raise ValueError(f"{key} is not a state dict of tensors")
        for name, tensor in weights.items():  # NaN weights would draw black digits and score them well
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise ValueError(f"{key}.{name} holds NaN or infinite values (the run diverged before it was "
                                 f"saved): use an earlier checkpoint, such as checkpoints/best.pt or epoch_NNNN.pt")
        if modules.get(network, builtin) in PACKAGE_CLASSES:
            expected = networks[network].state_dict()
            _check_weights(key, weights, expected)
            optimizer = {"generator": "opt_g", "discriminator": "opt_d"}.get(key)
            if optimizer in state:
                _check_adam(optimizer, state[optimizer], [p.shape for p in networks[network].parameters()])


def _check_weights(key: str, weights: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    if weights.keys() != expected.keys():
        raise ValueError(f"{key} has the weights {sorted(weights)[:4]}..., its model config gives "
                         f"{sorted(expected)[:4]}...")
    for name, tensor in weights.items():
        dtype = expected[name].dtype  # float32, or int64 for BatchNorm's count (--g-net conv)
        if tensor.shape != expected[name].shape or tensor.dtype != dtype:
            raise ValueError(f"{key}.{name} is {tensor.dtype} {tuple(tensor.shape)}, its model config gives "
                             f"{dtype} {tuple(expected[name].shape)}")


def _check_adam(key: str, saved: Any, shapes: list[torch.Size]) -> None:
    """An Adam state dict for parameters of `shapes`: each parameter's moments of its shape, a step count."""
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    if not isinstance(groups, list) or not all(isinstance(g, dict) and isinstance(g.get("params"), list)
                                               for g in groups) or not isinstance(saved.get("state"), dict):
        raise ValueError(f"{key} is not an optimizer state")
    if sorted(i for g in groups for i in g["params"]) != list(range(len(shapes))):
        raise ValueError(f"{key} does not hold one entry per parameter")
    for index, moments in saved["state"].items():
        if not isinstance(index, int) or not 0 <= index < len(shapes) or not isinstance(moments, dict):
            raise ValueError(f"{key} holds a state for no parameter ({index!r})")
        for name in ("exp_avg", "exp_avg_sq"):
            tensor = moments.get(name)
            if not isinstance(tensor, torch.Tensor) or tensor.shape != shapes[index] or tensor.dtype != torch.float32:
                raise ValueError(f"{key}'s {name} of parameter {index} does not fit it")
        step = moments.get("step")
        if not isinstance(step, torch.Tensor) or step.numel() != 1 or not bool(torch.isfinite(step).all()):
            raise ValueError(f"{key}'s step count of parameter {index} is not a number")


def _check_position(state: dict[str, Any]) -> None:
    """The unfinished epoch's permutation and statistics (a checkpoint written by an interrupt)."""
    permutation, stats, n = state.get("permutation"), state.get("epoch_stats"), state.get("num_images", 0)
    if not isinstance(permutation, torch.Tensor) or permutation.dtype != torch.int64 or permutation.shape != (n,) \
            or not torch.equal(permutation.sort().values, torch.arange(n)):
        raise ValueError("the interrupted epoch's permutation is not a permutation of the data set")
    if not isinstance(stats, torch.Tensor) or stats.ndim != 2 or stats.shape[1] != 4 \
            or stats.shape[0] < state["batch_in_epoch"]:
        raise ValueError("the interrupted epoch's statistics do not fit it")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _zip_problem(data: bytes) -> str | None:
    """Why `data` is not an intact zip archive (what torch.save writes), or None: checks every CRC-32."""
    if not data:
        return "an empty file"
    if data[:4] != b"PK\x03\x04":
        return "not a torch.save archive: it does not start like a zip file"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        return f"truncated or damaged: {exc}"
    if bad is not None:
        return f"{bad} fails its CRC-32 check: the file is corrupt"
    if any(name.endswith("/constants.pkl") for name in names):
        return "it is a TorchScript model, such as `vanilla-gan export` writes: pass a run folder or its checkpoints"
    return None


def epoch_of(path: Path) -> int:
    """The epoch a checkpoint file holds, read without loading its weights (-1 when it cannot be read)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            epoch = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("epoch", -1)
    except Exception:  # damaged: the caller treats it as unknown
        return -1
    return epoch if isinstance(epoch, int) else -1


def class_name(module: nn.Module) -> str:
    """`package.module.Class` of a network, as recorded in a checkpoint's `modules`."""
    return f"{type(module).__module__}.{type(module).__qualname__}"


def own_generator_message(recorded: str) -> str:
    """What to do when a run's own generator class is needed and was not given."""
    module, _, name = recorded.rpartition(".")
    if module == "__main__":
        where = (f"its class {name} was defined in a script or notebook: move it into a module file (e.g. "
                 f"mynets.py) to pass --generator mynets:{name} on the command line")
    else:
        where = f"pass --generator {module}:{name} on the command line (the class, built with no arguments)"
    return (f"this run trained its own generator ({recorded}): {where}, or in Python "
            f"vanilla_gan.load(RUN, generator={name}(...))")


def load_generator(state: dict[str, Any], raw: bool = False, generator: nn.Module | None = None) -> nn.Module:
    """The checkpoint's generator for sampling: its moving average when the run kept one, unless `raw`.

    A run trained with its own generator module needs an instance of it as `generator` (its weights are
    loaded into it); otherwise the package's Generator is built from the checkpoint's model config.
    """
    recorded = state.get("modules", {}).get("generator", BUILTIN_GENERATOR)
    if generator is None:
        if recorded not in PACKAGE_CLASSES:
            raise UsageError(own_generator_message(recorded))
        generator = build_generator(from_dict(ModelConfig, state["model_config"]))
    else:  # a user's G: the run's image shape goes with it, for every command that draws (sampling.py)
        setattr(generator, RUN_SHAPE, from_dict(ModelConfig, state["model_config"]).shape)
    weights = state["generator"] if raw or state.get("generator_ema") is None else state["generator_ema"]
    try:
        generator.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError, ValueError) as exc:
        raise CheckpointError("the checkpoint's generator weights do not fit its generator") from exc
    return generator.eval()
