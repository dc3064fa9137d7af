"""Do five short runs end the same after a change to the code? Prints one digest per run (drift.py's: every
number in last.pt but the wall-clock ones), to compare with the digests of the code before the change.

    python benchmarks/same_runs.py                               # this checkout's package
    PYTHONPATH=/tmp/before/src python benchmarks/same_runs.py    # another checkout's (git worktree add /tmp/before REV)

The digest leaves out the checkpoint's `modules` entry, the networks' class paths, which name the module they
live in (vanilla_gan.models.Generator before the package's folders, vanilla_gan.gan.models.Generator after): a
move of code, not a number. The five cover the step's paths: the default networks, --d-steps 2 with the minimax
loss and a cooldown, the DCGAN-style pair with DiffAugment, noise and a lazy R1 penalty, D's minibatch std and
spectral norm, and bf16.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from drift import digest

SHORT = "--limit 512 --epochs 2 --batch-size 16 --eval-every 0 --no-report --seed 3 --threads 1"
RUNS = {
    "default": "",
    "d-steps": "--d-steps 2 --g-loss minimax --lr-cooldown 0.5 --real-label 0.9",
    "dcgan": "--g-net conv --d-net conv --conv-width 8 --augment translation,cutout --instance-noise 0.2 "
             "--r1-gamma 1 --r1-every 4 --ema-decay 0.99",
    "d-layers": "--minibatch-std --spectral-norm --lr-d 4e-4 --dropout 0.1",
    "bf16": "--precision bf16 --g-hidden 64,128 --d-hidden 128,64",
}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in RUNS.items():
            out = Path(tmp) / name
            done = subprocess.run([sys.executable, "-m", "vanilla_gan", "train", *SHORT.split(), *args.split(),
                                   "--out", str(out)], capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{name}: {done.stderr.strip().splitlines()[-1]}")
            print(f"{name}: {digest(out, leave_out=('modules',))}", flush=True)


if __name__ == "__main__":
    main()
