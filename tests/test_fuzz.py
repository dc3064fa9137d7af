"""Fuzzing (hypothesis): random mutations of valid IDX files and of a valid checkpoint. Only the package's own
error types may escape, and no mutated checkpoint loads into a model with the wrong shapes: whatever loads,
samples and resumes for a training step.

A few hundred examples by default; `python -m pytest -m slow tests/test_fuzz.py` runs thousands.
"""

from __future__ import annotations

import copy
import gzip
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.data.idx import read_idx, write_idx
from vanilla_gan.errors import DataError, VanillaGanError
from vanilla_gan.gan.sampling import sample_images
from vanilla_gan.runs import checkpoint
from vanilla_gan.training.trainer import Trainer

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck))
MODEL = ModelConfig(latent_dim=4, g_hidden=(8,), d_hidden=(8,))


# ----------------------------------------------------------------------------- IDX

def mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None, extra: bytes) -> bytes:
    raw = bytearray(data)
    for position, value in flips:
        if raw:
            raw[position % len(raw)] ^= value or 1
    if cut is not None:
        raw = raw[:cut % (len(raw) + 1)]
    return bytes(raw) + extra


def idx_mutations(settings_: settings):
    @settings_
    @given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), gz=st.booleans(),
           flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
           cut=st.none() | st.integers(0, 10**6), extra=st.binary(max_size=8))
    def check(tmp_path_factory, shape, gz, flips, cut, extra):
        array = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape)
        folder = tmp_path_factory.mktemp("idx")
        write_idx(folder / "good", array)
        data = (folder / "good").read_bytes()
        path = folder / "mutated"
        path.write_bytes(mutate(gzip.compress(data) if gz else data, flips, cut, extra))
        try:
            result = read_idx(path)
        except DataError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            return
        assert isinstance(result, np.ndarray) and result.size * result.itemsize <= len(data) * 8 + 64
    return check


def test_mutated_idx_files_give_data_errors_only(tmp_path_factory):
    idx_mutations(FAST)(tmp_path_factory)


@pytest.mark.slow
def test_mutated_idx_files_give_data_errors_only_thousands(tmp_path_factory):
    idx_mutations(SLOW)(tmp_path_factory)


# ----------------------------------------------------------------------------- checkpoints

@pytest.fixture(scope="module")
def images():
    return load_dataset("digits")[0][:64]


@pytest.fixture(scope="module")
def valid(images) -> tuple[dict, bytes]:
    """A tiny run's checkpoint after two steps of its second epoch (so mid-epoch state is there too)."""
    trainer = Trainer(MODEL, TrainConfig(seed=1, epochs=2, batch_size=16, device="cpu"), images, progress=False)
    trainer.train_epoch()
    trainer.batch_in_epoch = 0
    trainer.permutation = torch.randperm(64)
    trainer.epoch_stats = torch.zeros(4, 4)
    for b in range(2):
        trainer.epoch_stats[b] = trainer.train_step(trainer._batch(b))
        trainer.batch_in_epoch, trainer.step = b + 1, trainer.step + 1
    state = {"format": checkpoint.FORMAT, "format_version": checkpoint.FORMAT_VERSION, **trainer.state_dict()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return state, buffer.getvalue()


def loads_whole(path: Path, images: torch.Tensor) -> None:
    """Load as the package does; whatever loads must sample and resume for one step."""
    try:
        state = checkpoint.load(path)
        generator = checkpoint.load_generator(state)
        assert sample_images(generator, 3).shape == (3, 28, 28)
        trainer = Trainer.resume(state, images, progress=False)
        for name, tensor in state["generator"].items():
            assert trainer.G.state_dict()[name].shape == tensor.shape
        trainer.train_step(trainer._batch(trainer.batch_in_epoch) if trainer.permutation is not None
                           else images[:16].reshape(16, 784).float() / 127.5 - 1)
    except VanillaGanError as exc:
        assert "\n" not in str(exc)


def byte_mutations(settings_: settings):
    @settings_
    @given(flips=st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255)), max_size=6),
           cut=st.none() | st.integers(0, 10**7), extra=st.binary(max_size=16))
    def check(tmp_path_factory, valid, images, flips, cut, extra):
        path = tmp_path_factory.mktemp("ckpt") / "mutated.pt"
        path.write_bytes(mutate(valid[1], flips, cut, extra))
        loads_whole(path, images)
    return check


