"""What gives the generated digits away, and what a finished run's checkpoints can do about it at sampling time.

    python benchmarks/two_sample_levers.py RUN/checkpoints/epoch_0028.pt RUN/checkpoints/last.pt \
        --truncation 1,0.8 [--raw] [-n 10000] [--json out.jsonl]

For each checkpoint (and for its raw weights with --raw), and each truncation psi (z drawn from N(0, 1) and
scaled by psi: 1 is the model as trained), prints the two-sample accuracy (two classifier seeds: mean and
spread), FID, precision and recall of n samples, and the pixel statistics that a person sees as speckle and
grey background. Nothing here changes a run: it reads checkpoints only.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from vanilla_gan.checkpoint import load_generator
from vanilla_gan.data import load_dataset
from vanilla_gan.evaluate import compute_metrics
from vanilla_gan.images import to_uint8
from vanilla_gan.rundir import load_checkpoint


@torch.no_grad()
def samples(generator: torch.nn.Module, n: int, psi: float, seed: int = 0) -> np.ndarray:
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.config.latent_dim, generator=rng) * psi
    return np.concatenate([to_uint8(generator(part)) for part in z.split(1000)])


def pixel_stats(images: np.ndarray) -> dict[str, float]:
    """Share of faint-grey pixels (1..31: speckle and grey background) and of mid-grey stroke pixels."""
    faint, mid = (images > 0) & (images < 32), (images >= 32) & (images < 224)
    return {"faint": float(faint.mean()), "mid": float(mid.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--truncation", default="1", help="comma-separated psi values (default: 1)")
    parser.add_argument("--raw", action="store_true", help="also the raw weights, not only the moving average")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--json", help="append one JSON line per row to this file")
    args = parser.parse_args()
    real = load_dataset("digits")[0]
    print(f"cpu: {torch.backends.cpu.get_cpu_capability()}, threads {torch.get_num_threads()}")
    print(f"{'checkpoint':<40} {'weights':<7} {'psi':>4} {'c2st':>6} {'spread':>6} {'FID':>6} {'prec':>6} "
          f"{'recall':>6} {'faint':>6} {'mid':>6} {'s':>4}")
    for path in args.checkpoints:
        state = load_checkpoint(path)
        for raw in ([False, True] if args.raw else [False]):
            generator = load_generator(state, raw=raw)
            for psi in (float(p) for p in args.truncation.split(",")):
                start = time.perf_counter()
                images = samples(generator, args.n, psi)
                m = compute_metrics(images, real, two_sample=True)
                row = {"checkpoint": path, "epoch": state["epoch"], "weights": "raw" if raw else "ema", "psi": psi,
                       **{k: m[k] for k in ("c2st_accuracy", "c2st_spread", "fid", "precision", "recall",
                                            "class_histogram")}, **pixel_stats(images),
                       "seconds": time.perf_counter() - start}
                print(f"{path[-40:]:<40} {row['weights']:<7} {psi:>4.2f} {row['c2st_accuracy']:>6.3f} "
                      f"{row['c2st_spread']:>6.3f} {row['fid']:>6.2f} {row['precision']:>6.3f} {row['recall']:>6.3f} "
                      f"{row['faint']:>6.3f} {row['mid']:>6.3f} {row['seconds']:>4.0f}", flush=True)
                if args.json:
                    with open(args.json, "a") as out:
                        out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
