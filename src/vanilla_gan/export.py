"""Export a run's generator for use without this package: ONNX (any ONNX runtime) or TorchScript.

    export_generator(state, "generator.onnx", "onnx")            # state = checkpoint.load(run_dir)
    export_generator(state, "generator.pt", "torchscript")

The exported model maps z, float32 (B, latent_dim) from a standard normal, to images, float32
(B, 28, 28) in [-1, 1] (-1 = background): `uint8 = round((images + 1) * 127.5)`. It holds the EMA
weights when the run kept them (as `sample` does) unless `raw`. The batch size is free.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vanilla_gan import checkpoint
from vanilla_gan.errors import UsageError

FORMATS = ("onnx", "torchscript")
ONNX_OPSET = 17


class ImageGenerator(nn.Module):
    """G with its output shaped as images: z (B, Z) -> (B, 28, 28) in [-1, 1]."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z).reshape(-1, 28, 28)


def export_generator(state: dict[str, Any], path: Path, fmt: str, raw: bool = False) -> Path:
    """Write the checkpoint's generator to `path` in `fmt` (onnx or torchscript), atomically."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    model = ImageGenerator(checkpoint.load_generator(state, raw=raw)).eval()
    example = torch.randn(2, model.generator.config.latent_dim)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's deprecation notices for both exporters
            if fmt == "onnx":
                _export_onnx(model, example, tmp)
            else:
                torch.jit.save(torch.jit.trace(model, example), str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    # torch writes the file with the onnx package (the TorchScript-based exporter; the newer one needs onnxscript).
    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise UsageError("ONNX export needs the onnx package: pip install 'vanilla-gan[onnx]'") from exc
    try:
        torch.onnx.export(model, (example,), str(path), input_names=["z"], output_names=["images"],
                          dynamic_axes={"z": {0: "batch"}, "images": {0: "batch"}}, opset_version=ONNX_OPSET,
                          dynamo=False)
    except TypeError:  # a torch without the `dynamo` switch: its default is the TorchScript-based exporter
        torch.onnx.export(model, (example,), str(path), input_names=["z"], output_names=["images"],
                          dynamic_axes={"z": {0: "batch"}, "images": {0: "batch"}}, opset_version=ONNX_OPSET)
    except ModuleNotFoundError as exc:
        raise UsageError(f"ONNX export needs {exc.name}: pip install 'vanilla-gan[onnx]' onnxscript") from exc
