"""Training speed by thread setting, on an idle CPU and beside a busy program: the thread policy's check.

    python benchmarks/threads.py                          # batch 8 and 100, idle and busy, 3 rounds
    python benchmarks/threads.py --batches 8 --rounds 5 --busy-only --all  # 2 threads beside the busy one too

Each run is a fresh `vanilla-gan train` process (the package's own choice, "auto"; and OMP_NUM_THREADS=1 and =2,
which fix the count); the settings alternate within each round, so a change in the machine's load hits them
alike. "Busy" starts one program that keeps a core spinning (`while True: pass`, as a browser tab or a second
training would) beside each run. Prints each run's images/s (the trainer's own, from metrics.jsonl: its steps
only, not the start-up), then per batch and condition the median of each setting and the ratios the issue asks
for: auto against 1 thread, and auto against the better of 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

SETTINGS = {"auto": None, "1 thread": "1", "2 threads": "2"}
# About 15 s of training each at idle (2,000 and 500 steps): the policy's first probes are a small part of it, as
# in a real run (a default run has 70,000 steps).
RUN = {8: ["--limit", "4000", "--epochs", "4"], 100: ["--limit", "10000", "--epochs", "5"]}


def train(batch: int, threads: str | None, folder: Path) -> float:
    """The images/s of one training process (all epochs' images over their training seconds)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    out = folder / f"run{len(list(folder.iterdir()))}"
    command = [sys.executable, "-m", "vanilla_gan", "train", "--batch-size", str(batch), *RUN[batch],
               "--eval-every", "0", "--no-report", "--seed", "1", "--out", str(out)]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return lines[-1]["step"] * batch / lines[-1]["elapsed_s"]  # every step's images over the training seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="8,100")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy-only", action="store_true")
    parser.add_argument("--idle-only", action="store_true")
    parser.add_argument("--all", action="store_true", help="also 2 threads beside the busy program (slow)")
    args = parser.parse_args()
    conditions = ["idle", "busy"]
    conditions = ["busy"] if args.busy_only else ["idle"] if args.idle_only else conditions
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?") if Path("/proc/cpuinfo").exists() else "?"
    print(f"CPU: {cpu}, {os.cpu_count()} logical CPUs, capability {torch.backends.cpu.get_cpu_capability()}, "
          f"torch {torch.__version__}; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    results: dict[tuple[int, str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for batch in map(int, args.batches.split(",")):
            for condition in conditions:
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if condition == "busy" else None
                try:
                    for r in range(args.rounds):
                        order = list(SETTINGS) if r % 2 == 0 else list(reversed(SETTINGS))
                        for name in order:
                            if condition == "busy" and name == "2 threads" and not args.all:
                                continue  # collapses (about 10x slower): minutes a run, and not the question
                            speed = train(batch, SETTINGS[name], folder)
                            results.setdefault((batch, condition, name), []).append(speed)
                            print(f"batch {batch} {condition} round {r + 1} {name}: {speed:,.0f} images/s", flush=True)
                finally:
                    if busy is not None:
                        busy.kill()
                        busy.wait()
    print("\n| batch | machine | auto | 1 thread | 2 threads | auto / 1 thread | auto / best of 1 and 2 |")
    print("|---|---|---|---|---|---|---|")
    for batch in map(int, args.batches.split(",")):
        for condition in conditions:
            median = {name: statistics.median(results[(batch, condition, name)]) for name in SETTINGS
                      if (batch, condition, name) in results}
            two = median.get("2 threads")
            best = max(median["1 thread"], two or 0)
            print(f"| {batch} | {condition} | {median['auto']:,.0f} | {median['1 thread']:,.0f} | "
                  f"{f'{two:,.0f}' if two else 'not run'} | {median['auto'] / median['1 thread']:.2f} | "
                  f"{median['auto'] / best:.2f}{'' if two else ' (of 1 thread)'} |")


if __name__ == "__main__":
    main()
