"""Images per second of each option of D (and the conv networks) against the default, in one process.

    python benchmarks/d_options_speed.py                      # every arm of experiments/d_arms.py, 2 threads
    python benchmarks/d_options_speed.py --arms default,dcgan --threads 1 --rounds 3

Each arm trains on the embedded digits (--images of them) through the public Trainer: one warm-up epoch, then
--rounds timed epochs, the arms alternating so that a change in the machine's load hits them alike. Printed:
each arm's median images/s (the trainer's own `images_per_s`, training steps only), its ratio to the default's,
and the epochs that would take a default run's wall time (112 x the ratio), which the study uses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from d_arms import ARMS  # noqa: E402

from vanilla_gan.api.session import MODEL_OPTIONS  # noqa: E402
from vanilla_gan.config import ModelConfig, TrainConfig  # noqa: E402
from vanilla_gan.data import fixed_order, load_dataset  # noqa: E402
from vanilla_gan.training.trainer import Trainer  # noqa: E402


def trainer_for(options: dict, images: torch.Tensor, threads: int) -> Trainer:
    model = ModelConfig(**{k: v for k, v in options.items() if k in MODEL_OPTIONS})
    train = TrainConfig(**{k: v for k, v in options.items() if k not in MODEL_OPTIONS}, epochs=10_000, seed=1,
                        eval_every=0, threads=threads)
    return Trainer(model, train, images, progress=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated arm names (default: all)")
    parser.add_argument("--threads", type=int, default=2, help="training threads (default: 2)")
    parser.add_argument("--rounds", type=int, default=2, help="timed epochs per arm (default: 2)")
    parser.add_argument("--images", type=int, default=3200, help="images per epoch (default: 3200)")
    args = parser.parse_args()
    names = args.arms.split(",")
    unknown = [n for n in names if n not in ARMS]
    if unknown:
        parser.error(f"unknown arms {unknown}; known: {', '.join(ARMS)}")
    images = load_dataset("digits")[0][torch.from_numpy(fixed_order(10_000)[: args.images])]
    trainers = {name: trainer_for(ARMS[name], images, args.threads) for name in names}
    for trainer in trainers.values():
        trainer.train_epoch()  # warm-up
    speeds: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            speeds[name].append(trainer.train_epoch()["images_per_s"])
    base = statistics.median(speeds.get("default") or speeds[names[0]])
    print(f"cpu: {torch.backends.cpu.get_cpu_capability()}, threads {args.threads}, torch {torch.__version__}")
    print(f"{'arm':<20} {'images/s':>9} {'x default':>9} {'epochs for 112 default':>22}")
    for name in names:
        speed = statistics.median(speeds[name])
        print(f"{name:<20} {speed:9.0f} {speed / base:9.2f} {round(112 * speed / base):22d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
