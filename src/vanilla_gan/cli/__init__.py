"""The `vanilla-gan` command line: one module per subcommand, each with `add_parser(subparsers)` (its options
and help) and `run(args)` (the command), registered in COMMANDS below; common.py holds what they share.

    vanilla-gan train --epochs 2 --seed 1 --out runs/try
    vanilla-gan train --out runs/try --resume --epochs 4
    vanilla-gan sample runs/try -n 1000 -o digits.npy
    vanilla-gan sample runs/try --interpolate -o walk.gif      # also walk.png
    vanilla-gan evaluate runs/try --json
    vanilla-gan report runs/try                                # runs/try/report.html
    vanilla-gan export runs/try --format onnx -o generator.onnx
    vanilla-gan sweep --seeds 1-5 --set batch_size=8,32 --epochs 10 --out sweeps/bs
    vanilla-gan sample --pretrained -n 64 -o digits.png      # the shipped weights: no training
    vanilla-gan explore runs/try -o page.html                  # G and D in the browser

This module only parses, prints and maps errors: the work is done by the Python API (`api.Training`) and
the modules it names. Errors the user can act on are printed as one `error:` line with the exit status of
their type (errors.py): 2 for bad usage or input, 1 for other failures, 130 when interrupted. `--debug`
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys

from vanilla_gan._version import __version__
from vanilla_gan.cli import evaluate, explore, export, report, sample, sweep, train
from vanilla_gan.cli.common import Parser
from vanilla_gan.errors import Interrupted, VanillaGanError
from vanilla_gan.training.process import steady_streams, stop_signals_interrupt

COMMANDS = [train, sample, evaluate, report, export, sweep, explore]  # in the order `--help` lists them


def build_parser() -> Parser:
    parser = Parser(prog="vanilla-gan", description="Train the classic MLP GAN on handwritten digits.")
    parser.add_argument("--version", action="version", version=f"vanilla-gan {__version__}")
    subparsers = parser.add_subparsers(title="commands", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # a closed or broken stdout/stderr never stops a command (`| head -1`, `2>&-`); SIGTERM unwinds as Ctrl-C does
    with steady_streams(), stop_signals_interrupt():
        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):  # no command given: say what there is
            parser.print_help()
            return 0
        return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """The command's function, its errors as one line each."""
    try:
        return args.func(args)
    except Interrupted as stop:  # a stop on request, not an error: its message says how to resume
        print(stop, file=sys.stderr)
        return stop.exit_code
    except VanillaGanError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return Interrupted.exit_code
    except Exception as exc:  # an unexpected failure: one line, the traceback behind --debug
        if getattr(args, "debug", False):
            raise
        print(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1
