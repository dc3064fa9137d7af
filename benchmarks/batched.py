"""Is training K runs side by side as one batched model faster than training them one after another?

    python benchmarks/batched.py                       # K = 1, 2, 4, 8 at batch 8 and 100, on the CPU
    python benchmarks/batched.py --device cuda --batch-sizes 100 --runs 1,16

Both arms are the package's own code with the default model and options (EMA, fused Adam in the backward pass
for a run alone): "one after another" calls K Trainers' `train_step`, each on its own batch; "side by side"
calls one `batched.BatchedTrainer.train_step` on the K batches stacked (`vanilla-gan sweep --batched K`).
Prints the time of K steps (every run one step) and the speed-up, measured in the same process, arms
interleaved, best of --repeats.
"""

from __future__ import annotations

import argparse
import time

import torch

from vanilla_gan.batched import BatchedTrainer, training_rng
from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.trainer import Trainer


def arms(k: int, batch: int, device: torch.device, images: torch.Tensor) -> dict[str, callable]:
    trainers, rngs = [], []
    for seed in range(k):
        config = TrainConfig(seed=seed, batch_size=batch, device=str(device), eval_every=0)
        trainers.append(Trainer(ModelConfig(), config, images, progress=False))
        rngs.append(training_rng(device))
    side_by_side = BatchedTrainer(trainers, rngs, progress=False)
    alone = [Trainer(ModelConfig(), TrainConfig(seed=seed, batch_size=batch, device=str(device), eval_every=0),
                     images, progress=False) for seed in range(k)]
    real = torch.rand(k, batch, 784, device=device) * 2 - 1

    def one_after_another() -> None:
        for i, trainer in enumerate(alone):
            trainer.train_step(real[i])

    def batched() -> None:
        side_by_side.train_step(real)

    return {"one after another": one_after_another, "side by side": batched}


def timed(fn, device: torch.device, steps: int) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-sizes", default="8,100")
    parser.add_argument("--runs", default="1,2,4,8", help="K values")
    parser.add_argument("--seconds", type=float, default=2.0, help="per arm and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    images = load_dataset("digits")[0]
    print(f"device {device}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'batch':>5} {'K':>3} {'one after another':>18} {'side by side':>13} {'speed-up':>9}")
    for batch in map(int, args.batch_sizes.split(",")):
        for k in map(int, args.runs.split(",")):
            fns = arms(k, batch, device, images)
            for fn in fns.values():  # warm up, and a step count that fills --seconds
                timed(fn, device, 5)
            steps = {name: max(5, int(args.seconds / timed(fn, device, 5))) for name, fn in fns.items()}
            best = {name: float("inf") for name in fns}
            for _ in range(args.repeats):  # interleaved: the machine's noise falls on both arms
                for name, fn in fns.items():
                    best[name] = min(best[name], timed(fn, device, steps[name]))
            sep, bat = best["one after another"], best["side by side"]
            print(f"{batch:>5} {k:>3} {sep * 1e3:>15.2f} ms {bat * 1e3:>10.2f} ms {sep / bat:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
