"""Runs side by side as one batched model (batched.py): a batched step equals each run's own step to float
tolerance, every run keeps its own seed's draws, and a batched run's folder is an ordinary run folder
(stopped, resumed side by side or alone).

Run: python -m pytest tests/test_batched.py
"""

import copy

import pytest
import torch

from vanilla_gan.batched import BatchedTrainer, training_rng
from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.errors import Interrupted, TrainingError, UsageError
from vanilla_gan.rundir import RunDir
from vanilla_gan.trainer import Trainer

MODEL = ModelConfig(latent_dim=16, g_hidden=(64, 96), d_hidden=(96, 32))
SEEDS = (3, 1, 4)


@pytest.fixture(scope="module")
def images():
    return load_dataset("digits")[0][:96]


def config(seed, **train):
    return TrainConfig(**{"seed": seed, "epochs": 2, "batch_size": 8, "device": "cpu", "eval_every": 0,
                          "log_every": 4, **train})


def side_by_side(images, tmp_path=None, model=MODEL, **train):
    trainers, rngs = [], []
    for seed in SEEDS:
        run = RunDir(tmp_path / f"seed_{seed}") if tmp_path is not None else None
        trainers.append(Trainer(copy.deepcopy(model), config(seed, **train), images, run, progress=False))
        rngs.append(training_rng(trainers[-1].device))
    return BatchedTrainer(trainers, rngs, progress=False)


def alone(images, seed, model=MODEL, **train):
    trainer = Trainer(copy.deepcopy(model), config(seed, **train), images, progress=False)
    trainer.train()
    return trainer


def state(trainer):
    """What must match: G, D, the moving average, both Adam states' moments."""
    tensors = {f"G.{k}": v for k, v in trainer.G.state_dict().items()}
    tensors |= {f"D.{k}": v for k, v in trainer.D.state_dict().items()}
    if trainer.G_ema is not None:
        tensors |= {f"ema.{k}": v for k, v in trainer.G_ema.state_dict().items()}
    for name in ("opt_g", "opt_d"):
        for i, s in trainer.__dict__[name].state_dict()["state"].items():
            tensors |= {f"{name}.{i}.{k}": v for k, v in s.items()}
    return {k: v.detach().clone().float() for k, v in tensors.items()}


def assert_close(a, b, atol=1e-5):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=1e-4, msg=key)


NO_DROPOUT = ModelConfig(latent_dim=16, g_hidden=(64, 96, 32), d_hidden=(96, 32), dropout=0.0)


@pytest.mark.parametrize(("model", "train"), [
    (MODEL, {}), (MODEL, {"g_loss": "minimax", "real_label": 0.9, "lr_cooldown": 0.5}),
    (MODEL, {"ema_decay": 0.0}), (MODEL, {"precision": "bf16"}), (NO_DROPOUT, {})],
    ids=["defaults", "options", "plain", "bf16", "no-dropout"])
def test_runs_side_by_side_equal_each_run_alone_to_float_tolerance(images, model, train):
    batched = side_by_side(images, model=model, **train)
    batched.train()  # 2 epochs x 12 steps
    for t, seed in zip(batched.trainers, SEEDS, strict=True):
        own = alone(images, seed, model=model, **train)
        assert_close(state(t), state(own))
        assert t.epoch == own.epoch == 2 and t.step == own.step == 24
        for ours, theirs in zip(t.metrics, own.metrics, strict=True):
            for key in ("loss_d", "loss_g", "d_real", "d_fake"):
                assert ours[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-5)
    # the runs are not copies of each other: each drew its own weights, noise and masks
    g = [state(t)["G.net.0.weight"] for t in batched.trainers]
    assert not torch.allclose(g[0], g[1]) and not torch.allclose(g[1], g[2])


def test_one_batched_step_equals_each_trainers_own_gan_step_on_the_same_inputs(images):
    """The step alone, from the same weights: the same real images, z and dropout masks (each Trainer's Dropout
    draws them from the global RNG set to its run's generator state) give the same statistics and updates."""
    batched = side_by_side(images)
    own = [Trainer(copy.deepcopy(MODEL), config(seed), images, progress=False)
           for seed in SEEDS]
    real = torch.rand(3, 8, 784) * 2 - 1
    before = [rng.get_state() for rng in batched.rngs]
    stats = batched.gan_step(real, *batched._draws(8))
    for k, t in enumerate(own):
        torch.set_rng_state(before[k])
        z = torch.randn(8, MODEL.latent_dim)  # then gan_step's Dropout draws the masks, in the same order
        torch.testing.assert_close(stats[k], t.gan_step(real[k], z), atol=1e-5, rtol=1e-4)
    batched.copy_to_trainers()
    for t, o in zip(batched.trainers, own, strict=True):
        assert_close(state(t), state(o))


def test_a_stopped_side_by_side_run_resumes_to_the_same_weights_and_alone_too(images, tmp_path):
    whole = side_by_side(images, tmp_path / "whole")
    whole.train()
    stopped = side_by_side(images, tmp_path / "stopped")
    steps = []

    def stop_after_5(real, original=stopped.train_step):
        steps.append(1)
        if len(steps) == 17:  # in epoch 2
            stopped.stop.requested = True
        return original(real)

    stopped.train_step = stop_after_5
    with pytest.raises(Interrupted, match="3 runs side by side saved"):
        stopped.train()
    trainers, rngs = [], []
    for seed in SEEDS:
        run = RunDir(tmp_path / "stopped" / f"seed_{seed}")
        assert run.load_checkpoint()["step"] == 17
        trainers.append(Trainer.resume(run.load_checkpoint(), images, run, progress=False))
        rngs.append(training_rng(trainers[-1].device))
    BatchedTrainer(trainers, rngs, progress=False).train()
    for ours, theirs in zip(trainers, whole.trainers, strict=True):  # same program, same arithmetic: exact
        assert_close(state(ours), state(theirs), atol=0)
        assert ours.run.read_metrics()[-1]["loss_d"] == theirs.run.read_metrics()[-1]["loss_d"]
    # a batched run's folder goes on alone with `train --resume` (here: the Trainer it uses)
    run = RunDir(tmp_path / "stopped" / f"seed_{SEEDS[0]}")
    more = Trainer.resume(run.load_checkpoint(), images, run, changes={"epochs": 3}, progress=False)
    more.train()
    assert run.load_checkpoint()["epoch"] == 3 and len(run.read_metrics()) == 3


def test_runs_that_differ_in_more_than_the_seed_are_refused(images):
    a = Trainer(copy.deepcopy(MODEL), config(1), images, progress=False)
    b = Trainer(copy.deepcopy(MODEL), config(2, batch_size=16), images, progress=False)
    with pytest.raises(UsageError, match="differ in the seed alone"):
        BatchedTrainer([a, b], [training_rng(a.device)] * 2)
    k2 = [Trainer(copy.deepcopy(MODEL), config(seed, d_steps=2), images, progress=False) for seed in (1, 2)]
    with pytest.raises(UsageError, match="only with --d-steps 1"):
        BatchedTrainer(k2, [training_rng(a.device)] * 2)


def test_a_non_finite_loss_in_one_run_names_it_and_stops_all(images, tmp_path):
    batched = side_by_side(images, tmp_path)
    with torch.no_grad():
        batched.d[0][1].fill_(float("nan"))  # run 1's first D weight
    with pytest.raises(TrainingError, match=f"seed_{SEEDS[1]}.*non-finite.*beside it stopped"):
        batched.train()
    assert batched.failed is batched.trainers[1]
