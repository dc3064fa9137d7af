"""The loader of any data (data/sources.py) changes nothing for the digits: the same images, and a short run's
weights bit for bit those of a Trainer fed the digits the way the code before the loader fed them. (Checked
once by hand across the change as well: `train --limit 200 --epochs 1 --seed 3 --eval-every 0 --no-report`,
one thread, gave weights of the same SHA-256 with the code before and after it on an Intel Xeon; a pinned hash
is not a test here, since MKL's mode and the CPU change the last bits.)

Run: python -m pytest tests/test_digits_unchanged.py
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from helpers import run_weights

import vanilla_gan as vg
from vanilla_gan.data import DIGITS_SHA256, _load_digits, limit_images
from vanilla_gan.data.sources import load_images


def test_the_loader_gives_the_embedded_digits_unchanged():
    images, labels = _load_digits()  # the old path: the npz itself, checked against its SHA-256
    data = load_images("digits")
    assert data.images.dtype == torch.uint8 and np.array_equal(data.images.numpy(), images)
    assert np.array_equal(data.labels.numpy(), labels)
    assert hashlib.sha256(data.images.numpy().tobytes() + data.labels.numpy().tobytes()).hexdigest() == DIGITS_SHA256


def test_a_run_through_the_loader_equals_one_built_from_the_old_primitives(tmp_path):
    """In one process: `vg.train(dataset="digits")` (the loader, the API, a run folder) against a Trainer fed
    the embedded digits the way the old code fed it (npz -> tensor -> limit_images), no run folder."""
    options = {"limit": 200, "epochs": 1, "seed": 3, "eval_every": 0}
    old_images = limit_images(torch.from_numpy(_load_digits()[0]), options["limit"])
    old = vg.Trainer(vg.ModelConfig(), vg.TrainConfig(**options), old_images, progress=False)
    old.train()
    vg.train(out=tmp_path / "new", report=False, **options)
    new = run_weights(tmp_path / "new")
    for name, module in (("generator", old.G), ("generator_ema", old.G_ema), ("discriminator", old.D)):
        for key, tensor in module.state_dict().items():
            assert torch.equal(new[f"{name}.{key}"], tensor.cpu()), f"{name}.{key}"
