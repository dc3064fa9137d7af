"""Images in memory as this package trains on them: uint8 (N, H, W) grey or (N, H, W, 3) colour, 0..255.

    images, notes = as_images(array)                 # numpy array or torch tensor -> uint8 tensor, or DataError
    images = resize(images, 32)                      # every image to 32x32 (Pillow, Lanczos)
    check_memory(60_000 * 32 * 32 * 3, "the folder") # DataError when the images would not fit in memory

What an array may hold (anything else is one DataError line that names it and never prints its values):
- uint8 values 0..255 (MNIST's convention for the digits: 0 = background, 255 = ink; photos as they are);
- floats in [0, 1] (torchvision's ToTensor convention), scaled by 255 and rounded; NaN, infinities or values
  outside [0, 1] are refused, with the range found;
- shape (N, H, W) grey, or (N, H, W, C) with C = 1 (taken as grey) or 3 (RGB), channels last as Pillow and
  numpy keep them. (N, C, H, W) with C in (1, 3) is refused with the permute that fixes it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from vanilla_gan.config import MAX_PIXELS, MAX_SIDE
from vanilla_gan.errors import DataError

MEMORY_FRACTION = 0.5  # the data may take at most this share of the memory available when it is loaded


GREY_MODES = ("L", "1", "I", "I;16", "I;16L", "I;16B", "I;16N", "F", "LA", "La")  # Pillow's one-channel modes
ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def picture_pixels(picture: Image.Image, colour: bool, where: str) -> np.ndarray:
    """The one place a Pillow picture of any mode becomes uint8 pixels (H, W) grey or (H, W, 3) colour, keeping
    what it holds: 8-bit modes as they are; 16-bit integers scaled by their range (65535 -> 255); 32-bit
    integers and floats taken as 0..255 when they fit, floats in [0, 1] scaled by 255, anything else refused
    naming the picture; transparency composited over black (a fully transparent picture is black)."""
    mode = picture.mode
    if mode.startswith("I") or mode == "F":
        values = np.asarray(picture, dtype=np.float64)
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if not np.isfinite(values).all() or low < 0 or high > (65535 if mode != "F" else 255):
            raise DataError(f"{where}: a {mode} picture with values {low:g}..{high:g}; vanilla-gan reads 8-bit, "
                            f"16-bit (0..65535) and float (0..1 or 0..255) pictures: convert it to 8-bit PNG")
        if mode.startswith("I;16") or (mode == "I" and high > 255):
            values = values / 257
        elif mode == "F" and high <= 1:
            values = values * 255
        grey = np.rint(values).astype(np.uint8)
        return np.repeat(grey[..., None], 3, 2) if colour else grey
    if mode in ALPHA_MODES or (mode == "P" and "transparency" in picture.info):
        rgba = np.asarray(picture.convert("RGBA"), dtype=np.float64)
        pixels = np.rint(rgba[..., :3] * rgba[..., 3:] / 255).astype(np.uint8)  # over black
        return pixels if colour else np.asarray(Image.fromarray(pixels).convert("L"))
    return np.asarray(picture.convert("RGB" if colour else "L"))


def shape_words(shape: Sequence[int]) -> str:
    """(32, 32, 3) -> '32x32 colour'; (28, 28) -> '28x28 grey'."""
    return f"{shape[0]}x{shape[1]} " + ("colour" if len(shape) == 3 else "grey")


def check_image_shape(shape: Sequence[int], where: str) -> tuple[int, ...]:
    """(H, W) or (H, W, 3) within MAX_SIDE and MAX_PIXELS, else a DataError naming `where`."""
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] != 3):
        raise DataError(f"{where}: images must be (H, W) grey or (H, W, 3) colour, got {shape}")
    if not all(1 <= side <= MAX_SIDE for side in shape[:2]) or int(np.prod(shape)) > MAX_PIXELS:
        raise DataError(f"{where}: images of {shape_words(shape)} are too large for this MLP (at most "
                        f"{MAX_PIXELS:,} values per image, e.g. 256x256 colour): pass --image-size to shrink them")
    return shape


def as_images(data: np.ndarray | torch.Tensor, where: str = "the array") -> tuple[torch.Tensor, list[str]]:
    """An array or tensor of images -> a uint8 CPU tensor (N, H, W) or (N, H, W, 3), and notes on what was
    assumed; a DataError (one line, no values) for anything that is neither uint8 nor floats in [0, 1]."""
    x = data.detach().cpu() if isinstance(data, torch.Tensor) else torch.from_numpy(_numeric(data, where))
    notes: list[str] = []
    shape = tuple(x.shape)
    if x.ndim == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3):
        raise DataError(f"{where}: shape {shape} looks channels-first (N, C, H, W); give (N, H, W, C): "
                        f"array.transpose(0, 2, 3, 1) or tensor.permute(0, 2, 3, 1)")
    if x.ndim not in (3, 4):
        raise DataError(f"{where}: expected images (N, H, W) or (N, H, W, C), got {x.ndim} dimensions {shape}")
    if x.ndim == 4 and shape[3] == 1:
        x = x[..., 0]
    if len(x) == 0:
        raise DataError(f"{where}: holds no images (shape {shape})")
    check_image_shape(x.shape[1:], where)
    if x.dtype == torch.uint8:
        return x.contiguous(), notes
    if not x.dtype.is_floating_point:
        raise DataError(f"{where}: images are {x.dtype}; give uint8 (0..255) or floats in [0, 1] "
                        f"(array.astype(np.uint8) for integers 0..255; wider ranges scaled first, e.g. a 16-bit "
                        f"array // 257)")
    chunks = x.split(max(1, 2**22 // max(1, x[0].numel())))  # ~4M values at a time: the peak stays near the input's
    bad = sum(int((~torch.isfinite(chunk)).sum()) for chunk in chunks)
    if bad:
        raise DataError(f"{where}: {bad:,} values are NaN or infinite; give finite floats in [0, 1]")
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        hint = " (looks like 0..255: convert to uint8)" if high > 1 and low >= 0 else (
            " (looks like [-1, 1]: give (x + 1) / 2)" if low >= -1 and high <= 1 else "")
        raise DataError(f"{where}: float images must be in [0, 1], found {low:g}..{high:g}{hint}")
    notes.append(f"{where}: float images taken as [0, 1] (0 = black), scaled to 0..255")
    return torch.cat([chunk.double().mul(255).round().to(torch.uint8) for chunk in chunks]), notes


def _numeric(array: object, where: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind not in "uifb":
        raise DataError(f"{where}: holds {array.dtype} values, not numbers; give uint8 or floats in [0, 1]")
    if array.dtype.kind == "b":
        raise DataError(f"{where}: holds booleans; give uint8 (0..255) or floats in [0, 1]")
    if not array.dtype.isnative:  # big-endian data from another machine: the same numbers in this one's order
        array = array.astype(array.dtype.newbyteorder("="))
    return np.ascontiguousarray(array)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 images (N, H, W[, 3]) resized to size x size with Pillow's Lanczos filter (unchanged if already)."""
    if tuple(images.shape[1:3]) == (size, size):
        return images
    return torch.from_numpy(np.stack([resize_one(image, size) for image in images.numpy()]))


def resize_one(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.LANCZOS))


def available_memory() -> int:
    """Bytes of memory available now: $VANILLA_GAN_MAX_DATA_BYTES / MEMORY_FRACTION when set (a cap, and what
    the tests use), else /proc/meminfo's MemAvailable, else the physical memory."""
    cap = os.environ.get("VANILLA_GAN_MAX_DATA_BYTES")
    if cap:
        try:
            return int(int(cap) / MEMORY_FRACTION)
        except ValueError:
            raise DataError(f"VANILLA_GAN_MAX_DATA_BYTES must be a number of bytes, got {cap[:40]!r}") from None
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 1 << 62


def check_memory(needed: int, where: str) -> None:
    """A DataError saying how much memory `needed` bytes of images would take, when more than MEMORY_FRACTION of
    what is available."""
    allowed = int(available_memory() * MEMORY_FRACTION)
    if needed > allowed:
        raise DataError(f"{where}: the images would need {_size(needed)} of memory as uint8 and at most "
                        f"{_size(allowed)} may be used; pass --limit or --image-size, or use fewer images")


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
