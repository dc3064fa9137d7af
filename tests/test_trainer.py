"""The Trainer: its step is the original GAN's algorithm, seeds repeat, resume is bit-exact (and enforces what
may change), NaN stops cleanly, no run folder means no files, and users' own networks train.

Run: python -m pytest tests/test_trainer.py
"""

import copy
import dataclasses
import json
from types import SimpleNamespace

import pytest
import torch
from helpers import SMALL_MODEL, assert_same_run, make_trainer, weights
from torch import nn

from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.errors import Interrupted, TrainingError, UsageError
from vanilla_gan.evaluation.evaluator import Evaluator
from vanilla_gan.gan import algorithm
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.training import trainer as trainer_module
from vanilla_gan.training.optim import planned_epochs
from vanilla_gan.training.trainer import Trainer


def last_checkpoint(folder):
    return RunDir(folder).load_checkpoint()


def losses(metrics: list[dict]) -> list[tuple]:
    """The metrics that must repeat exactly (timings do not)."""
    return [(m["epoch"], m["step"], m["loss_d"], m["loss_g"], m["d_real"], m["d_fake"]) for m in metrics]


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ----------------------------------------------------------------------------- the algorithm

def reference_step(G, D, opt_g, opt_d, real, z, g_loss):
    """The original GAN's step written plainly: Sigmoid + BCELoss, D then G, G's loss back-propagated through D."""
    bce = nn.BCELoss()
    ones, zeros = torch.ones(len(real), 1), torch.zeros(len(real), 1)
    d = lambda x: torch.sigmoid(D.net(x.reshape(len(x), 784)))  # noqa: E731 - D: hidden layers, Linear, Sigmoid
    fake = G(z)
    opt_d.zero_grad()
    loss_d = bce(d(real), ones) + bce(d(fake.detach()), zeros)
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = bce(d(fake), ones) if g_loss == "non-saturating" else -bce(d(fake), zeros)
    loss_g.backward()
    opt_g.step()  # only G's optimizer steps: D's gradients from this pass are never used


@pytest.mark.parametrize("g_loss", ["non-saturating", "minimax"])
def test_fast_step_matches_a_plain_reference(tmp_path, images, g_loss):
    """Same seed, same batches, dropout 0 (masks are drawn differently): same weights after 5 steps."""
    model = ModelConfig(latent_dim=16, g_hidden=(64, 64), d_hidden=(64, 32), dropout=0.0)
    trainer = make_trainer(tmp_path, images, model=model, g_loss=g_loss)
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for step in range(5):
        real = images[step * 64:(step + 1) * 64].reshape(64, 784).float() / 127.5 - 1
        torch.manual_seed(100 + step)
        trainer.train_step(real)
        torch.manual_seed(100 + step)
        reference_step(G, D, opt_g, opt_d, real, torch.randn(64, 16), g_loss)
    for ours, theirs in ((trainer.G, G), (trainer.D, D)):
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)
    # And the weights really moved, so the comparison is not vacuous.
    fresh = make_trainer(tmp_path, images, "fresh", model=model)
    assert not torch.equal(trainer.G.net[0].weight, fresh.G.net[0].weight)


def test_k_discriminator_steps_match_algorithm_1(tmp_path, images):
    """--d-steps 2: each step updates D twice, each time on its own real batch and fresh z, then G once (on the
    last D update's G(z)), as Goodfellow et al.'s Algorithm 1 with k = 2; an epoch is half as many steps."""
    model = ModelConfig(latent_dim=16, g_hidden=(64, 64), d_hidden=(64, 32), dropout=0.0)
    trainer = make_trainer(tmp_path, images, model=model, d_steps=2)
    assert trainer.steps_per_epoch == len(images) // (2 * 64)
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    d = lambda x: torch.sigmoid(D.net(x.reshape(len(x), 784)))  # noqa: E731
    ones, zeros = torch.ones(64, 1), torch.zeros(64, 1)
    for step in range(3):
        real = images[step * 128:(step + 1) * 128].reshape(128, 784).float() / 127.5 - 1
        torch.manual_seed(100 + step)
        trainer.train_step(real)
        torch.manual_seed(100 + step)
        for half in (real[:64], real[64:]):  # k = 2 updates of D
            fake = G(torch.randn(64, 16))
            opt_d.zero_grad()
            (bce(d(half), ones) + bce(d(fake.detach()), zeros)).backward()
            opt_d.step()
        opt_g.zero_grad()
        bce(d(fake), ones).backward()
        opt_g.step()
    for ours, theirs in ((trainer.G, G), (trainer.D, D)):
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_an_epoch_with_k_discriminator_steps_reads_every_batch_once(tmp_path, images, monkeypatch):
    trainer = make_trainer(tmp_path, images, d_steps=2, epochs=1)
    seen = []
    original = algorithm.update_d
    monkeypatch.setattr(algorithm, "update_d", lambda gan, real, z: seen.append(real.clone()) or original(gan, real, z))
    original_step = trainer.engine.step
    trainer.engine.step = lambda real, z: seen.append(real.clone()) or original_step(real, z)
    trainer.train()
    assert len(seen) == 2 * trainer.steps_per_epoch == 10
    flat = torch.cat(seen)
    assert len(torch.unique(flat, dim=0)) == len(torch.unique(images.reshape(len(images), 784).float(), dim=0))
    assert trainer.metrics[0]["images_per_s"] > 0 and trainer.metrics[0]["step"] == 5


