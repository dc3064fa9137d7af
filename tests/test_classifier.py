"""The evaluator's network (classifier.py): the shipped weights and their SHA-256 check, a retrained copy,
its held-out accuracy, its shapes, and deterministic training. Run: python -m pytest tests/test_classifier.py
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import torch

import vanilla_gan
from vanilla_gan.errors import DataError
from vanilla_gan.evaluation import classifier as cl

SHIPPED = Path(vanilla_gan.__file__).parent / "assets" / "evaluator.pt"


def test_shipped_evaluator_passes_its_sha256(evaluator):
    path = SHIPPED
    assert hashlib.sha256(path.read_bytes()).hexdigest() == cl.EVALUATOR_SHA256 == evaluator.sha256
    assert path.stat().st_size < 1_000_000
    assert not evaluator.training


def test_damaged_evaluator_is_refused_and_a_retrained_copy_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("VANILLA_GAN_DATA", str(tmp_path))
    monkeypatch.setattr(cl, "EVALUATOR_SHA256", "0" * 64)  # the shipped file now fails its check
    with pytest.raises(DataError, match="--retrain-evaluator") as error:
        cl.load_evaluator()
    assert "\n" not in str(error.value)

    # A retrained copy in the cache is used only if it matches the SHA-256 written beside it.
    copy = cl.retrained_evaluator_path()
    copy.parent.mkdir(parents=True)
    shutil.copy(SHIPPED, copy)
    good_sha = hashlib.sha256(copy.read_bytes()).hexdigest()
    copy.with_suffix(".sha256").write_text(good_sha + "\n")
    assert cl.load_evaluator().sha256 == good_sha

    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the weights
    copy.write_bytes(bytes(data))
    with pytest.raises(DataError, match="SHA-256"):
        cl.load_evaluator()


def test_heldout_accuracy_is_at_least_97_percent(evaluator, digits):
    images, labels = digits
    mask = torch.from_numpy(cl.evaluator_heldout(len(images)))
    assert int(mask.sum()) == 2000 and torch.bincount(labels[mask].long()).min() >= 150  # every class held out
    _, logits = cl.extract(evaluator, images[mask])
    accuracy = (logits.argmax(1) == labels[mask].long()).float().mean().item()
    assert accuracy >= 0.97, accuracy


def test_features_and_logits_have_the_documented_shapes(evaluator, digits):
    images = digits[0][:5]
    assert evaluator.features(images).shape == (5, cl.FEATURE_DIM)
    assert evaluator(images).shape == (5, 10)
    torch.testing.assert_close(evaluator(images.float()), evaluator(images))  # pixels 0..255 in any dtype


def test_train_evaluator_is_deterministic_and_leaves_the_global_rng_alone(digits):
    images, labels = digits[0][::10], digits[1][::10]  # 1,000 digits, 1 epoch: a second or two
    before = torch.get_rng_state()
    first, accuracy = cl.train_evaluator(images, labels, seed=3, epochs=1)
    second, _ = cl.train_evaluator(images, labels, seed=3, epochs=1)
    assert torch.equal(torch.get_rng_state(), before)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert 0.15 < accuracy <= 1.0  # better than chance after one short epoch


