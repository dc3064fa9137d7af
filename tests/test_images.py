"""Images and grids (images.py): the uint8 conversion, grid sizes, and a grid read back.
Run: python -m pytest tests/test_images.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from helpers import WAIT
from PIL import Image

from vanilla_gan.data.images import grid, grid_rows, save_grid, split_grid, to_uint8


def test_to_uint8_maps_minus_one_to_background_and_one_to_ink():
    images = to_uint8(torch.tensor([-1.0, 0.0, 1.0, 2.0] * 196).reshape(1, 784))
    assert images.shape == (1, 28, 28) and images.dtype == np.uint8
    assert images.reshape(-1)[:4].tolist() == [0, 128, 255, 255]  # 127.5 rounds to even; beyond 1 clamps


def test_grid_sizes():
    images = np.zeros((25, 28, 28), np.uint8)
    assert grid(images).size == (5 * 30 + 2, 5 * 30 + 2)
    assert grid(images, scale=2, cols=25).size == ((25 * 30 + 2) * 2, 32 * 2)
    assert grid_rows(np.zeros((3, 4, 28, 28), np.uint8), scale=1).size == (4 * 30 + 2, 3 * 30 + 2)


def test_split_grid_undoes_save_grid(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    save_grid(images, tmp_path / "g.png")
    np.testing.assert_array_equal(split_grid(tmp_path / "g.png", 64), images)



def test_saved_grids_are_written_whole(tmp_path):
    path = save_grid(np.full((4, 28, 28), 255, np.uint8), tmp_path / "g.png")
    assert Image.open(path).mode == "L" and [p.name for p in path.parent.iterdir()] == ["g.png"]


def test_results_grid_script_draws_one_panel_per_checkpoint_beside_the_real_digits(tiny_run, tmp_path):
    script = Path(__file__).resolve().parent.parent / "scripts" / "results_grid.py"
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    for output, runs in ((one, [tiny_run]), (two, [tiny_run / "checkpoints" / "last.pt", tiny_run])):
        result = subprocess.run([sys.executable, str(script), *map(str, runs), "-o", str(output)],
                                capture_output=True, text=True, timeout=WAIT)
        assert result.returncode == 0, result.stderr
    width_one, height = Image.open(one).size
    panel = (width_one - 16) // 2  # generated + gap + real
    assert Image.open(two).size == (3 * panel + 2 * 16, height)
    # both generated panels come from the same checkpoint and noise seed: the same pixels
    pixels = np.asarray(Image.open(two))
    assert np.array_equal(pixels[:, :panel], pixels[:, panel + 16:2 * panel + 16])
    assert not np.array_equal(pixels[22:, :panel], pixels[22:, 2 * panel + 32:])  # real digits differ
