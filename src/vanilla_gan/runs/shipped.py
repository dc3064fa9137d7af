"""The shipped weights: a trained G (its moving average and its raw weights) and D in fp16, with their provenance.

    data = pack(state)                         # a checkpoint dict -> the file's bytes (what make_pretrained writes)
    weights = load_weights()                   # assets/pretrained.pt, checked against assets/pretrained.json
    weights = load_weights("my.pt")            # another file written the same way (its my.json beside it)
    G = weights.generator()                    # the package's Generator, fp32, eval mode (raw=True: G's own)

The file is a `torch.save` dict: format ("vanilla-gan-pretrained"), format_version (1), model_config (a plain
dict), generator_ema (None when the run kept no average), generator (G's raw weights; None when left out to
keep the file small, which needs the average), discriminator: state dicts of float16 tensors (half the bytes
of float32; a pixel drawn from them differs from the float32 one by about 1e-3).
Beside it, NAME.json holds the provenance: the command, seed, epochs, machine, metrics, date and the file's
SHA-256, which `load_weights` checks before `torch.load(..., weights_only=True)` reads it (no code runs);
the weights are then checked against the model config (names, shapes, finite) and cast to float32.
`scripts/make_pretrained.py` writes both. `VANILLA_GAN_PRETRAINED=FILE` points the loader at another file
(tests build tiny ones). Any problem is one DataError line that says what to do.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import os
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vanilla_gan.runs.checkpoint import BUILTIN_DISCRIMINATOR, BUILTIN_GENERATOR, PACKAGE_CLASSES
from vanilla_gan.config import MAX_SIDE, ModelConfig, from_dict, to_dict
from vanilla_gan.errors import DataError, UsageError
from vanilla_gan.fileio import parse_json, read_bounded
from vanilla_gan.gan.models import build_discriminator, build_generator

FORMAT = "vanilla-gan-pretrained"
FORMAT_VERSION = 1
WEIGHTS_NAME = "pretrained.pt"  # in the package's assets/, beside PROVENANCE_NAME
PROVENANCE_NAME = "pretrained.json"
ENVIRONMENT = "VANILLA_GAN_PRETRAINED"  # a weights file to use instead of the shipped one
NETWORKS = ("generator_ema", "generator", "discriminator")
MAX_BYTES = 256 * 2**20  # a weights file larger than this is not one of ours
FP16_MAX = 65504.0
StateDict = dict[str, torch.Tensor]
_FIX = ("reinstall vanilla-gan, or write the file from a run with `python scripts/make_pretrained.py RUN` (then "
        f"point {ENVIRONMENT} at it)")


@dataclass
class Weights:
    """The networks of a weights file, float32 on the CPU, and the provenance recorded beside it."""

    path: Path
    model_config: ModelConfig
    generator_ema: dict[str, torch.Tensor] | None  # None: the run kept no moving average
    generator_raw: dict[str, torch.Tensor] | None  # None: left out of the file (the average is there)
    discriminator_weights: dict[str, torch.Tensor]
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def has_average(self) -> bool:
        return self.generator_ema is not None

    @property
    def has_raw(self) -> bool:
        return self.generator_raw is not None

    def generator(self, raw: bool = False) -> nn.Module:
        """The package's Generator with these weights (the moving average unless `raw`), in eval mode."""
        if raw and self.generator_raw is None:
            raise UsageError(f"{self.path.name} holds G's moving average only, not its raw weights (not shipped): "
                             f"leave out --raw (raw=True)")
        network = build_generator(self.model_config)
        network.load_state_dict(self.generator_raw if raw or self.generator_ema is None else self.generator_ema)
        return network.eval()

    def discriminator(self) -> nn.Module:
        """The package's Discriminator with these weights, in eval mode (no dropout): D(x) = P(real)."""
        network = build_discriminator(self.model_config)
        network.load_state_dict(self.discriminator_weights)
        return network.eval()


def shipped_path() -> Path:
    """Where the package's own weights file is (it may be missing: a checkout without them)."""
    with importlib.resources.as_file(importlib.resources.files("vanilla_gan") / "assets" / WEIGHTS_NAME) as path:
        return Path(path)


def provenance_path(weights_path: Path | str) -> Path:
    """The provenance JSON beside a weights file: pretrained.pt -> pretrained.json."""
    return Path(weights_path).with_suffix(".json")


def resolve(path: Path | str | None = None) -> Path:
    """`path`, else $VANILLA_GAN_PRETRAINED, else the shipped file."""
    if path is not None:
        return Path(path)
    chosen = os.environ.get(ENVIRONMENT)
    return Path(chosen) if chosen else shipped_path()


def half(weights: dict[str, torch.Tensor], key: str) -> dict[str, torch.Tensor]:
    """A state dict as float16 copies; a weight beyond float16's range (or not finite) is a UsageError."""
    out = {}
    for name, tensor in weights.items():
        if not tensor.is_floating_point():  # BatchNorm's step count (--g-net conv): read only with momentum=None,
            tensor = tensor.clamp(max=2048)  # which the package's G does not use; float16 holds it exactly
        tensor = tensor.detach().cpu().float()
        if not bool(torch.isfinite(tensor).all()) or (tensor.numel() and float(tensor.abs().max()) > FP16_MAX):
            raise UsageError(f"{key}.{name} holds values float16 cannot store (beyond {FP16_MAX:g}, NaN or "
                             f"infinite): these weights cannot be shipped")
        out[name] = tensor.half().contiguous()
    return out


