"""`vanilla-gan export`: write G as ONNX or TorchScript (runs/export.py does the work).

    vanilla-gan export runs/try --format onnx -o generator.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vanilla_gan.cli.common import (
    EXPORT_SUFFIXES,
    own_generator,
    run_parents,
)
from vanilla_gan.config import (
    ModelConfig,
    from_dict,
)
from vanilla_gan.errors import UsageError
from vanilla_gan.fileio import make_folder
from vanilla_gan.runs.export import export_generator
from vanilla_gan.runs.rundir import load_checkpoint, resolve_checkpoint


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", parents=run_parents(), help="write G as ONNX or TorchScript",
                              description="Export the generator (EMA weights when kept): z float32 (B, latent_dim) "
                                          "-> images float32 (B, H, W) or (B, H, W, 3) ((B, 28, 28) for the "
                                          "digits) in [-1, 1]; run it without vanilla-gan.")
    p.add_argument("checkpoint", type=Path, help="a checkpoint file or a run folder (its checkpoints/last.pt)")
    p.add_argument("--format", choices=("onnx", "torchscript"),
                   help="onnx or torchscript (default: from -o's suffix: .onnx is onnx, .pt or .pth torchscript)")
    p.add_argument("-o", "--output", type=Path, help="the file to write (default: generator.onnx or generator.pt)")
    p.add_argument("--raw", action="store_true", help="export G's trained weights instead of their moving average")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    suffix = args.output.suffix.lower() if args.output else ".onnx"
    if args.format is None and suffix not in EXPORT_SUFFIXES:
        raise UsageError(f"-o {args.output}: cannot tell the format from {suffix or 'no suffix'}: end it in .onnx or "
                         f".pt (TorchScript), or pass --format")
    fmt = args.format or EXPORT_SUFFIXES[suffix]
    output = args.output or Path("generator.onnx" if fmt == "onnx" else "generator.pt")
    source = resolve_checkpoint(args.checkpoint)
    if output.resolve() == source.resolve() or output.resolve().parent.name == "checkpoints":
        raise UsageError(f"-o {output}: never written into a checkpoints folder (it could replace a checkpoint); "
                         f"choose another file")
    state = load_checkpoint(source)
    make_folder(output.parent)
    path = export_generator(state, output, fmt, raw=args.raw, generator=own_generator(args))
    latent = state["model_config"]["latent_dim"]
    shape = ", ".join(map(str, from_dict(ModelConfig, state["model_config"]).shape))
    print(f"wrote {path} ({fmt}, epoch {state['epoch']}): z float32 (B, {latent}) -> images float32 (B, {shape}) "
          f"in [-1, 1]")
    return 0