# ----------------------------------------------------------------------------- reproducibility

def test_same_seed_same_run_other_seed_differs(tmp_path, images):
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        trainer = make_trainer(tmp_path, images, name, seed=seed, epochs=1)
        trainer.train()
        runs[name] = weights(trainer.G)
    assert_same_weights(runs["a"], runs["b"])
    assert not torch.equal(runs["a"]["net.0.weight"], runs["c"]["net.0.weight"])


def test_resume_after_an_epoch_is_bit_exact(tmp_path, images):
    straight = make_trainer(tmp_path, images, "straight", epochs=2)
    straight.train()

    first = make_trainer(tmp_path, images, "split", epochs=1)
    first.train()
    state = last_checkpoint(tmp_path / "split")
    resumed = Trainer.resume(state, images, RunDir(tmp_path / "split"), {"epochs": 2})
    resumed.train()

    assert_same_run(tmp_path / "split", tmp_path / "straight")  # G, EMA, D, Adam, RNGs, position, metrics


def test_evaluating_during_training_changes_nothing_in_the_run(tmp_path, images):
    plain = make_trainer(tmp_path, images, "plain", epochs=2)
    plain.train()
    evaluated = make_trainer(tmp_path, images, "evaluated", epochs=2, eval_every=1, eval_samples=1000,
                             evaluate=Evaluator("digits", num_samples=1000))
    evaluated.train()
    assert "fid" in evaluated.metrics[0]
    assert_same_weights(weights(plain.G), weights(evaluated.G))
    assert losses(plain.metrics) == losses(evaluated.metrics)


def test_resume_in_the_middle_of_an_epoch_is_bit_exact(tmp_path, images):
    """A stop after step 3 of epoch 1 (as Ctrl-C does) then resume gives the straight run's weights."""
    straight = make_trainer(tmp_path, images, "straight", epochs=2)
    straight.train()

    stopped = make_trainer(tmp_path, images, "stopped", epochs=2)
    original_step = stopped.train_step
    calls = []

    def step_then_stop(real):
        calls.append(1)
        if len(calls) == 3:
            stopped.stop.requested = True  # what the SIGINT handler does
        return original_step(real)

    stopped.train_step = step_then_stop
    with pytest.raises(Interrupted, match="interrupted in epoch 1 at step 3"):
        stopped.train()
    state = last_checkpoint(tmp_path / "stopped")
    assert (state["epoch"], state["step"], state["batch_in_epoch"]) == (0, 3, 3)
    resumed = Trainer.resume(state, images, RunDir(tmp_path / "stopped"))
    resumed.train()
    assert_same_run(tmp_path / "stopped", tmp_path / "straight")


# ----------------------------------------------------------------------------- failures

def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, images):
    trainer = make_trainer(tmp_path, images, epochs=1)
    trainer.train()
    good = last_checkpoint(tmp_path / "run")
    original_step = trainer.train_step
    calls = []

    def nan_on_fourth_step(real):
        calls.append(1)
        stats = original_step(real)
        return stats * float("nan") if len(calls) == 4 else stats

    trainer.train_step = nan_on_fourth_step
    trainer.config.epochs = 2
    with pytest.raises(TrainingError, match=r"non-finite .* at epoch 2, step 14;.*\(epoch 1\) is kept"):
        trainer.train()
    kept = last_checkpoint(tmp_path / "run")
    assert kept["epoch"] == 1
    assert_same_weights(kept["generator"], good["generator"])


