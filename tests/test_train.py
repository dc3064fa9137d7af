"""The trainer: the step is the seed's algorithm, seeds repeat, resume is bit-exact, NaN stops cleanly.

Run: python -m pytest tests/test_train.py
"""

import copy
import json

import pytest
import torch
from torch import nn

from vanilla_gan import checkpoint
from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.errors import UsageError
from vanilla_gan.train import Interrupted, Trainer, TrainingError

SMALL_MODEL = ModelConfig(latent_dim=16, g_hidden=(64, 64), d_hidden=(64, 32))


@pytest.fixture(scope="module")
def images():
    return load_dataset("digits")[0][:640]


def make_trainer(tmp_path, images, name="run", model=SMALL_MODEL, **train):
    config = TrainConfig(**{"seed": 7, "epochs": 2, "batch_size": 64, "device": "cpu", "eval_every": 0, **train})
    return Trainer(copy.deepcopy(model), config, tmp_path / name, images)


def weights(module: nn.Module) -> dict:
    return {k: v.clone() for k, v in module.state_dict().items()}


def losses(metrics: list[dict]) -> list[tuple]:
    """The metrics that must repeat exactly (timings do not)."""
    return [(m["epoch"], m["step"], m["loss_d"], m["loss_g"], m["d_real"], m["d_fake"]) for m in metrics]


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ----------------------------------------------------------------------------- the algorithm

def reference_step(G, D, opt_g, opt_d, real, z, g_loss):
    """The seed's step written plainly: Sigmoid + BCELoss, D then G, G's loss back-propagated through D."""
    bce = nn.BCELoss()
    ones, zeros = torch.ones(len(real), 1), torch.zeros(len(real), 1)
    d = lambda x: torch.sigmoid(D.net(x))  # noqa: E731 - the seed's D: hidden layers, Linear, Sigmoid
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
        trainer.gan_step(real)
        torch.manual_seed(100 + step)
        reference_step(G, D, opt_g, opt_d, real, torch.randn(64, 16), g_loss)
    for ours, theirs in ((trainer.G, G), (trainer.D, D)):
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)
    # And the weights really moved, so the comparison is not vacuous.
    fresh = make_trainer(tmp_path, images, "fresh", model=model)
    assert not torch.equal(trainer.G.net[0].weight, fresh.G.net[0].weight)


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
    state = checkpoint.load(tmp_path / "split")
    resumed = Trainer.resume(state, tmp_path / "split", images, {"epochs": 2})
    resumed.train()

    assert_same_weights(weights(straight.G), weights(resumed.G))
    assert_same_weights(weights(straight.D), weights(resumed.D))
    logged = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert losses(logged) == losses(straight.metrics)


def test_evaluating_during_training_changes_nothing_in_the_run(tmp_path, images):
    plain = make_trainer(tmp_path, images, "plain", epochs=2)
    plain.train()
    evaluated = make_trainer(tmp_path, images, "evaluated", epochs=2, eval_every=1, eval_samples=1000)
    evaluated.train()
    assert "fid" in evaluated.metrics[0]
    assert_same_weights(weights(plain.G), weights(evaluated.G))
    assert losses(plain.metrics) == losses(evaluated.metrics)


def test_resume_in_the_middle_of_an_epoch_is_bit_exact(tmp_path, images):
    """A stop after step 3 of epoch 1 (as Ctrl-C does) then resume gives the straight run's weights."""
    straight = make_trainer(tmp_path, images, "straight", epochs=2)
    straight.train()

    stopped = make_trainer(tmp_path, images, "stopped", epochs=2)
    original_step = stopped.gan_step
    calls = []

    def step_then_stop(real):
        calls.append(1)
        if len(calls) == 3:
            stopped._stop_requested = True  # what the SIGINT handler does
        return original_step(real)

    stopped.gan_step = step_then_stop
    with pytest.raises(Interrupted, match="interrupted in epoch 1 at step 3"):
        stopped.train()
    state = checkpoint.load(tmp_path / "stopped")
    assert (state["epoch"], state["step"], state["batch_in_epoch"]) == (0, 3, 3)
    resumed = Trainer.resume(state, tmp_path / "stopped", images)
    resumed.train()
    assert_same_weights(weights(straight.G), weights(resumed.G))
    assert losses(resumed.metrics) == losses(straight.metrics)


# ----------------------------------------------------------------------------- failures

