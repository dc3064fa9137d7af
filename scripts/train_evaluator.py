"""Retrain the bundled digit classifier (src/vanilla_gan/assets/evaluator.pt) that vanilla_gan.evaluation uses.

    python scripts/train_evaluator.py                    # the embedded digits only: what ships
    python scripts/train_evaluator.py --mnist --out /tmp/evaluator.pt   # plus MNIST's 60,000 training digits

Trains `vanilla_gan.evaluation.classifier.train_evaluator` on the embedded digits (every fifth held out) with seed 0,
writes the state dict, and prints the held-out accuracy and the file's SHA-256. After retraining the shipped
file, put the SHA-256 into `EVALUATOR_SHA256` in
src/vanilla_gan/evaluation/classifier.py. Deterministic for a given
machine and thread count: two runs write the same bytes (another thread count gives other bytes, same accuracy).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vanilla_gan.evaluation.classifier import EVALUATOR_SHA256, rebuild_evaluator

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "vanilla_gan" / "assets" / "evaluator.pt"
MIN_ACCURACY = 0.97


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default: {DEFAULT_OUT})")
    parser.add_argument("--mnist", action="store_true",
                        help="also train on MNIST's training digits (from the cache, else downloaded)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batch order (default: 0)")
    args = parser.parse_args()

    start = time.perf_counter()
    path, accuracy, sha = rebuild_evaluator(args.out, mnist=args.mnist, seed=args.seed)
    path.with_suffix(".sha256").unlink(missing_ok=True)  # the shipped file's hash lives in evaluate.py
    print(f"wrote {path} ({path.stat().st_size:,} bytes) in {time.perf_counter() - start:.0f} s")
    print(f"held-out accuracy {accuracy:.4f} on the embedded digits' every fifth image")
    print(f"sha256 {sha}" + ("  (same as EVALUATOR_SHA256)" if sha == EVALUATOR_SHA256 else
                              "  -> put it into EVALUATOR_SHA256 in src/vanilla_gan/evaluation/classifier.py"))
    if accuracy < MIN_ACCURACY:
        raise SystemExit(f"held-out accuracy {accuracy:.4f} is below {MIN_ACCURACY}: do not ship these weights")


if __name__ == "__main__":
    main()
