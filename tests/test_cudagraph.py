"""The CUDA-graph step (cudagraph.py): replaying the captured step gives the eager step's weights, and a
graph-trained run learns and resumes on a CPU. Skipped without CUDA. Run: python -m pytest -m gpu tests
"""


import helpers
import pytest
import torch
from helpers import weights

from vanilla_gan.config import ModelConfig
from vanilla_gan.evaluation.evaluator import Evaluator
from vanilla_gan.training.trainer import Trainer

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def make_trainer(tmp_path, images, name="run", **options):
    return helpers.make_trainer(tmp_path, images, name, device="cuda", **options)


def test_cuda_graph_step_matches_the_eager_step(tmp_path, images):
    """Dropout 0 (no RNG inside the step), the same z: the replayed graph gives the eager step's weights."""
    model = ModelConfig(latent_dim=16, g_hidden=(64, 64), d_hidden=(64, 32), dropout=0.0)
    trained = {}
    for graph in (False, True):
        trainer = make_trainer(tmp_path, images, f"graph-{graph}", model=model, cuda_graph=graph)
        noise = torch.Generator().manual_seed(3)
        for step in range(8):  # 3 warm-up steps, the capture, then replays
            real = images[step * 64:(step + 1) * 64].reshape(64, 784).cuda().float() / 127.5 - 1
            z = torch.randn(64, 16, generator=noise).cuda()
            stats = trainer.engine.step(real, z)
            assert torch.isfinite(torch.stack(stats)).all()
        assert (getattr(trainer.engine.step, "graph", None) is not None) == graph
        trained[graph] = trainer
    for module in ("G", "D"):
        eager, graphed = (getattr(trained[g], module).state_dict() for g in (False, True))
        for name in eager:
            torch.testing.assert_close(graphed[name], eager[name], rtol=1e-4, atol=1e-6, msg=f"{module}.{name}")
    fresh = make_trainer(tmp_path, images, "fresh", model=model)
    assert not torch.equal(trained[True].G.net[0].weight, fresh.G.net[0].weight)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_graph_training_with_dropout_learns_and_resumes_on_cpu(tmp_path, images, precision):
    trainer = make_trainer(tmp_path, images, precision=precision, epochs=2, eval_every=2, eval_samples=1000,
                           evaluate=Evaluator("digits", "cuda", num_samples=1000))
    before = weights(trainer.G)
    trainer.train()
    assert trainer.graphed and trainer.engine.step.graph is not None
    assert trainer.metrics[-1]["fid"] > 0 and trainer.run.best_checkpoint.exists()  # evaluated on the GPU
    assert all(abs(m["loss_d"]) < 10 and abs(m["loss_g"]) < 10 for m in trainer.metrics)
    assert not torch.equal(before["net.0.weight"], trainer.G.net[0].weight)
    resumed = Trainer.resume(trainer.run.load_checkpoint(), images, trainer.run, {"epochs": 3, "device": "cpu"})
    resumed.train()
    assert resumed.epoch == 3 and not resumed.graphed


def test_cuda_run_keeps_data_on_the_device_and_resumes(tmp_path, images):
    trainer = make_trainer(tmp_path, images, epochs=1)
    assert trainer.images.is_cuda and trainer.images.dtype == torch.uint8
    trainer.train()
    resumed = Trainer.resume(trainer.run.load_checkpoint(), images, trainer.run, {"epochs": 2})
    resumed.train()
    assert resumed.epoch == 2 and next(resumed.G.parameters()).is_cuda


def test_cuda_graph_follows_the_lr_cooldown(tmp_path, images):
    """--lr-cooldown on the graph path: the captured step reads the rate the schedule writes into its tensor, so
    the graph-trained run ends at the eager run's weights (dropout 0), and away from a run without the cooldown."""
    model = ModelConfig(latent_dim=16, g_hidden=(64, 64), d_hidden=(64, 32), dropout=0.0)
    trained = {}
    for name, train in (("eager", {"cuda_graph": False}), ("graph", {}), ("graph-flat", {"lr_cooldown": 0.0})):
        trainer = make_trainer(tmp_path, images, name, model=model, **{"lr_cooldown": 0.5, "ema_decay": 0, **train})
        trainer.train()
        assert trainer.graphed == (name != "eager")
        trained[name] = weights(trainer.G)
    for key in trained["eager"]:
        torch.testing.assert_close(trained["graph"][key], trained["eager"][key], rtol=1e-4, atol=1e-6, msg=key)
    assert not torch.allclose(trained["graph-flat"]["net.0.weight"], trained["eager"]["net.0.weight"], atol=1e-6)
