"""Write a folder of small colour pictures to train on: discs, squares and triangles of random colour, size and
place on a dark background, one subfolder per shape (the classes).

    python scripts/make_shapes.py shapes --count 3000 --size 32     # shapes/disc/0000.png, shapes/square/...
    vanilla-gan train --dataset shapes --epochs 20 --eval-every 0 --out runs/shapes

Deterministic: the same --seed gives the same pictures. Needs only Pillow and NumPy (the package's own
dependencies), no download.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("disc", "square", "triangle")


def draw(shape: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One picture: a `shape` of a bright random colour on a dark background, size x size RGB."""
    picture = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 40, 3)))
    colour = tuple(int(v) for v in rng.integers(90, 256, 3))
    radius = rng.uniform(0.2, 0.4) * size
    cx, cy = rng.uniform(radius, size - radius, 2)
    pen = ImageDraw.Draw(picture)
    if shape == "disc":
        pen.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    elif shape == "square":
        pen.rectangle((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    else:
        pen.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=colour)
    return picture


def make_shapes(folder: Path, count: int = 3000, size: int = 32, seed: int = 0) -> list[Path]:
    """Write `count` pictures into folder/<shape>/NNNN.png (shapes in turn); returns their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for shape in SHAPES:
        (folder / shape).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        shape = SHAPES[i % len(SHAPES)]
        path = folder / shape / f"{i:05d}.png"
        draw(shape, size, rng).save(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=3000, help="pictures (default: 3000)")
    parser.add_argument("--size", type=int, default=32, help="pixels per side (default: 32)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paths = make_shapes(args.folder, args.count, args.size, args.seed)
    print(f"wrote {len(paths)} pictures of {args.size}x{args.size} to {args.folder}")


if __name__ == "__main__":
    main()
