"""Animations (Pillow only): the fixed-noise grid across epochs, and walks through the latent space.

    write_progress_gif(record.grids, run.progress_gif)          # one frame per epoch (at most 60), labelled
    write_walk(latent_walk(G), "walk.gif", "walk.png")          # the GIF (ping-pong) and the PNG strip

The walks themselves are drawn by `sampling.latent_walk` (spherical interpolation between random z).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vanilla_gan.data.images import grid_rows, png_bytes
from vanilla_gan.fileio import atomic_write

MAX_PROGRESS_FRAMES = 60


def _label(picture: Image.Image, text: str) -> Image.Image:
    """`picture` (grey or RGB) with a dark caption bar above it."""
    bar, grey = 16, picture.mode == "L"
    canvas = Image.new(picture.mode, (picture.width, picture.height + bar), 24 if grey else (24, 24, 24))
    canvas.paste(picture, (0, bar))
    ImageDraw.Draw(canvas).text((4, 2), text, fill=235 if grey else (235, 235, 235))
    return canvas


def _save_gif(frames: list[Image.Image], path: Path, durations: list[int]) -> Path:
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)
    return atomic_write(path, buffer.getvalue())


def write_progress_gif(grids: list[tuple[int, Path]], path: Path, max_frames: int = MAX_PROGRESS_FRAMES) -> Path | None:
    """progress.gif: the epoch grids (epoch, png) in order, evenly thinned to `max_frames`, the last held.

    Frames are the grids at half their PNG size (one screen pixel per digit pixel), to keep the file small.
    """
    if not grids:
        return None
    picks = np.unique(np.linspace(0, len(grids) - 1, min(len(grids), max_frames)).round().astype(int))
    frames = []
    for i in picks:
        epoch, png = grids[i]
        with Image.open(png) as picture:
            mode = "L" if picture.mode in ("L", "1") else "RGB"
            half = picture.convert(mode).resize((picture.width // 2, picture.height // 2), Image.NEAREST)
            frames.append(_label(half, f"epoch {epoch}"))
    durations = [120] * len(frames)
    durations[-1] = 2000  # hold the final grid
    return _save_gif(frames, path, durations)


def write_walk(frames: np.ndarray, gif_path: Path, png_path: Path, scale: int = 2) -> tuple[Path, Path]:
    """The walk as a GIF (all walks side by side, there and back) and a PNG strip (a row per walk)."""
    steps, walks = frames.shape[:2]
    strip = grid_rows(frames.swapaxes(0, 1), scale=scale)  # rows = walks, columns = steps
    png_path = atomic_write(png_path, png_bytes(strip))
    pictures = [grid_rows(frame[None], scale=scale) for frame in frames]  # each: one row of `walks` digits
    order = list(range(steps)) + list(range(steps - 2, 0, -1))  # ping-pong, so the loop has no jump
    durations = [100] * len(order)
    durations[0] = durations[steps - 1] = 600  # pause at both ends
    return _save_gif([pictures[i] for i in order], gif_path, durations), png_path