def test_batch_larger_than_the_data_is_a_usage_error(tmp_path, images):
    with pytest.raises(UsageError, match="larger than the data set"):
        make_trainer(tmp_path, images[:10], batch_size=64)


def test_bf16_autocast_trains_with_fp32_weights(tmp_path, images):
    trainer = make_trainer(tmp_path, images, precision="bf16", epochs=1)
    before = weights(trainer.G)
    trainer.train()
    assert all(p.dtype == torch.float32 for p in trainer.G.parameters())
    assert all(torch.isfinite(torch.tensor(v)) for v in losses(trainer.metrics)[0][2:])
    assert not torch.equal(before["net.0.weight"], trainer.G.net[0].weight)


def test_resume_takes_capturable_from_this_machine_not_the_checkpoint(tmp_path, images):
    """A checkpoint written by a CUDA-graph run (capturable Adam) resumes on CPU with plain Adam, and back."""
    trainer = make_trainer(tmp_path, images, epochs=1)
    trainer.train()
    state = last_checkpoint(tmp_path / "run")
    for name in ("opt_g", "opt_d"):
        for group in state[name]["param_groups"]:
            group["capturable"] = True
    resumed = Trainer.resume(state, images, RunDir(tmp_path / "run"), {"epochs": 2})
    assert not resumed.graphed
    assert resumed.permutation_rng.device.type == "cpu"  # a CPU generator everywhere: a GPU run resumes here
    assert not any(g["capturable"] for g in resumed.opt_g.param_groups + resumed.opt_d.param_groups)
    resumed.train()
    assert resumed.epoch == 2


def test_resume_refuses_a_change_to_what_is_trained(tmp_path, images):
    trainer = make_trainer(tmp_path, images, epochs=1)
    trainer.train()
    state = last_checkpoint(tmp_path / "run")
    with pytest.raises(UsageError, match="--lr: must match the run being resumed"):
        Trainer.resume(state, images, RunDir(tmp_path / "run"), {"epochs": 2, "lr": 0.1})
    with pytest.raises(UsageError, match="fewer than the 1 epochs"):
        Trainer.resume(state, images, RunDir(tmp_path / "run"), {"epochs": 0})


# ----------------------------------------------------------------------------- without a run folder; users' networks

def test_without_a_run_folder_nothing_is_written(tmp_path, images, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(epochs=2, batch_size=64, device="cpu")  # no seed: one is drawn
    trainer = Trainer(copy.deepcopy(SMALL_MODEL), config, images, log=lambda line: None, progress=False)
    assert isinstance(trainer.config.seed, int) and config.seed is None  # drawn into the Trainer's own copy
    record = trainer.train_epoch()
    assert record["epoch"] == 1 and record["step"] == 10 and trainer.epoch == 1
    trainer.train()
    assert trainer.epoch == 2 and list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match="evaluate callable"):
        trainer.evaluate()


def test_epoch_hooks_and_the_log_see_every_epoch(tmp_path, images):
    seen, lines = [], []
    config = TrainConfig(seed=1, epochs=2, batch_size=64, device="cpu", eval_every=0)
    trainer = Trainer(copy.deepcopy(SMALL_MODEL), config, images, epoch_hooks=[lambda t, r: seen.append(r["epoch"])],
                      log=lines.append)
    trainer.train()
    assert seen == [1, 2] and len(lines) == 2 and lines[0].startswith("epoch 1/2  loss_D")


class FlatGenerator(nn.Module):
    """A user's own G: one hidden layer, output flat (B, 784)."""

    def __init__(self, latent_dim=16):
        super().__init__()
        self.config = ModelConfig(latent_dim=latent_dim)
        self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, 784), nn.Tanh())

    def forward(self, z):
        return self.net(z)


def test_a_users_own_networks_train_and_are_recorded(tmp_path, images):
    D = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))  # scores (B, 1)
    config = TrainConfig(seed=2, epochs=1, batch_size=64, device="cpu", eval_every=0)
    trainer = Trainer(copy.deepcopy(SMALL_MODEL), config, images, RunDir(tmp_path / "own"), generator=FlatGenerator(),
                      discriminator=D)
    before = weights(trainer.G)
    trainer.train()
    assert not torch.equal(before["net.0.weight"], trainer.G.net[0].weight)
    state = last_checkpoint(tmp_path / "own")
    assert state["modules"]["generator"].endswith("test_trainer.FlatGenerator")
    assert state["modules"]["discriminator"] == "torch.nn.modules.container.Sequential"
    resumed = Trainer.resume(state, images, RunDir(tmp_path / "own"), {"epochs": 2}, generator=FlatGenerator(),
                             discriminator=copy.deepcopy(D))
    resumed.train()
    assert resumed.epoch == 2


