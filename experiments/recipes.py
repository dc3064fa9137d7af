"""Recipes compared over seeds: each arm (a set of `vanilla-gan train` options) trained with several seeds to
the same number of epochs, evaluated at the end on 10,000 samples, summarised by the median and spread.

    python experiments/recipes.py --epochs 56 --seeds 1,2,3                    # the arms below, 3 seeds each
    python experiments/recipes.py --arms baseline,cooldown --seeds 1-5 --parallel 2
    python experiments/recipes.py --out runs/recipes --summary                 # the table of finished runs only

Arms whose steps cost the same (everything here but the batch size) are compared at equal epochs, hence at
equal training time, whatever else the machine is doing; `--parallel 2` runs two single-threaded trainings at
once (on a 2-core CPU more images per second in all than one two-threaded run). Finished runs are kept and
skipped when the command is run again. Prints one Markdown row per arm: the median of each metric over the
seeds, with min-max.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The study in docs/results.md ran when the EMA's default decay was 0.999: every arm but the EMA's says so.
ARMS = {
    "baseline": ["--ema-decay", "0.999"],
    "cooldown 0.2": ["--lr-cooldown", "0.2", "--ema-decay", "0.999"],
    "beta2 0.99": ["--betas", "0.5,0.99", "--ema-decay", "0.999"],
    "real label 0.9": ["--real-label", "0.9", "--ema-decay", "0.999"],
    "ema 0.9995": ["--ema-decay", "0.9995"],
    # k = 2 D updates per G update, measured after EMA 0.9995 became the default; a step of 2 batches cost
    # 0.79x two steps of 1 (docs/results.md), so equal time is --epochs 70 against the others' 56.
    "d-steps 2": ["--d-steps", "2"],
}
METRICS = ("fid", "inception_score", "precision", "recall", "min_class")


def seeds_of(text: str) -> list[int]:
    if "-" in text:
        first, last = (int(x) for x in text.split("-"))
        return list(range(first, last + 1))
    return [int(x) for x in text.split(",")]


def folder(out: Path, arm: str, seed: int) -> Path:
    return out / f"{arm.replace(' ', '_')}-seed{seed}"


def final(run: Path, epochs: int) -> dict | None:
    """The last evaluated epoch's metrics of a finished run, or None."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return None
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if len(records) < epochs or "fid" not in records[-1]:
        return None
    record = records[-1]
    return {**record, "min_class": min(record["class_histogram"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of: {', '.join(ARMS)}")
    parser.add_argument("--seeds", default="1,2,3", help="e.g. 1,2,3 or 1-5 (default: 1,2,3)")
    parser.add_argument("--epochs", type=int, default=56)
    parser.add_argument("--parallel", type=int, default=2, help="trainings at once, one thread each (default: 2)")
    parser.add_argument("--out", type=Path, default=Path("runs/recipes"))
    parser.add_argument("--summary", action="store_true", help="only print the table of finished runs")
    args = parser.parse_args()
    arms, seeds = args.arms.split(","), seeds_of(args.seeds)

    if not args.summary:
        queue = [(arm, seed) for seed in seeds for arm in arms
                 if final(folder(args.out, arm, seed), args.epochs) is None]
        running: list[tuple[subprocess.Popen, str, int, float]] = []
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        while queue or running:
            while queue and len(running) < args.parallel:
                arm, seed = queue.pop(0)
                run = folder(args.out, arm, seed)
                resume = ["--resume"] if (run / "checkpoints" / "last.pt").exists() else [
                    *ARMS[arm], "--seed", str(seed)]
                command = [sys.executable, "-m", "vanilla_gan", "train", "--out", str(run), *resume, "--epochs",
                           str(args.epochs), "--eval-every", str(args.epochs), "--no-report"]
                running.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                 env=env), arm, seed, time.time()))
            time.sleep(5)
            for item in list(running):
                process, arm, seed, started = item
                if process.poll() is not None:
                    running.remove(item)
                    print(f"{arm} seed {seed}: exit {process.returncode} after {time.time() - started:.0f} s",
                          flush=True)

    print(f"\n{args.epochs} epochs, seeds {args.seeds}; median over the seeds (min-max)")
    print("| arm | seeds | " + " | ".join(METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    for arm in arms:
        results = [r for seed in seeds if (r := final(folder(args.out, arm, seed), args.epochs)) is not None]
        if not results:
            continue
        cells = []
        for key in METRICS:
            values = [r[key] for r in results]
            fmt = "{:.1%}" if key == "min_class" else "{:.3f}" if key in ("precision", "recall") else "{:.2f}"
            cells.append(f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-"
                         f"{fmt.format(max(values))})")
        print(f"| {arm} | {len(results)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
