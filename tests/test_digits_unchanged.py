"""The loader of any data (data/sources.py) changes nothing for the digits: the same images, and a short run's
weights bit for bit the same as before it.

Run: python -m pytest tests/test_digits_unchanged.py
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import torch
from helpers import Drift, once_more_on_drift, run_cli, run_weights

import vanilla_gan as vg
from vanilla_gan.data import DIGITS_SHA256, _load_digits, limit_images
from vanilla_gan.data.sources import load_images

# `vanilla-gan train --limit 200 --epochs 1 --seed 3 --eval-every 0 --no-report` with main's code before the loader
# (commit 4e86933), OMP_NUM_THREADS=1, torch 2.13.0+cpu on an "Intel(R) Xeon(R) Processor" with AVX512: the
# SHA-256 of its final weights (`weights_sha256` below). Other CPUs may round differently, so it is compared
# only on such a machine.
REFERENCE = {"sha256": "729a5f0be36c1e984c55e4ea14908ae8152330af0efd46e1db016c405345daa1",
             "torch": "2.13.0+cpu", "cpu_capability": "AVX512"}
PINNED_RUN = ["--limit", "200", "--epochs", "1", "--seed", "3", "--eval-every", "0", "--no-report"]


def weights_sha256(weights: dict[str, torch.Tensor]) -> str:
    """SHA-256 of G's, its moving average's and D's weights, name then bytes, in the checkpoint's order."""
    digest = hashlib.sha256()
    for key, tensor in weights.items():
        digest.update(key.partition(".")[2].encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


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


@pytest.mark.skipif(torch.__version__ != REFERENCE["torch"]
                    or torch.backends.cpu.get_cpu_capability() != REFERENCE["cpu_capability"]
                    or os.environ.get("OMP_NUM_THREADS") != "1",
                    reason="the reference weights were computed with torch 2.13.0+cpu, AVX512, one thread")
@once_more_on_drift
def test_a_digits_run_has_the_weights_it_had_before_the_loader(tmp_path):
    result = run_cli("train", *PINNED_RUN, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    sha = weights_sha256(run_weights(tmp_path / "run"))
    if sha != REFERENCE["sha256"]:
        raise Drift(f"the pinned digits run's weights have SHA-256 {sha}, not {REFERENCE['sha256']}")
