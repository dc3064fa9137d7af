"""Pictures of a run: image grids (Pillow only, no torchvision).

    save_grid(images_uint8, "grid.png")      # (N, 28, 28) uint8 -> a square-ish grid PNG
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator output in (-1, 1), (N, 784) or (N, 28, 28) -> uint8 (N, 28, 28), 0 = background."""
    pixels = ((images.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255)
    return pixels.to(torch.uint8).reshape(-1, 28, 28).numpy()


def grid(images: np.ndarray, pad: int = 2, scale: int = 1) -> Image.Image:
    """Tile uint8 images (N, H, W) into rows of ceil(sqrt(N)), with `pad` dark pixels between them."""
    n, h, w = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 40, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top:top + h, left:left + w] = image
    picture = Image.fromarray(canvas)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return picture


def save_grid(images: np.ndarray, path: Path, scale: int = 2) -> None:
    """Write `images` (N, 28, 28) uint8 as one grid PNG, written to a temp name then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    grid(images, scale=scale).save(tmp, format="PNG")
    tmp.replace(path)
