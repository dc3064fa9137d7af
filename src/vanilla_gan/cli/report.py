"""`vanilla-gan report`: write RUN/report.html again (plots, animations, health notes).

    vanilla-gan report runs/try
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vanilla_gan.cli.common import (
    own_generator,
    run_parents,
)
from vanilla_gan.config import (
    DEVICES,
)
from vanilla_gan.report import write_report
from vanilla_gan.training.process import resolve_device


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", parents=run_parents(), help="write RUN/report.html: plots, animations, "
                                                                         "health notes, memorisation check",
                              description="Write one self-contained RUN/report.html (images inlined, no network "
                                          "requests) with the curves (RUN/plots/), progress.gif, a latent walk, "
                                          "real next to generated digits, training-health notes and a "
                                          "memorisation check; `train` writes it too when it ends.")
    p.add_argument("run", type=Path, help="a run folder (the --out of `vanilla-gan train`)")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="where to run G (default: cpu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(write_report(args.run, device=resolve_device(args.device), generator=own_generator(args)).summary())
    return 0