def test_networks_of_the_wrong_shape_are_refused(images):
    config = TrainConfig(seed=2, epochs=1, batch_size=64, device="cpu")
    with pytest.raises(UsageError, match="the generator maps z"):
        Trainer(copy.deepcopy(SMALL_MODEL), config, images, generator=nn.Linear(16, 100))
    with pytest.raises(UsageError, match="one score per image"):
        Trainer(copy.deepcopy(SMALL_MODEL), config, images, discriminator=nn.Flatten())


def test_a_time_budget_stops_at_an_epoch_end_and_records_the_epochs(tmp_path, images):
    """--minutes: a budget that runs out during epoch 2 makes it the last; `--epochs 2` repeats the run exactly."""
    budgeted = make_trainer(tmp_path, images, "budget", epochs=1_000_000, minutes=1e-9)
    budgeted.elapsed = 0.0
    budgeted.train()
    assert budgeted.epoch == 1 and budgeted.config.epochs == 1  # the first epoch end past the budget
    assert json.loads((tmp_path / "budget" / "config.json").read_text())["train"]["epochs"] == 1
    assert last_checkpoint(tmp_path / "budget")["train_config"]["epochs"] == 1
    repeat = make_trainer(tmp_path, images, "repeat", epochs=1)
    repeat.train()
    assert_same_weights(weights(budgeted.G), weights(repeat.G))
    longer = make_trainer(tmp_path, images, "longer", epochs=3, minutes=60.0)  # the epochs come first
    longer.train()
    assert longer.epoch == 3


def test_lr_cooldown_lowers_the_rate_linearly_to_zero(tmp_path, images):
    """--lr-cooldown 0.5 over 2 epochs of 10 steps: the full rate for steps 1-10, then lr x (20 - step) / 10."""
    trainer = make_trainer(tmp_path, images, lr_cooldown=0.5)
    seen = []
    original_step = trainer.engine.step

    def record(real, z):
        seen.append(trainer.opt_g.param_groups[0]["lr"])
        return original_step(real, z)

    trainer.engine.step = record
    trainer.train()
    assert trainer.steps_per_epoch == 10
    expected = [2e-4 * min(1.0, (20 - step) / 10) for step in range(20)]  # step: those completed before it
    assert seen == pytest.approx(expected, rel=1e-12) and seen[-1] == pytest.approx(2e-4 / 10)


def test_a_time_budget_plans_the_lr_cooldowns_length_and_epochs_n_repeats_it(tmp_path, images, monkeypatch):
    """--minutes 1 --lr-cooldown 0.5 on a clock where a step takes 1 s (10 steps an epoch): the budget holds 6
    epochs, planned while the rate is full; the cooldown then runs over epochs 4-6 as under --epochs 6, step for
    step, and config.json says 6."""
    clock = {"now": 0.0}
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(perf_counter=lambda: clock["now"]))

    def run(name: str, **length) -> tuple[Trainer, list[float]]:
        trainer = make_trainer(tmp_path, images, name, lr_cooldown=0.5, **length)
        rates = []
        trainer.step_hooks = [lambda t: (rates.append(t.opt_g.param_groups[0]["lr"]),
                                         clock.update(now=clock["now"] + 1.0))]
        trainer.train()
        return trainer, rates

    planned, planned_rates = run("budget", epochs=1_000_000, minutes=1.0)
    assert planned.epoch == planned.config.epochs == 6
    assert json.loads((tmp_path / "budget" / "config.json").read_text())["train"]["epochs"] == 6
    repeat, repeat_rates = run("repeat", epochs=6)
    assert planned_rates == repeat_rates and planned_rates[29] == 2e-4 and planned_rates[-1] < 2e-4 / 10
    assert_same_weights(weights(planned.G), weights(repeat.G))
    capped, capped_rates = run("capped", epochs=4, minutes=1.0)  # --epochs caps the plan
    assert capped.epoch == 4 and json.loads((tmp_path / "capped" / "config.json").read_text())["train"]["epochs"] == 4
    assert capped_rates == run("four", epochs=4)[1]

    # Stopped mid-plan (after epoch 2 of 6), then resumed: with no length, or its own typed again, the run keeps its
    # plan and its cap, and ends as the uninterrupted run did; a new budget is planned anew, from the new cap.
    clock["now"] = 0.0
    stopped = make_trainer(tmp_path, images, "stopped", lr_cooldown=0.5, epochs=1_000_000, minutes=1.0)
    stopped.step_hooks = [lambda t: clock.update(now=clock["now"] + 1.0)]
    stopped.train_epoch(), stopped.train_epoch()
    state = stopped.state_dict()
    stopped.close()
    for changes in ({}, {"epochs": 1_000_000, "minutes": 1.0}):
        resumed = Trainer.resume(state, images, RunDir(tmp_path / "stopped"), changes)
        assert (resumed.config.epochs, resumed.epoch_cap) == (6, 1_000_000)
    resumed.step_hooks = stopped.step_hooks
    resumed.train()
    assert resumed.epoch == 6
    assert_same_weights(weights(planned.G), weights(resumed.G))
    longer = Trainer.resume(state, images, RunDir(tmp_path / "stopped"), {"epochs": 1_000_000, "minutes": 2.0})
    assert (longer.config.epochs, longer.epoch_cap, longer.config.minutes) == (1_000_000, 1_000_000, 2.0)


