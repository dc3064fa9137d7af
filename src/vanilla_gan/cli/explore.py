"""`vanilla-gan explore`: write the page where G draws and D judges in the browser (report/explore_page.py).

    vanilla-gan explore runs/try -o page.html          # a run folder or a checkpoint file
    vanilla-gan explore --pretrained -o page.html      # the shipped weights: no training
    vanilla-gan explore runs/try --with-raw            # also G's raw weights, beside their moving average

cli/__init__.py registers it; `Run.explore` and `Pretrained.explore` are the same from Python.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vanilla_gan.cli.common import common_options
from vanilla_gan.errors import UsageError
from vanilla_gan.report.explore_page import checkpoint_page, weights_page, write_page
from vanilla_gan.runs.rundir import load_checkpoint, resolve_checkpoint
from vanilla_gan.runs.shipped import load_weights


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("explore", parents=[common_options()],
                              help="write a page where G draws and D judges in the browser",
                              description="Write one self-contained HTML page (the weights embedded as float16, the "
                                          "networks computed in JavaScript; no server, no network) to play with a "
                                          "trained G and D: new images, sliders over latent directions, a walk "
                                          "between two images, a canvas to draw on with D's verdict, and raw G "
                                          "beside its moving average (--with-raw).")
    p.add_argument("checkpoint", type=Path, nargs="?", help="a run folder (its checkpoints/last.pt) or a checkpoint "
                                                            "file")
    p.add_argument("--pretrained", action="store_true", help="the weights shipped with vanilla-gan instead of a run")
    p.add_argument("-o", "--output", type=Path, default=Path("explore.html"),
                   help="the page to write, ending in .html (default: explore.html)")
    p.add_argument("--with-raw", action="store_true",
                   help="also embed G's raw weights, to show them beside their moving average (the digits' page grows "
                        "from about 8 MB to 12 MB)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"-o {args.output}: the page must end in .html")
    if (args.checkpoint is None) == (not args.pretrained):
        raise UsageError("explore needs a run folder or checkpoint, or --pretrained (one of them)")
    if args.pretrained:
        html, source = weights_page(load_weights(), args.with_raw), "the shipped weights"
    else:
        file = resolve_checkpoint(args.checkpoint)
        state = load_checkpoint(file)
        name = args.checkpoint.name if args.checkpoint.is_dir() else (
            file.parent.parent.name if file.parent.name == "checkpoints" else file.stem)
        html, source = checkpoint_page(state, name, args.with_raw), f"epoch {state['epoch']} of {args.checkpoint}"
    path = write_page(args.output, html)
    print(f"wrote {path} ({len(html.encode()) / 1e6:.1f} MB, {source}): open it in a browser; it needs no network")
    return 0
