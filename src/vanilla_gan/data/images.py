"""Images as this package shows them: uint8 (N, H, W) grey or (N, H, W, 3) colour (the digits: (N, 28, 28),
0 = background, 255 = ink), and their grids.

    pixels = to_uint8(G(z))                   # G's (N, 28, 28) or (N, 784) floats in (-1, 1) -> uint8 (N, 28, 28)
    pixels = to_uint8(G(z), (32, 32, 3))      # a flat output made (N, 32, 32, 3)
    picture = grid(pixels, scale=2)           # a PIL image, grey or RGB (shows itself in Jupyter)
    save_grid(pixels, "grid.png")             # the grid PNG every epoch writes, atomically
    digits = split_grid("grid.png", n=64)     # and back: uint8 (64, 28, 28) (shape=(32, 32, 3) for colour)

Grids use Pillow only (no torchvision): rows of ceil(sqrt(N)) images, GRID_PAD dark pixels between them.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vanilla_gan.errors import UsageError
from vanilla_gan.fileio import atomic_write

SIDE = 28
GRID_PAD = 2  # dark pixels between and around the digits of a grid
GRID_BACKGROUND = 40
GRID_SCALE = 2  # screen pixels per digit pixel in saved grids


def to_uint8(images: torch.Tensor, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Generator output in (-1, 1) -> uint8 (N, *shape), 0 = background. `shape` defaults to the output's own
    (N, H, W[, 3]) one, or to the digits' (28, 28) for a flat (N, 784) output."""
    images = images.detach().float().cpu()
    if not bool(torch.isfinite(images).all()):
        raise UsageError("the generator's output holds NaN or infinite values (its weights diverged?): it cannot be "
                         "drawn; use an earlier checkpoint")
    if shape is None:
        shape = tuple(images.shape[1:]) if images.ndim > 2 else (SIDE, SIDE)
    if len(images) and images[0].numel() != math.prod(shape):
        raise UsageError(f"the generator gives {tuple(images.shape[1:])} per image, {images[0].numel():,} values; "
                         f"the run's images are {'x'.join(map(str, shape))} ({math.prod(shape):,} values)")
    pixels = ((images + 1) * 127.5).round().clamp(0, 255)
    return pixels.to(torch.uint8).reshape(-1, *shape).numpy()


def grid(images: np.ndarray, pad: int = GRID_PAD, scale: int = 1, cols: int | None = None) -> Image.Image:
    """Tile uint8 images (N, H, W) or (N, H, W, 3) into rows of `cols` (default ceil(sqrt(N))), `pad` dark pixels
    between them: a grey or an RGB picture."""
    n, h, w = images.shape[:3]
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, *images.shape[3:]), GRID_BACKGROUND,
                     dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top:top + h, left:left + w] = image
    picture = Image.fromarray(canvas)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return picture


def grid_rows(images: np.ndarray, scale: int = 3) -> Image.Image:
    """uint8 (rows, cols, H, W[, 3]) as one picture with exactly that many rows and columns."""
    rows, cols = images.shape[:2]
    return grid(np.ascontiguousarray(images.reshape(rows * cols, *images.shape[2:])), scale=scale, cols=cols)


def side_by_side(pictures: list[Image.Image], gap: int = 12) -> Image.Image:
    """Pictures of one height in a row, `gap` white pixels apart (RGB when one of them is)."""
    mode = "RGB" if any(p.mode != "L" for p in pictures) else "L"
    canvas = Image.new(mode, (sum(p.width for p in pictures) + gap * (len(pictures) - 1),
                             max(p.height for p in pictures)), 255 if mode == "L" else (255, 255, 255))
    left = 0
    for picture in pictures:
        canvas.paste(picture.convert(mode), (left, 0))
        left += picture.width + gap
    return canvas


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def save_grid(images: np.ndarray, path: Path, scale: int = GRID_SCALE) -> Path:
    """Write `images` (N, H, W[, 3]) uint8 as one grid PNG, atomically."""
    return atomic_write(path, png_bytes(grid(images, scale=scale)))


def split_grid(path: Path, n: int, scale: int = GRID_SCALE, shape: tuple[int, ...] = (SIDE, SIDE)) -> np.ndarray:
    """The `n` images (uint8 (n, *shape)) of a grid PNG written by `save_grid`; ValueError for another picture."""
    h, w = shape[:2]
    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("RGB" if len(shape) == 3 else "L"))[::scale, ::scale]
    cols = math.ceil(math.sqrt(n))
    expected = (math.ceil(n / cols) * (h + GRID_PAD) + GRID_PAD, cols * (w + GRID_PAD) + GRID_PAD)
    if pixels.shape[:2] != expected:
        raise ValueError(f"{path} is not a grid of {n} images ({pixels.shape[:2]} pixels, expected {expected})")
    tiles = []
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = GRID_PAD + r * (h + GRID_PAD), GRID_PAD + c * (w + GRID_PAD)
        tiles.append(pixels[top:top + h, left:left + w])
    return np.stack(tiles)