def paths(state: dict, prefix: tuple = ()) -> list[tuple]:
    """Every key path into the nested dicts and lists of a checkpoint."""
    found = []
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, list) else []
    for key, value in items:
        found.append((*prefix, key))
        found += paths(value, (*prefix, key))
    return found


REPLACEMENTS = st.sampled_from(["delete", "insert", "string", "none", "negative", "list", "float64", "half",
                                "int", "shape", "empty", "nan"])


def replace(value, how: str):
    if isinstance(value, torch.Tensor):
        change = {"float64": lambda v: v.double(), "half": lambda v: v.half(), "int": lambda v: v.long(),
                  "shape": lambda v: v.reshape(-1)[:3], "empty": lambda v: v.reshape(-1)[:0],
                  "nan": lambda v: torch.full_like(v.float(), float("nan"))}.get(how, lambda v: "x")
        return change(value)
    return {"string": "x", "none": None, "negative": -7, "list": [1, 2], "nan": float("nan")}.get(how, {"x": 1})


def structure_mutations(settings_: settings):
    @settings_
    @given(data=st.data(), how=REPLACEMENTS)
    def check(tmp_path_factory, valid, images, data, how):
        state = copy.deepcopy(valid[0])
        where = data.draw(st.sampled_from(paths(state)))
        parent = state
        for key in where[:-1]:
            parent = parent[key]
        if how == "delete":
            del parent[where[-1]]
        elif how == "insert" and isinstance(parent, dict):
            parent["inserted"] = torch.zeros(2)
        else:
            parent[where[-1]] = replace(parent[where[-1]], how)
        path = tmp_path_factory.mktemp("ckpt") / "mutated.pt"
        buffer = io.BytesIO()
        torch.save(state, buffer)
        path.write_bytes(buffer.getvalue())
        loads_whole(path, images)
    return check


def test_the_valid_checkpoint_loads_and_resumes(tmp_path, valid, images):
    (tmp_path / "valid.pt").write_bytes(valid[1])
    loads_whole(tmp_path / "valid.pt", images)
    assert checkpoint.load(tmp_path / "valid.pt")["batch_in_epoch"] == 2


@pytest.mark.parametrize("batch_size", [None, 32, 24])
def test_a_mid_epoch_position_that_its_batch_size_cannot_reach_is_damage(tmp_path, valid, images, batch_size):
    """Stopped at step 2 of 4 (batch 16, 64 images); with the batch size gone (the default, 32: 2 steps an
    epoch) or changed, that position is past the epoch's end or its statistics have the wrong length. Found
    by the slow fuzz campaign as a RuntimeError once the default batch became 32."""
    state = copy.deepcopy(valid[0])
    if batch_size is None:
        del state["train_config"]["batch_size"]
    else:
        state["train_config"]["batch_size"] = batch_size
    torch.save(state, tmp_path / "moved.pt")
    with pytest.raises(VanillaGanError, match="the file is damaged") as caught:
        Trainer.resume(checkpoint.load(tmp_path / "moved.pt"), images, progress=False)
    assert "\n" not in str(caught.value)


def test_mutated_checkpoint_bytes(tmp_path_factory, valid, images):
    byte_mutations(FAST)(tmp_path_factory, valid, images)


def test_mutated_checkpoint_structure(tmp_path_factory, valid, images):
    structure_mutations(FAST)(tmp_path_factory, valid, images)


# Two tests, not one: each takes minutes, and xdist runs them side by side.
@pytest.mark.slow
def test_mutated_checkpoint_bytes_thousands(tmp_path_factory, valid, images):
    byte_mutations(SLOW)(tmp_path_factory, valid, images)


@pytest.mark.slow
def test_mutated_checkpoint_structure_thousands(tmp_path_factory, valid, images):
    structure_mutations(SLOW)(tmp_path_factory, valid, images)
