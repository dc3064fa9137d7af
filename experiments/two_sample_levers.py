"""What gives the generated digits away, and what a finished run's checkpoints can do about it at sampling time.

    python experiments/two_sample_levers.py RUN/checkpoints/epoch_0028.pt RUN/checkpoints/last.pt \
        --truncation 1,0.8 [--raw] [-n 10000] [--json out.jsonl]
    python experiments/two_sample_levers.py RUN/checkpoints/last.pt --probes
    python experiments/two_sample_levers.py RUN/checkpoints/last.pt --zoom docs/two-sample-texture.png

For each checkpoint (and for its raw weights with --raw), and each truncation psi (z drawn from N(0, 1) and
scaled by psi: 1 is the model as trained), prints the two-sample accuracy (two classifier seeds: mean and
spread), FID, precision and recall of n samples, and the pixel statistics that a person sees as speckle and
grey background. With --probes it asks instead what gives the digits away: the same test on 5,000 real and
5,000 generated digits after one change applied to both sides alike (binarised, faint pixels set to 0,
blurred, 8 grey levels), and with the generated digits' classes resampled to the real ones' shares. A probe
that brings the figure down names what the classifier was using. Nothing here changes a run: it reads
checkpoints only.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from vanilla_gan.data import load_dataset
from vanilla_gan.data.images import to_uint8
from vanilla_gan.evaluation.classifier import extract, load_evaluator
from vanilla_gan.evaluation.evaluator import compute_metrics
from vanilla_gan.evaluation.twosample import two_sample_test
from vanilla_gan.runs.checkpoint import load_generator
from vanilla_gan.runs.rundir import load_checkpoint


@torch.no_grad()
def samples(generator: torch.nn.Module, n: int, psi: float, seed: int = 0) -> np.ndarray:
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.config.latent_dim, generator=rng) * psi
    return np.concatenate([to_uint8(generator(part)) for part in z.split(1000)])


def pixel_stats(images: np.ndarray) -> dict[str, float]:
    """Share of faint-grey pixels (1..31: speckle and grey background) and of mid-grey stroke pixels."""
    faint, mid = (images > 0) & (images < 32), (images >= 32) & (images < 224)
    return {"faint": float(faint.mean()), "mid": float(mid.mean())}


def blur(images: np.ndarray) -> np.ndarray:
    """A 3x3 binomial blur (weights 1-2-1 in each direction): removes pixel-scale texture, keeps the shapes."""
    x = images.astype(np.float64)
    rows = (np.roll(x, 1, 1) + 2 * x + np.roll(x, -1, 1)) / 4
    return ((np.roll(rows, 1, 2) + 2 * rows + np.roll(rows, -1, 2)) / 4).round().astype(np.uint8)


PROBES = {
    "as they are": lambda x: x,
    "binarised at 128": lambda x: np.where(x >= 128, 255, 0).astype(np.uint8),
    "faint pixels (< 32) set to 0": lambda x: np.where(x < 32, 0, x).astype(np.uint8),
    "8 grey levels": lambda x: (x // 32 * 36).astype(np.uint8),
    "3x3 blur": blur,
}


def classes(images: np.ndarray) -> np.ndarray:
    """Each digit's class by the bundled evaluator."""
    return extract(load_evaluator(), images)[1].argmax(1).numpy()


def real_digits(n: int) -> np.ndarray:
    """n embedded digits, a fixed shuffle's first."""
    real = np.asarray(load_dataset("digits")[0])
    return real[np.random.default_rng(0).permutation(len(real))][:n]


def probes(path: str, n: int = 5000) -> None:
    """The two-sample test on real and generated digits changed alike: which change brings it down?"""
    real = real_digits(n)
    generated = samples(load_generator(load_checkpoint(path)), 4 * n, 1.0)
    print(f"{path}: two-sample accuracy of {n:,} real and {n:,} generated digits, both changed alike")
    for name, change in PROBES.items():
        result = two_sample_test(change(real), change(generated[:n]))
        print(f"  {name:<30} {result.accuracy:.3f} (seeds {', '.join(f'{a:.3f}' for a in result.accuracies)})",
              flush=True)
    want, have = classes(real), classes(generated)
    picks = np.concatenate([np.flatnonzero(have == c)[:(want == c).sum()] for c in range(10)])
    result = two_sample_test(real, generated[np.random.default_rng(1).permutation(picks)])
    print(f"  {'classes resampled to real shares':<30} {result.accuracy:.3f} (generated shares were "
          f"{np.bincount(have[:n], minlength=10) / n}, real {np.bincount(want, minlength=10) / n})")


def zoom(path: str, out: str, n: int = 8, scale: int = 5) -> None:
    """n generated digits (noise seed 3) above n real ones, each pixel drawn `scale` times wider, as a PNG."""
    from PIL import Image

    real = real_digits(n)
    generated = samples(load_generator(load_checkpoint(path)), n, 1.0, seed=3)
    rows = np.concatenate([np.concatenate(list(part), 1) for part in (generated, real)], 0)
    Image.fromarray(rows).resize((rows.shape[1] * scale, rows.shape[0] * scale), Image.NEAREST).save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--truncation", default="1", help="comma-separated psi values (default: 1)")
    parser.add_argument("--raw", action="store_true", help="also the raw weights, not only the moving average")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--json", help="append one JSON line per row to this file")
    parser.add_argument("--probes", action="store_true", help="what gives the digits away (see above)")
    parser.add_argument("--zoom", metavar="PNG", help="draw 8 digits of the first checkpoint and 8 real ones, zoomed")
    args = parser.parse_args()
    if args.zoom:
        zoom(args.checkpoints[0], args.zoom)
        return
    if args.probes:
        for path in args.checkpoints:
            probes(path)
        return
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
