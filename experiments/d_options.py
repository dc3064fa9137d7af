"""The discriminator study: each arm of experiments/d_arms.py trained by `vanilla-gan train` for the epochs that
take a default run's wall time on 2 cores (the ratio from benchmarks/d_options_speed.py), on several seeds,
several runs at once with one thread each, then judged by the run's own final evaluation (the two-sample test,
precision, recall, class shares on 10,000 samples of the moving average).

    python experiments/d_options.py run --arms default,dcgan --seeds 1,2,3 --out /tmp/dstudy --scale 1.0
    python experiments/d_options.py table --out /tmp/dstudy            # medians and min-max per arm

--scale 0.5 screens at half a default run's time; --minutes M gives each run a time budget instead (equal
wall time for runs side by side, at any arm's speed). Each run lands in OUT/ARM_seedS (its log beside it as .log);
a finished run is skipped when asked again. The speed ratios (2 threads, idle, AMD EPYC with AVX-512, this
version) are in SPEED below; measure your own with the benchmark.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from d_arms import ARMS

from vanilla_gan.cli.options import as_arguments

DEFAULT_EPOCHS = 112
# images/s relative to the default at 2 threads (benchmarks/d_options_speed.py, AMD EPYC, AVX-512)
SPEED = {"default": 1.0, "translation": 0.93, "translation-cutout": 0.94, "noise-0.3": 1.0, "noise-0.1": 1.0,
         "r1-1": 0.68, "r1-0.1": 0.73, "r1-10-lazy": 0.99, "sn": 0.64, "ttur": 1.0, "mbstd": 0.97, "conv-d": 0.42,
         "conv-d-sn": 0.38, "conv-d-r1": 0.25, "dcgan": 0.40, "dcgan-sn": 0.36, "dcgan-nodrop": 0.40,
         "dcgan-sn-nodrop": 0.36, "conv-g": 0.66,
         "dcgan-nodrop-b64": 0.4, "dcgan-nodrop-w32": 0.8, "dcgan-nodrop-w32-b64": 0.9,
         "dcgan-w32-lrd": 0.8, "conv-d-w32-noise": 0.7, "dcgan-w64-lrd": 0.4,
         "dcgan-w32-trans": 0.75, "dcgan-w32-r1": 0.75,
         "dcgan-w48-r1": 0.55,
         "mlpg-convd-r1": 0.8, "w48-gconv-r1": 0.52, "w48-gconv-pair-r1": 0.39,
         "pair-lr4": 0.39, "pair-lrd4": 0.39, "pair-lr6": 0.39, "pair-lr4-ema9995": 0.39,
         "pair-lr4-e52": 0.39 * 52 / 44, "pair-lr4-refine16": 0.39 * 52 / 44}


def epochs_of(arm: str, scale: float) -> int:
    return max(1, round(DEFAULT_EPOCHS * SPEED.get(arm, 1.0) * scale))


def command(arm: str, seed: int, out: Path, scale: float, minutes: float | None = None) -> list[str]:
    """The run's command: the arm's epochs at `scale`, or a time budget of `minutes` (runs side by side get
    equal wall time, whatever each arm's speed)."""
    epochs = str(epochs_of(arm, scale))
    length = ["--minutes", str(minutes), "--eval-every", "10000"] if minutes else ["--epochs", epochs, "--eval-every",
                                                                                    epochs]
    return ["vanilla-gan", "train", *as_arguments(ARMS[arm]), "--seed", str(seed), *length, "--threads", "1",
            "--no-report", "--out", str(out / f"{arm}_seed{seed}")]


def final(run: Path) -> dict | None:
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    records = [json.loads(line) for line in lines if line.strip()]
    return records[-1] if records and "c2st_accuracy" in records[-1] else None


def run_all(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    queue = [(arm, int(seed)) for arm in args.arms.split(",") for seed in args.seeds.split(",")]
    running: list[tuple[subprocess.Popen, str]] = []
    while queue or running:
        while queue and len(running) < args.parallel:
            arm, seed = queue.pop(0)
            if final(out / f"{arm}_seed{seed}") is not None:
                continue
            cmd = command(arm, seed, out, args.scale, args.minutes)
            print(" ".join(cmd), flush=True)
            log = open(out / f"{arm}_seed{seed}.log", "w")
            running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), f"{arm}_seed{seed}"))
        time.sleep(5)
        for proc, name in list(running):
            if proc.poll() is not None:
                running.remove((proc, name))
                print(f"{name}: exit {proc.returncode}", flush=True)
    return 0


def table(args: argparse.Namespace) -> int:
    out = Path(args.out)
    rows: dict[str, list[dict]] = {}
    for run in sorted(p for p in out.iterdir() if p.is_dir()):
        record = final(run)
        if record:
            rows.setdefault(run.name.rsplit("_seed", 1)[0], []).append(record)
    print("| arm | epochs | seeds | two-sample median (min-max) | precision | recall | classes min-max % | FID |")
    print("|---|---|---|---|---|---|---|---|")
    for arm, records in rows.items():
        def med(key: str, records: list[dict] = records) -> float:
            return statistics.median(r[key] for r in records)
        two = [r["c2st_accuracy"] for r in records]
        shares = [s for r in records for s in r.get("class_histogram", [])]
        classes = f"{100 * min(shares):.1f}-{100 * max(shares):.1f}" if shares else "-"
        print(f"| {arm} | {records[0]['epoch']} | {len(records)} | {med('c2st_accuracy'):.3f} ({min(two):.3f}-"
              f"{max(two):.3f}) | {med('precision'):.3f} | {med('recall'):.3f} | {classes} | {med('fid'):.1f} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("run", "table"))
    parser.add_argument("--arms", default="default", help="comma-separated arms of d_arms.py")
    parser.add_argument("--seeds", default="1", help="comma-separated seeds (default: 1)")
    parser.add_argument("--out", required=True, help="the study's folder")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of a default run's time (default: 1)")
    parser.add_argument("--minutes", type=float, help="a time budget per run instead of --scale's epochs")
    parser.add_argument("--parallel", type=int, default=2, help="runs at once, one thread each (default: 2)")
    args = parser.parse_args()
    return run_all(args) if args.action == "run" else table(args)


if __name__ == "__main__":
    sys.exit(main())
