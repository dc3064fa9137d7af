"""Animations (Pillow only): the fixed-noise grid across epochs, and walks through the latent space.

    write_progress_gif(run.grids, RUN / "progress.gif")          # one frame per epoch (at most 80), labelled
    frames = latent_walk(G, walks=8, frames=12, seed=0)          # uint8 (frames, walks, 28, 28)
    write_walk(frames, "walk.gif", "walk.png")                   # the GIF (ping-pong) and the PNG strip

The walk goes from one random z to another along the great circle (spherical interpolation): Gaussian
z in many dimensions lie near a sphere, and a straight line between two of them passes through the
low-norm middle that G never saw in training, which fades the digits halfway.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vanilla_gan.report import grid, to_uint8

MAX_PROGRESS_FRAMES = 60


def _label(picture: Image.Image, text: str) -> Image.Image:
    """`picture` (grayscale) with a dark caption bar above it."""
    bar = 16
    canvas = Image.new("L", (picture.width, picture.height + bar), 24)
    canvas.paste(picture, (0, bar))
    ImageDraw.Draw(canvas).text((4, 2), text, fill=235)
    return canvas


def _save_gif(frames: list[Image.Image], path: Path, durations: list[int]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)
    tmp.replace(path)
    return path


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
            half = picture.convert("L").resize((picture.width // 2, picture.height // 2), Image.NEAREST)
            frames.append(_label(half, f"epoch {epoch}"))
    durations = [120] * len(frames)
    durations[-1] = 2000  # hold the final grid
    return _save_gif(frames, path, durations)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of z0 and z1 (W, Z) at fractions t (T,) -> (T, W, Z)."""
    unit0, unit1 = z0 / z0.norm(dim=1, keepdim=True), z1 / z1.norm(dim=1, keepdim=True)
    omega = torch.acos((unit0 * unit1).sum(1).clamp(-1, 1))  # (W,) angle between them
    sin = torch.sin(omega)
    t = t[:, None, None]  # (T, 1, 1)
    # Nearly parallel vectors: the straight line is the same path, and avoids dividing by ~0.
    straight = (1 - t) * z0 + t * z1
    curved = (torch.sin((1 - t) * omega[:, None]) * z0 + torch.sin(t * omega[:, None]) * z1) / sin[:, None]
    return torch.where((sin.abs() < 1e-6)[None, :, None], straight, curved)


@torch.no_grad()
def latent_walk(generator: torch.nn.Module, walks: int = 8, frames: int = 12, seed: int = 0,
                device: str | torch.device = "cpu") -> np.ndarray:
    """`walks` walks of `frames` images each between random z: uint8 (frames, walks, 28, 28)."""
    noise_rng = torch.Generator().manual_seed(seed)
    latent_dim = generator.config.latent_dim
    z0 = torch.randn(walks, latent_dim, generator=noise_rng)
    z1 = torch.randn(walks, latent_dim, generator=noise_rng)
    z = slerp(z0, z1, torch.linspace(0, 1, frames))  # (T, W, Z)
    generator.to(device).eval()
    images = to_uint8(generator(z.reshape(-1, latent_dim).to(device)))  # (T * W, 28, 28)
    return images.reshape(frames, walks, 28, 28)


def write_walk(frames: np.ndarray, gif_path: Path, png_path: Path, scale: int = 2) -> tuple[Path, Path]:
    """The walk as a GIF (all walks side by side, there and back) and a PNG strip (a row per walk)."""
    steps, walks = frames.shape[:2]
    strip = grid_rows(frames.transpose(1, 0, 2, 3), scale=scale)  # rows = walks, columns = steps
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = png_path.with_name(png_path.name + ".tmp")
    strip.save(tmp, format="PNG")
    tmp.replace(png_path)
    pictures = [grid_rows(frame[None], scale=scale) for frame in frames]  # each: one row of `walks` digits
    order = list(range(steps)) + list(range(steps - 2, 0, -1))  # ping-pong, so the loop has no jump
    durations = [100] * len(order)
    durations[0] = durations[steps - 1] = 600  # pause at both ends
    return _save_gif([pictures[i] for i in order], gif_path, durations), png_path


def grid_rows(images: np.ndarray, scale: int = 3) -> Image.Image:
    """uint8 (rows, cols, 28, 28) as one picture with exactly that many rows and columns."""
    rows, cols = images.shape[:2]
    picture = grid(np.ascontiguousarray(images.reshape(rows * cols, 28, 28)), scale=1, cols=cols)
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
