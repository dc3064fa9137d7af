"""A whole sweep, timed end to end in each way of running its runs: one after another, or as parallel
processes with the threads split (--jobs N). (It measured the removed --batched K too: docs/sweeps.md.)

    python benchmarks/sweep_modes.py                          # 4 seeds of the default model, 2 epochs each
    python benchmarks/sweep_modes.py --seeds 1-8 --epochs 1 --modes "one by one;--jobs 4"

Each mode is `vanilla-gan sweep --seeds S --epochs E --eval-samples 1000 --no-report` into a fresh folder
(evaluated at the end, as every sweep is), in the same process tree one after another, so the machine's state
is as alike as it can be. Prints the wall time of each and its speed-up over one by one. The runs' weights
do not differ between modes (one by one, --jobs with its thread count).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

MODES = "one by one;--jobs 2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-4")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--modes", default=MODES, help=f"';'-separated sweep options (default: {MODES!r})")
    parser.add_argument("--extra", default="", help="more options for every sweep, e.g. '--batch-size 100'")
    args = parser.parse_args()
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; sweep --seeds {args.seeds} --epochs {args.epochs} {args.extra}")
    baseline = None
    with tempfile.TemporaryDirectory() as folder:
        for n, mode in enumerate(args.modes.split(";")):
            options = [] if mode.strip() == "one by one" else shlex.split(mode)
            command = [sys.executable, "-m", "vanilla_gan", "sweep", "--seeds", args.seeds, "--epochs",
                       str(args.epochs), "--eval-samples", "1000", "--no-report", *shlex.split(args.extra),
                       *options, "--out", str(Path(folder) / f"mode{n}")]
            start = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if result.returncode != 0:
                sys.exit(f"{mode}: exit {result.returncode}: {result.stderr.strip()[-300:]}")
            baseline = baseline or seconds
            print(f"{mode:<24} {seconds:8.1f} s  {baseline / seconds:5.2f}x", flush=True)


if __name__ == "__main__":
    main()
