"""Checkpoints (checkpoint.py): saved atomically, loaded as data and validated, and the generator to sample
from (the moving average, the raw weights, or a user's own module). Run: python -m pytest tests/test_checkpoint.py
"""

import json

import pytest
import torch
from helpers import TINY, run_cli
from torch import nn

from vanilla_gan.config import ModelConfig, TrainConfig, to_dict
from vanilla_gan.errors import CheckpointError, UsageError
from vanilla_gan.gan.models import Discriminator, Generator
from vanilla_gan.runs import checkpoint
from vanilla_gan.runs.rundir import RunDir

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
    said = r"its own generator \(mine.FlatG\): pass --generator mine:FlatG .*generator=FlatG"
    with pytest.raises(UsageError, match=said):
        checkpoint.load_generator(state)
    fits = checkpoint.load_generator(state, generator=Generator(MODEL))
    assert isinstance(fits, Generator)
    with pytest.raises(CheckpointError, match="do not fit"):
        checkpoint.load_generator(state, generator=nn.Linear(8, 784))


def test_a_class_record_that_is_not_a_name_is_a_damaged_checkpoint(tmp_path):
    """Found by test_fuzz: modules.generator = None reached the own-generator message as None."""
    run = tmp_path / "run"
    assert run_cli("train", *TINY, "--epochs", 1, "--seed", 3, "--no-report", "--out", run).returncode == 0
    last = run / "checkpoints" / "last.pt"
    state = checkpoint.load(last)
    checkpoint.save(last, {**state, "modules": {"generator": None}})
    with pytest.raises(CheckpointError, match="modules entry is not a dict of class names"):
        checkpoint.load(last)


def test_a_run_holding_the_removed_adam_in_backward_option_samples_and_resumes(tmp_path):
    """Runs written before --adam-in-backward was removed hold train_config["adam_in_backward"] in config.json
    and in every checkpoint. The option changed no result, so such a run is read as if it were absent: it
    samples, resumes to more epochs, and its rewritten config.json no longer names it."""
    run = tmp_path / "old"
    assert run_cli("train", *TINY, "--epochs", 1, "--seed", 3, "--no-report", "--out", run).returncode == 0
    config = json.loads((run / "config.json").read_text())
    config["train"]["adam_in_backward"] = False  # as `--no-adam-in-backward` left it
    (run / "config.json").write_text(json.dumps(config))
    state = checkpoint.load(run / "checkpoints" / "last.pt")
    state["train_config"]["adam_in_backward"] = False
    checkpoint.save(run / "checkpoints" / "last.pt", state)
    assert checkpoint.load(run / "checkpoints" / "last.pt")["train_config"]["adam_in_backward"] is False

    sampled = run_cli("sample", run, "-n", 4, "-o", tmp_path / "digits.npy")
    assert sampled.returncode == 0, sampled.stderr
    resumed = run_cli("train", "--out", run, "--resume", "--epochs", 2, "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    assert RunDir(run).read_metrics()[-1]["epoch"] == 2
    assert "adam_in_backward" not in json.loads((run / "config.json").read_text())["train"]
    assert "adam_in_backward" not in checkpoint.load(run / "checkpoints" / "last.pt")["train_config"]
