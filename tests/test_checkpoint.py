"""Checkpoints (checkpoint.py): saved atomically, loaded as data and validated, and the generator to sample
from (the moving average, the raw weights, or a user's own module). Run: python -m pytest tests/test_checkpoint.py
"""

import pytest
import torch
from torch import nn

from vanilla_gan import checkpoint
from vanilla_gan.config import ModelConfig, TrainConfig, to_dict
from vanilla_gan.errors import CheckpointError, UsageError
from vanilla_gan.models import Discriminator, Generator

MODEL = ModelConfig(latent_dim=8, g_hidden=(16,), d_hidden=(16,))


def a_state(**extra):
    torch.manual_seed(0)
    raw, ema = Generator(MODEL), Generator(MODEL)
    return {"model_config": to_dict(MODEL), "train_config": to_dict(TrainConfig(seed=1)), "generator": raw.state_dict(),
            "generator_ema": ema.state_dict(), "discriminator": Discriminator(MODEL).state_dict(), "epoch": 1,
            "step": 2, **extra}


def test_save_then_load_gives_the_state_back(tmp_path):
    checkpoint.save(tmp_path / "last.pt", a_state())
    state = checkpoint.load(tmp_path / "last.pt")
    assert state["format"] == checkpoint.FORMAT and state["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_the_moving_average_is_sampled_unless_raw():
    state = a_state()
    z = torch.randn(2, 8)
    with torch.no_grad():
        ema, raw = checkpoint.load_generator(state)(z), checkpoint.load_generator(state, raw=True)(z)
    assert ema.shape == (2, 28, 28) and not torch.equal(ema, raw)


@pytest.mark.parametrize(("change", "message"), [
    ({"format_version": 99}, "format 99"), ({"format": "other"}, "not a vanilla-gan checkpoint"),
])
def test_foreign_or_future_checkpoints_are_refused(tmp_path, change, message):
    torch.save({**a_state(), "format": checkpoint.FORMAT, "format_version": 1, **change}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(tmp_path / "x.pt")


def test_a_users_own_generator_needs_its_module(tmp_path):
    state = a_state(modules={"generator": "mine.FlatG"})
    with pytest.raises(UsageError, match=r"its own generator \(mine.FlatG\).*generator=YourGenerator"):
        checkpoint.load_generator(state)
    fits = checkpoint.load_generator(state, generator=Generator(MODEL))
    assert isinstance(fits, Generator)
    with pytest.raises(CheckpointError, match="do not fit"):
        checkpoint.load_generator(state, generator=nn.Linear(8, 784))
