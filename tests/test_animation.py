"""Animations (report/animation.py): progress.gif from the epoch grids, and latent walks as GIF and strip.
Run: python -m pytest tests/test_animation.py
"""

from __future__ import annotations

import numpy as np
from helpers import assert_one_line_error, run_main
from PIL import Image

from vanilla_gan.data.images import save_grid
from vanilla_gan.report.animation import write_progress_gif


def test_progress_gif_has_a_frame_per_epoch_thinned_to_the_limit(tmp_path):
    grids = []
    for epoch in range(1, 8):
        path = save_grid(np.full((4, 28, 28), epoch * 30, np.uint8), tmp_path / f"epoch_{epoch:04d}.png")
        grids.append((epoch, path))
    with Image.open(write_progress_gif(grids, tmp_path / "all.gif")) as gif:
        assert gif.n_frames == 7
    with Image.open(write_progress_gif(grids, tmp_path / "thin.gif", max_frames=3)) as gif:
        assert gif.n_frames == 3
    assert write_progress_gif([], tmp_path / "none.gif") is None


def test_sample_interpolate_writes_gif_and_strip(tiny_run, tmp_path):
    result = run_main("sample", tiny_run, "--interpolate", "-n", 3, "--frames", 5, "-o", tmp_path / "walk.gif")
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 5 + 3  # there and back: 5 frames out, the 3 inner ones back
    with Image.open(tmp_path / "walk.png") as strip:
        assert strip.size == ((5 * 30 + 2) * 2, (3 * 30 + 2) * 2)  # a row per walk, a column per frame
    bad = run_main("sample", tiny_run, "--interpolate", "-o", tmp_path / "walk.npy")
    assert ".gif or .png" in assert_one_line_error(bad)


