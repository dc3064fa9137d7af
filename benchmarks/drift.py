"""Drift: do identical trainings that differ only in --out end bit-identical? Counts the distinct results.

    python benchmarks/drift.py                                  # 16 runs, default environment
    python benchmarks/drift.py --runs 16 --env MKL_CBWR= --env MKL_CBWR=AUTO,STRICT   # two modes, alternating
    python benchmarks/drift.py --args "--limit 1024 --epochs 1" --runs 8

Each run is `python -m vanilla_gan train ARGS --out DIR` in a fresh process, with DIR paths of different lengths
(which move the process's allocations). The digest covers the whole checkpoint state (G, its moving average,
D, both Adam states, the RNG states, the position). With several --env modes the runs alternate between them;
each mode's count of distinct digests is printed (1 = reproducible), with the majority digest's share and the
median of the runs' training speed (metrics.jsonl's images_per_s: the speed cost of a mode, alternating rounds).
The package sets MKL_CBWR=AUTO,STRICT unless it is set: `--env MKL_CBWR=` (empty) gives MKL's default path.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

WALL_CLOCK = {"images_per_s", "elapsed_s", "epoch_time", "eval_s"}
ARGS = ("--limit 1024 --epochs 1 --batch-size 8 --eval-every 0 --no-report --seed 1")


def digest(run: Path, leave_out: tuple[str, ...] = ()) -> str:
    """A hash of every number in last.pt but the wall-clock ones (epoch_time, elapsed, the metrics' timings), and
    of every other entry but those named in `leave_out`."""
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    for key in ("epoch_time", "elapsed", *leave_out):
        state.pop(key, None)
    state["metrics"] = [{k: v for k, v in line.items() if k not in WALL_CLOCK} for line in state["metrics"]]
    h = hashlib.sha256()

    def feed(x: object) -> None:
        if isinstance(x, torch.Tensor):
            h.update(x.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            for k in sorted(x, key=str):
                h.update(str(k).encode())
                feed(x[k])
        elif isinstance(x, (list, tuple)):
            for item in x:
                feed(item)
        else:
            h.update(repr(x).encode())

    feed(state)
    return h.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16, help="runs per mode (default: 16)")
    parser.add_argument("--args", default=ARGS, help=f"train's arguments (default: {ARGS!r})")
    parser.add_argument("--env", action="append", default=None,
                        help="NAME=VALUE for a mode (repeat for several modes; NAME= sets it empty)")
    options = parser.parse_args()
    modes = options.env or [""]
    results: dict[str, list[str]] = collections.defaultdict(list)
    speeds: dict[str, list[float]] = collections.defaultdict(list)  # the trainer's images/s, training steps only
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(options.runs):
            for m, mode in enumerate(modes):
                env = dict(os.environ)
                if mode:
                    name, _, value = mode.partition("=")
                    env[name] = value
                out = Path(tmp) / ("r" + "x" * (i * 7 % 40)) / f"{i}-{m}"  # paths of various lengths
                done = subprocess.run([sys.executable, "-m", "vanilla_gan", "train", *options.args.split(),
                                       "--out", str(out)], env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(done.stderr)
                results[mode].append(digest(out))
                lines = (out / "metrics.jsonl").read_text().splitlines()
                speeds[mode].append(statistics.mean(json.loads(line)["images_per_s"] for line in lines))
                print(f"run {i + 1} {mode or 'default'}: {results[mode][-1]} ({speeds[mode][-1]:.0f} images/s)",
                      flush=True)
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}, "
          f"args {options.args!r}")
    for mode in modes:
        counts = collections.Counter(results[mode])
        top = counts.most_common(1)[0]
        print(f"{mode or 'default'}: {len(counts)} distinct result(s) in {len(results[mode])} runs "
              f"(majority {top[0]}: {top[1]}); median {statistics.median(speeds[mode]):.0f} images/s "
              f"(range {min(speeds[mode]):.0f}-{max(speeds[mode]):.0f})")


if __name__ == "__main__":
    main()