def test_a_budget_that_cuts_the_planned_cooldown_short_says_so(tmp_path, images, monkeypatch):
    """--minutes 1 --lr-cooldown 0.5: 1 s a step plans 6 epochs after epoch 3; then steps take 4 s, the budget runs
    out at the end of epoch 4, and the run says at what share of the full rate it stopped (70%: step 39 of 60).
    A run that finished its plan says nothing."""
    from vanilla_gan.cli.train import cooldown_cut

    clock = {"now": 0.0}
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(perf_counter=lambda: clock["now"]))
    trainer = make_trainer(tmp_path, images, "cut", lr_cooldown=0.5, epochs=1_000_000, minutes=1.0)
    trainer.step_hooks = [lambda t: clock.update(now=clock["now"] + (1.0 if t.step <= 30 else 4.0))]
    trainer.train()
    assert trainer.epoch == trainer.config.epochs == 4
    said = cooldown_cut(trainer)
    assert said and "1-minute budget ran out" in said and "at 70% of the full rate" in said
    clock["now"] = 0.0
    whole = make_trainer(tmp_path, images, "whole", lr_cooldown=0.5, epochs=1_000_000, minutes=1.0)
    whole.step_hooks = [lambda t: clock.update(now=clock["now"] + 1.0)]
    whole.train()
    assert whole.epoch == 6 and cooldown_cut(whole) is None
    assert cooldown_cut(make_trainer(tmp_path, images, "none", epochs=1)) is None


def test_a_checkpoint_that_records_no_epochs_resumes_at_the_default_length(tmp_path, images):
    """A valid checkpoint may lack train_config's epochs (an older or edited file): the default fills it, as
    before the plan's cap was kept (found by the structural fuzzing)."""
    trainer = make_trainer(tmp_path, images, epochs=1)
    trainer.train()
    state = trainer.state_dict()
    del state["train_config"]["epochs"], state["epoch_cap"]
    resumed = Trainer.resume(state, images, RunDir(tmp_path / "run"))
    assert resumed.config.epochs == resumed.epoch_cap == TrainConfig().epochs


@pytest.mark.parametrize("cooldown, epoch, elapsed, length, expected", [
    (0.5, 1, 10.0, 1_000_000, 12),  # 120 s at 10 s an epoch
    (0.5, 2, 40.0, 12, 6),  # slower: the plan shrinks, from the pace so far
    (0.5, 3, 15.0, 12, 24),  # faster: it grows again
    (0.5, 3, 3.0, 12, 48),  # up to the cap (--epochs 48)
    (0.5, 3, 58.0, 6, 6),  # the cooldown (the last half of 6 epochs) begins within epoch 4: the length stays
    (0.5, 2, 110.0, 8, 4),  # too little time left: never so few that the cooldown should have begun already
    (0.3, 21, 200.0, 1_000_000, 30),  # the same, where 21 / 0.7 is 30.000000000000004 in floats
])
def test_the_budget_plans_the_cooldowns_length_from_the_pace_so_far(cooldown, epoch, elapsed, length, expected):
    config = TrainConfig(epochs=length, minutes=2.0, lr_cooldown=cooldown)
    assert planned_epochs(config, epoch, elapsed, cap=48) == expected


