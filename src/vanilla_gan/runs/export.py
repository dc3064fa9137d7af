"""Export a run's generator for use without this package: ONNX (any ONNX runtime) or TorchScript.

    export_generator(state, "generator.onnx", "onnx")            # state = rundir.load_checkpoint(run_dir)
    export_generator(state, "generator.pt", "torchscript")

The exported model maps z, float32 (B, latent_dim) from a standard normal, to images, float32
(B, 28, 28) for the digits, (B, H, W[, 3]) for a run's own images (its ModelConfig.image_shape), in [-1, 1]
(-1 = background): `uint8 = round((images + 1) * 127.5)`. It holds the EMA
weights when the run kept them (as `sample` does) unless `raw`. The batch size is free.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vanilla_gan.config import ModelConfig, from_dict
from vanilla_gan.errors import UsageError
from vanilla_gan.fileio import atomic_write
from vanilla_gan.runs.checkpoint import load_generator

FORMATS = ("onnx", "torchscript")
ONNX_OPSET = 17


class ImageGenerator(nn.Module):
    """G with its output shaped as images: z (B, Z) -> (B, *shape) in [-1, 1] (whatever shape G gives), the run's
    image shape: (B, 28, 28) for the digits, (B, H, W, 3) for colour."""

    def __init__(self, generator: nn.Module, shape: tuple[int, ...] = (28, 28)):
        super().__init__()
        self.generator, self.shape = generator, tuple(shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z).reshape(-1, *self.shape)


def export_generator(state: dict[str, Any], path: Path, fmt: str, raw: bool = False,
                     generator: nn.Module | None = None) -> Path:
    """Write the checkpoint's generator to `path` in `fmt` (onnx or torchscript), atomically.
    `generator`: for a run trained with its own generator module, an instance of it."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    shape = from_dict(ModelConfig, state["model_config"]).shape
    model = ImageGenerator(load_generator(state, raw=raw, generator=generator), shape).eval()
    example = torch.randn(2, state["model_config"]["latent_dim"])
    with torch.no_grad():
        given = model.generator(example)
    if given[0].numel() != math.prod(shape):
        raise UsageError(f"the generator gives {tuple(given.shape[1:])} per image; the run's images are "
                         f"{'x'.join(map(str, shape))} ({math.prod(shape):,} values): is it the run's generator?")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notices for both exporters
        if fmt == "onnx":
            _check_onnx()
            return atomic_write(path, lambda f: _export_onnx(model, example, f))
        traced = torch.jit.trace(model, example)
        return atomic_write(path, lambda f: torch.jit.save(traced, f))


def _check_onnx() -> None:
    try:
        import onnx  # noqa: F401  (torch writes the file with it)
    except ImportError as exc:
        raise UsageError("ONNX export needs the onnx package: pip install 'vanilla-gan[onnx]'") from exc


def _export_onnx(model: nn.Module, example: torch.Tensor, file: Any) -> None:
    # The TorchScript-based exporter; the newer one needs onnxscript.
    try:
        torch.onnx.export(model, (example,), file, input_names=["z"], output_names=["images"],
                          dynamic_axes={"z": {0: "batch"}, "images": {0: "batch"}}, opset_version=ONNX_OPSET,
                          dynamo=False)
    except TypeError:  # a torch without the `dynamo` switch: its default is the TorchScript-based exporter
        torch.onnx.export(model, (example,), file, input_names=["z"], output_names=["images"],
                          dynamic_axes={"z": {0: "batch"}, "images": {0: "batch"}}, opset_version=ONNX_OPSET)
    except ModuleNotFoundError as exc:
        raise UsageError(f"ONNX export needs {exc.name}: pip install 'vanilla-gan[onnx]' onnxscript") from exc