def halves(state: dict[str, Any], with_raw: bool = True) -> tuple[ModelConfig, dict[str, StateDict | None]]:
    """A checkpoint dict's model config and float16 copies of its networks (NETWORKS; generator_ema None when
    the run kept no average; generator None when not `with_raw` and the average is there). A run with its own
    networks, or weights float16 cannot hold, is a UsageError."""
    model_config = from_dict(ModelConfig, state["model_config"])
    model_config.validate()
    modules = state.get("modules") or {}
    if modules.get("generator", BUILTIN_GENERATOR) not in PACKAGE_CLASSES \
            or modules.get("discriminator", BUILTIN_DISCRIMINATOR) not in PACKAGE_CLASSES:
        raise UsageError("this run trained its own generator or discriminator: only the package's networks can be "
                         "shipped or explored")
    networks = {key: None if state.get(key) is None else half(state[key], key) for key in NETWORKS}
    if networks["generator"] is None or networks["discriminator"] is None:
        raise UsageError("the checkpoint lacks G's or D's weights")
    if not with_raw and networks["generator_ema"] is not None:
        networks["generator"] = None
    return model_config, networks


def pack(state: dict[str, Any], with_raw: bool = True) -> bytes:
    """The weights file's bytes from a checkpoint dict (or any dict with model_config and the NETWORKS' state
    dicts): float16 copies of the package's networks; G's raw weights only `with_raw` (or when the run kept no
    average)."""
    model_config, networks = halves(state, with_raw)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, "model_config": to_dict(model_config),
                **networks}, buffer)
    return buffer.getvalue()


def from_checkpoint(state: dict[str, Any], path: Path | str) -> Weights:
    """A checkpoint's networks as they would ship: rounded to float16, then float32 (what an explore page holds)."""
    model_config, networks = halves(state)
    full = {key: None if weights is None else {k: v.float() for k, v in weights.items()}
            for key, weights in networks.items()}
    return Weights(Path(path), model_config, full["generator_ema"], full["generator"], full["discriminator"])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_weights(path: Path | str | None = None) -> Weights:
    """The weights file at `path` (default: $VANILLA_GAN_PRETRAINED, else the shipped one), checked against the
    SHA-256 in its provenance JSON and against its model config, as float32."""
    path = resolve(path)
    record_path = provenance_path(path)
    if not path.is_file():
        where = f" (${ENVIRONMENT})" if os.environ.get(ENVIRONMENT) and path == resolve() else ""
        raise DataError(f"the weights file {path}{where} is missing: {_FIX}")
    try:
        data = read_bounded(path, MAX_BYTES)
        provenance = parse_json(read_bounded(record_path, 16 * 2**20))
    except (OSError, UsageError, ValueError) as exc:
        missing = not record_path.is_file()
        problem = f"its provenance {record_path} is missing" if missing else f"cannot be read ({exc})"
        raise DataError(f"the weights {path}: {problem}: {_FIX}") from exc
    if not isinstance(provenance, dict) or not isinstance(provenance.get("sha256"), str):
        raise DataError(f"the weights' provenance {record_path} is damaged (no sha256): {_FIX}")
    _check_provenance(provenance, record_path)
    if sha256(data) != provenance["sha256"]:
        raise DataError(f"the weights {path} fail their SHA-256 check against {record_path.name} (damaged or "
                        f"replaced): {_FIX}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        return _weights(path, state, provenance)
    except (RuntimeError, ValueError, TypeError, KeyError, AttributeError, UsageError, EOFError,
            pickle.UnpicklingError) as exc:
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise DataError(f"the weights {path} are damaged or not a vanilla-gan weights file ({reason}): {_FIX}"
                        ) from exc


def _check_provenance(record: dict[str, Any], where: Path) -> None:
    """The fields the package reads from a provenance JSON have their types (a file anyone can edit): one DataError
    line naming the field otherwise."""
    train = record.get("train", {})
    size = train.get("image_size") if isinstance(train, dict) else None
    problems = {
        "train": not isinstance(train, dict),
        "train.dataset": isinstance(train, dict) and not isinstance(train.get("dataset", "digits"), str),
        "train.image_size": size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                                  or not 1 <= size <= MAX_SIDE),
        "metrics": not isinstance(record.get("metrics", {}), dict),
        "epochs": "epochs" in record and (isinstance(record["epochs"], bool) or not isinstance(record["epochs"], int)),
    }
    bad = [name for name, wrong in problems.items() if wrong]
    if bad:
        raise DataError(f"the weights' provenance {where} is damaged ({bad[0]} does not hold what it should): {_FIX}")


def _weights(path: Path, state: Any, provenance: dict[str, Any]) -> Weights:
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError("no vanilla-gan-pretrained marker")
    if state.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"format {state.get('format_version')}, this vanilla-gan reads {FORMAT_VERSION}")
    model_config = from_dict(ModelConfig, state["model_config"])
    model_config.validate()
    with torch.device("meta"):  # shapes only
        expected = {"generator": build_generator(model_config).state_dict(),
                    "discriminator": build_discriminator(model_config).state_dict()}
    networks = {}
    for key in NETWORKS:
        weights = state.get(key)
        if weights is None and key != "discriminator":
            networks[key] = None
            continue
        shapes = expected[key.replace("_ema", "")]
        if not isinstance(weights, dict) or weights.keys() != shapes.keys():
            raise ValueError(f"{key} does not hold the weights its model config gives")
        for name, tensor in weights.items():
            if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float16 \
                    or tensor.shape != shapes[name].shape or not bool(torch.isfinite(tensor).all()):
                raise ValueError(f"{key}.{name} is not finite float16 {tuple(shapes[name].shape)}")
        networks[key] = {name: tensor.float() for name, tensor in weights.items()}
    if networks["generator_ema"] is None and networks["generator"] is None:
        raise ValueError("it holds no generator")
    return Weights(path, model_config, networks["generator_ema"], networks["generator"], networks["discriminator"],
                   provenance)