def test_lr_cooldown_reaches_a_step_that_reads_a_tensor_rate(tmp_path, images):
    """The CUDA-graph path's Adam (capturable) reads its learning rate from a tensor: a captured step never
    sees a Python float put into the group. On CPU: give the optimizers tensor rates, as a graph-trained run
    has them; the schedule must write into those same tensors (the graph's memory), and the run must follow
    the float-rate run's schedule (to float32's rounding of the rates)."""
    trained = {}
    for tensor_lr in (False, True):
        trainer = make_trainer(tmp_path, images, f"tensor-{tensor_lr}", lr_cooldown=0.5)
        rates = []
        if tensor_lr:
            for optimizer in (trainer.opt_g, trainer.opt_d):
                rates.append(torch.tensor(trainer.config.lr))
                optimizer.param_groups[0]["lr"] = rates[-1]
        trainer.train()
        if tensor_lr:  # the same tensors, holding the last step's rate
            assert [o.param_groups[0]["lr"] for o in (trainer.opt_g, trainer.opt_d)] == rates
            assert all(o.param_groups[0]["lr"] is r for o, r in zip((trainer.opt_g, trainer.opt_d), rates, strict=True))
            assert rates[0].item() == pytest.approx(2e-4 / 10)
        trained[tensor_lr] = trainer
    for module in ("G", "G_ema", "D"):  # the same schedule, its rates rounded to float32 in the tensors
        ours, theirs = weights(getattr(trained[True], module)), weights(getattr(trained[False], module))
        for name in ours:
            torch.testing.assert_close(ours[name], theirs[name], rtol=1e-4, atol=1e-6, msg=f"{module}.{name}")
    without = make_trainer(tmp_path, images, "no-cooldown")
    without.train()
    assert not torch.equal(without.G.net[0].weight, trained[True].G.net[0].weight)  # the cooldown mattered


class PartlyFrozenGenerator(FlatGenerator):
    def __init__(self):
        super().__init__()
        self.net[0].requires_grad_(False)  # a frozen first layer: no hook may go on it


def test_a_network_reused_by_a_second_trainer_trains_as_a_fresh_copy_would(tmp_path, images):
    """A network trained by one Trainer and handed to a second (a frozen layer in it) trains there as a fresh copy
    of it would: nothing the first Trainer attached to it (hooks, gradients) acts on the second's steps."""
    G = PartlyFrozenGenerator()
    config = TrainConfig(seed=2, epochs=1, batch_size=64, device="cpu", eval_every=0)
    first = Trainer(copy.deepcopy(SMALL_MODEL), config, images, generator=G, progress=False)
    first.train()
    copy_of_g = copy.deepcopy(G)
    reused = Trainer(copy.deepcopy(SMALL_MODEL), config, images, generator=G, progress=False)
    reused.train()
    fresh = Trainer(copy.deepcopy(SMALL_MODEL), config, images, generator=copy_of_g, progress=False)
    fresh.train()  # (each Trainer seeds the global RNG when built: built and trained one after the other)
    assert_same_weights(weights(reused.G), weights(fresh.G))
    assert torch.equal(reused.G.net[0].weight, first.G.net[0].weight)  # the frozen layer never moved
    assert config.seed == 2 and config.epochs == 1  # the caller's config is not changed


def test_the_seams_for_experiments_a_batch_transform_and_step_hooks(tmp_path, images):
    """`batch_transform` gets each step's real images as floats in [-1, 1] and what it returns is what the step
    trains on (a changed batch changes the weights); each step hook is called after every step with its number."""
    seen, steps = [], []

    def halve(real):
        seen.append((real.shape, float(real.min()), float(real.max())))
        return real * 0.5

    plain = make_trainer(tmp_path, images, epochs=1)
    plain.train()
    hooked = Trainer(copy.deepcopy(SMALL_MODEL), dataclasses.replace(plain.config, epochs=1), images,
                     batch_transform=halve, step_hooks=[lambda trainer: steps.append(trainer.step)])
    hooked.train()
    assert steps == list(range(hooked.steps_per_epoch)) and len(seen) == hooked.steps_per_epoch
    assert all(shape == (hooked.config.batch_size, 784) and low >= -1 and high <= 1 for shape, low, high in seen)
    assert not torch.equal(plain.D.net[0].weight, hooked.D.net[0].weight)
