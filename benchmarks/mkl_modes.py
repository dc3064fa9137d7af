"""The speed of MKL's reproducibility modes (MKL_CBWR) for the default model's training step, batch 8 and 100.

    python benchmarks/mkl_modes.py                      # MKL's default, AUTO,STRICT, COMPATIBLE; 5 rounds
    python benchmarks/mkl_modes.py --mode= --mode=AUTO,STRICT --rounds 9 --batch-sizes 8

MKL reads MKL_CBWR at its first call, so each measurement is a fresh process: it builds the Trainer (default
model), runs 20 warm-up steps, then times `train_step` one step at a time and reports the fastest step and the
median (the fastest is the least disturbed by other work on a shared machine). The modes alternate within
each round; the medians over rounds are printed with their ratio to the first mode. An empty mode is MKL's
default (the package's own default is AUTO,STRICT).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

import torch

CHILD = """
import json, statistics, sys, time
import torch
from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.training.process import mkl_cbwr
from vanilla_gan.training.trainer import Trainer
batch, steps = int(sys.argv[1]), int(sys.argv[2])
images = load_dataset("digits")[0][: batch * 4]
trainer = Trainer(ModelConfig(), TrainConfig(seed=1, batch_size=batch, device="cpu", eval_every=0), images, None)
real = images[:batch].reshape(batch, 784).float().div(127.5).sub(1)
times = []
for i in range(20 + steps):
    start = time.perf_counter()
    trainer.train_step(real)
    times.append(time.perf_counter() - start)
times = times[20:]
print(json.dumps({"mode": mkl_cbwr(), "min": min(times), "median": statistics.median(times)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", action="append",
                        help="an MKL_CBWR value, empty for MKL's default (repeat; default: the three: '', "
                             "AUTO,STRICT, COMPATIBLE)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default: 5)")
    parser.add_argument("--batch-sizes", default="8,100", help="batch sizes (default: 8,100)")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per process (default: 100)")
    options = parser.parse_args()
    modes = options.mode or ["", "AUTO,STRICT", "COMPATIBLE"]
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    for batch in map(int, options.batch_sizes.split(",")):
        best: dict[str, list[float]] = {m: [] for m in modes}
        typical: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(options.rounds):
            for mode in modes:
                done = subprocess.run([sys.executable, "-c", CHILD, str(batch), str(options.steps)],
                                      env={**os.environ, "MKL_CBWR": mode}, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(done.stderr)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                best[mode].append(result["min"])
                typical[mode].append(result["median"])
        base = statistics.median(best[modes[0]])
        for mode in modes:
            fastest, median = statistics.median(best[mode]), statistics.median(typical[mode])
            print(f"batch {batch:>3} {mode or 'MKL default':>12}: fastest step {fastest * 1e3:.2f} ms "
                  f"(x{fastest / base:.2f}), median step {median * 1e3:.2f} ms; {batch / fastest:.0f} images/s "
                  f"at the fastest; medians of {options.rounds} rounds")


if __name__ == "__main__":
    main()
