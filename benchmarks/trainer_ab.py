"""The trainer's images/s from two or more source trees (or options), timed alternately epoch by epoch.

    python benchmarks/trainer_ab.py before=/tmp/old/src after=src --batch-sizes 8,100 --rounds 5
    python benchmarks/trainer_ab.py fp32=src bf16=src:precision=bf16 --batch-sizes 8   # options: key=value,...

Each variant is a worker process (its own PYTHONPATH, OMP_NUM_THREADS as given here) holding a Trainer with
no run folder on the embedded digits. After one warm-up epoch each, the workers train one epoch in turn,
round after round (every other round in reverse order), so a machine's changing load falls on every variant
alike; the medians are printed. The
figure is the Trainer's own `images_per_s` (training steps only), as metrics.jsonl logs it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKER = r"""
import json, sys, torch
from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
try:
    from vanilla_gan.training.trainer import Trainer
except ImportError:  # a source tree from before the package's folders
    from vanilla_gan.trainer import Trainer
options = json.loads(sys.argv[1])
images, _ = load_dataset("digits")
config = TrainConfig(device="cpu", seed=0, epochs=10**6, log_every=10**9, eval_every=0, **options)
trainer = Trainer(ModelConfig(), config, images, progress=False)
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                  "capability": torch.backends.cpu.get_cpu_capability()}), flush=True)
for _ in sys.stdin:
    print(trainer.train_epoch()["images_per_s"], flush=True)
"""


def parse_value(text: str):
    return {"True": True, "False": False}.get(text, json.loads(text) if text[:1].isdigit() else text)


def start(spec: str, batch_size: int) -> tuple[str, subprocess.Popen]:
    name, _, rest = spec.partition("=")
    source, _, extra = rest.partition(":")
    options = {"batch_size": batch_size}
    for pair in filter(None, extra.split(",")):
        key, _, value = pair.partition("=")
        options[key] = parse_value(value)
    env = {**os.environ, "PYTHONPATH": os.path.abspath(source)}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(options)], env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return f"{name} (batch {batch_size})", worker


def epoch(worker: subprocess.Popen) -> float:
    worker.stdin.write("epoch\n")
    worker.stdin.flush()
    return float(worker.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="NAME=SRC_DIR[:key=value,...]")
    parser.add_argument("--batch-sizes", default="8,100")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workers = dict(start(spec, int(b)) for b in args.batch_sizes.split(",") for spec in args.variants)
    for name, worker in workers.items():
        print(name, worker.stdout.readline().strip(), flush=True)
    for worker in workers.values():  # warm-up
        epoch(worker)
    rates: dict[str, list[float]] = {name: [] for name in workers}
    for r in range(args.rounds):
        for name, worker in list(workers.items())[::-1 if r % 2 else 1]:  # every other round backwards
            rates[name].append(epoch(worker))
        print(f"round {r + 1}: " + "  ".join(f"{n} {v[-1]:,.0f}" for n, v in rates.items()), flush=True)
    for worker in workers.values():
        worker.stdin.close()
        worker.wait()
    print("| variant | images/s, median | rounds (min-max) |\n|---|---|---|")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):,.0f} | {min(values):,.0f}-{max(values):,.0f} |")


if __name__ == "__main__":
    main()