def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, images):
    trainer = make_trainer(tmp_path, images, epochs=1)
    trainer.train()
    good = checkpoint.load(tmp_path / "run")
    original_step = trainer.gan_step
    calls = []

    def nan_on_fourth_step(real):
        calls.append(1)
        stats = original_step(real)
        return stats * float("nan") if len(calls) == 4 else stats

    trainer.gan_step = nan_on_fourth_step
    trainer.config.epochs = 2
    with pytest.raises(TrainingError, match=r"non-finite .* at epoch 2, step 14;.*\(epoch 1\) is kept"):
        trainer.train()
    kept = checkpoint.load(tmp_path / "run")
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


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_keeps_data_on_the_device_and_resumes(tmp_path, images):
    trainer = make_trainer(tmp_path, images, device="cuda", epochs=1)
    assert trainer.images.is_cuda and trainer.images.dtype == torch.uint8
    trainer.train()
    resumed = Trainer.resume(checkpoint.load(tmp_path / "run"), tmp_path / "run", images, {"epochs": 2})
    resumed.train()
    assert resumed.epoch == 2 and next(resumed.G.parameters()).is_cuda


def test_resume_takes_capturable_from_this_machine_not_the_checkpoint(tmp_path, images):
    """A checkpoint written by a CUDA-graph run (capturable Adam) resumes on CPU with plain Adam, and back."""
    trainer = make_trainer(tmp_path, images, epochs=1)
    trainer.train()
    state = checkpoint.load(tmp_path / "run")
    for name in ("opt_g", "opt_d"):
        for group in state[name]["param_groups"]:
            group["capturable"] = True
    resumed = Trainer.resume(state, tmp_path / "run", images, {"epochs": 2})
    assert not resumed.graphed
    assert resumed.permutation_rng.device.type == "cpu"  # a CPU generator everywhere: a GPU run resumes here
    assert not any(g["capturable"] for g in resumed.opt_g.param_groups + resumed.opt_d.param_groups)
    resumed.train()
    assert resumed.epoch == 2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_step_matches_the_eager_step(tmp_path, images):
    """Dropout 0 (no RNG inside the step), the same z: the replayed graph gives the eager step's weights."""
    model = ModelConfig(latent_dim=16, g_hidden=(64, 64), d_hidden=(64, 32), dropout=0.0)
    trained = {}
    for graph in (False, True):
        trainer = make_trainer(tmp_path, images, f"graph-{graph}", model=model, device="cuda", cuda_graph=graph)
        noise = torch.Generator().manual_seed(3)
        for step in range(8):  # 3 warm-up steps, the capture, then replays
            real = images[step * 64:(step + 1) * 64].reshape(64, 784).cuda().float() / 127.5 - 1
            z = torch.randn(64, 16, generator=noise).cuda()
            stats = trainer._graph_step(real, z) if graph else trainer._step(real, z)
            assert torch.isfinite(stats).all()
        assert (trainer._graph is not None) == graph
        trained[graph] = trainer
    for module in ("G", "D"):
        eager, graphed = (getattr(trained[g], module).state_dict() for g in (False, True))
        for name in eager:
            torch.testing.assert_close(graphed[name], eager[name], rtol=1e-4, atol=1e-6, msg=f"{module}.{name}")
    fresh = make_trainer(tmp_path, images, "fresh", model=model, device="cuda")
    assert not torch.equal(trained[True].G.net[0].weight, fresh.G.net[0].weight)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_graph_training_with_dropout_learns_and_resumes_on_cpu(tmp_path, images, precision):
    trainer = make_trainer(tmp_path, images, device="cuda", precision=precision, epochs=2, eval_every=2,
                           eval_samples=1000)
    before = weights(trainer.G)
    trainer.train()
    assert trainer.graphed and trainer._graph is not None
    assert trainer.metrics[-1]["fid"] > 0 and trainer.best_path.exists()  # the evaluation ran on the GPU
    assert all(abs(m["loss_d"]) < 10 and abs(m["loss_g"]) < 10 for m in trainer.metrics)
    assert not torch.equal(before["net.0.weight"], trainer.G.net[0].weight)
    resumed = Trainer.resume(checkpoint.load(tmp_path / "run"), tmp_path / "run", images,
                             {"epochs": 3, "device": "cpu"})
    resumed.train()
    assert resumed.epoch == 3 and not resumed.graphed
