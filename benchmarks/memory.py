"""Memory over a long run: train 30 short epochs through the whole run folder path (grids, steps.csv,
checkpoints, metrics, an evaluation every 5 epochs) and print the resident memory at epochs 2, 10 and 30.

    python benchmarks/memory.py                         # 30 epochs of 2,000 digits at batch 8, into a temp folder
    python benchmarks/memory.py --epochs 60 --limit 4000

A leak shows as growth between epoch 10 and 30 beyond noise (allocator caches settle in the first epochs).
Resident memory is read from /proc/self/status (VmRSS): this process's memory now, not its peak.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import vanilla_gan as vg


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--limit", type=int, default=2000, help="digits per epoch (default: 2000)")
    parser.add_argument("--marks", default="2,10,30", help="epochs to print memory at (default: 2,10,30)")
    args = parser.parse_args()
    marks = {int(m) for m in args.marks.split(",")}
    readings: dict[int, float] = {}

    def record(trainer: vg.Trainer, metrics: dict) -> None:
        readings[metrics["epoch"]] = rss_mib()
        if metrics["epoch"] in marks:
            print(f"epoch {metrics['epoch']:3d}: resident memory {readings[metrics['epoch']]:,.1f} MiB", flush=True)

    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads; {args.epochs} epochs of {args.limit} digits, batch 8", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        vg.train(out=Path(tmp) / "run", seed=1, epochs=args.epochs, limit=args.limit, eval_every=5,
                 eval_samples=1000, report=False, epoch_hooks=[record])
    first, last = min(readings), max(readings)
    middle = min(readings, key=lambda e: abs(e - 10))
    print(f"growth epoch {middle} -> {last}: {readings[last] - readings[middle]:+,.1f} MiB; "
          f"epoch {first} -> {last}: {readings[last] - readings[first]:+,.1f} MiB")


if __name__ == "__main__":
    main()
