"""What the subcommands share: the parser that reports bad usage in one line, --debug, --generator."""

from __future__ import annotations

import argparse
import sys

import torch

from vanilla_gan.cli.own_networks import import_network
from vanilla_gan.config import (
    MAX_SAMPLES,
)

MAX_NPY = MAX_SAMPLES  # sample -n: a .npy (784 MB); MAX_GRID in a .png grid; MAX_WALKS walks and frames
EXPORT_SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".pth": "torchscript"}


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one `error:` line (exit 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    return common


def generator_option() -> argparse.ArgumentParser:
    """--generator MODULE:CLASS, for a run trained with its own generator module (own_networks.py)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--generator", metavar="MODULE:CLASS", dest="own_generator",
                        help="for a run trained with its own generator: its class, importable and built with no "
                             "arguments (e.g. mynets:SmallGenerator); its weights come from the checkpoint")
    return parent


def run_parents() -> list[argparse.ArgumentParser]:
    """The options of the subcommands that read a trained run."""
    return [common_options(), generator_option()]


def own_generator(args: argparse.Namespace) -> torch.nn.Module | None:
    return import_network(args.own_generator) if args.own_generator else None
