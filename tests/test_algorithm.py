"""The GAN's step written once (algorithm.py): a researcher's own objective trains, is recorded by name, resumes
only as itself, and the report's BCE-based health notes say they do not apply to it. (tests/test_trainer.py's
`reference_step` checks the built-in objective's step against a plain one.)

Run: python -m pytest tests/test_algorithm.py
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F
from helpers import SMALL_MODEL, TINY_OPTIONS

import vanilla_gan as vg
from vanilla_gan.config import TrainConfig
from vanilla_gan.errors import UsageError
from vanilla_gan.gan.algorithm import GAN, bce, gan_step
from vanilla_gan.gan.models import Scores
from vanilla_gan.report.health import health_notes
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.training.trainer import Trainer


class Hinge:
    """The hinge loss (Lim & Ye 2017; Miyato et al. 2018): D pushes real scores above 1 and generated ones below
    -1; G raises D's scores of its images."""

    name = "hinge"

    def d_loss(self, real_scores, fake_scores):
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def g_loss(self, fake_scores):
        return -fake_scores.mean()


class BCECopy:
    """The built-in non-saturating objective, written as a user would: it must train exactly as the default."""

    name = "bce-copy"

    def d_loss(self, real_scores, fake_scores):
        return bce(real_scores, 1.0) + bce(fake_scores, 0.0)

    def g_loss(self, fake_scores):
        return bce(fake_scores, 1.0)


def make_trainer(tmp_path, images, name, objective=None, **train):
    config = TrainConfig(**{"seed": 7, "epochs": 1, "batch_size": 64, "device": "cpu", "eval_every": 0, **train})
    return Trainer(copy.deepcopy(SMALL_MODEL), config, images, RunDir(tmp_path / name), objective=objective,
                   progress=False)


def weights(trainer):
    return {k: v.clone() for k, v in trainer.G.state_dict().items()}


def test_a_users_objective_is_the_one_the_step_descends(tmp_path, images):
    """A copy of BCE under another name trains bit for bit as the default (the user's functions are the ones
    called, on the same scores); a hinge loss trains to other weights, with the hinge's losses."""
    runs = {}
    for name, objective in (("default", None), ("copy", BCECopy()), ("hinge", Hinge())):
        trainer = make_trainer(tmp_path, images, name, objective)
        trainer.train()
        runs[name] = trainer
    for key, tensor in weights(runs["default"]).items():
        assert torch.equal(tensor, weights(runs["copy"])[key]), key
    hinge = runs["hinge"]
    assert not torch.equal(hinge.G.net[0].weight, runs["default"].G.net[0].weight)
    assert all(torch.isfinite(torch.tensor([m["loss_d"], m["loss_g"]])).all() for m in hinge.metrics)
    steps = (tmp_path / "hinge" / "steps.csv").read_text().splitlines()
    assert steps[0].startswith("epoch,step,loss_d,loss_g") and len(steps) == 1 + hinge.steps_per_epoch
    first = [float(v) for v in steps[1].split(",")[2:]]
    assert first[0] >= 0  # a hinge: a sum of ReLUs; BCE's first loss_D is about 2 ln 2
    assert first[0] != pytest.approx(runs["default"].metrics[0]["loss_d"], abs=1e-3)


def test_config_json_and_the_checkpoint_name_the_objective(tmp_path, images):
    for name, objective, g_loss in (("non-saturating", None, "non-saturating"), ("minimax", None, "minimax"),
                                    ("hinge", Hinge(), "non-saturating")):
        make_trainer(tmp_path, images, name, objective, g_loss=g_loss).train()
        assert json.loads((tmp_path / name / "config.json").read_text())["objective"] == name
        assert RunDir(tmp_path / name).load_checkpoint()["objective"] == name


def test_a_run_resumes_only_with_its_own_objective(tmp_path, images):
    make_trainer(tmp_path, images, "hinge", Hinge()).train()
    state = RunDir(tmp_path / "hinge").load_checkpoint()
    with pytest.raises(UsageError, match="trained with the objective 'hinge', not 'non-saturating'"):
        Trainer.resume(state, images, RunDir(tmp_path / "hinge"), {"epochs": 2}, progress=False)
    resumed = Trainer.resume(state, images, RunDir(tmp_path / "hinge"), {"epochs": 2}, objective=Hinge(),
                             progress=False)
    resumed.train()
    assert resumed.epoch == 2
    make_trainer(tmp_path, images, "plain").train()
    with pytest.raises(UsageError, match="trained with the objective 'non-saturating', not 'hinge'"):
        Trainer.resume(RunDir(tmp_path / "plain").load_checkpoint(), images, RunDir(tmp_path / "plain"),
                       {"epochs": 2}, objective=Hinge(), progress=False)


class Nameless:
    def d_loss(self, real_scores, fake_scores):
        return real_scores.mean()

    def g_loss(self, fake_scores):
        return fake_scores.mean()


class Minimax(Nameless):
    name = "minimax"


@pytest.mark.parametrize(("objective", "train", "says"), [
    (object(), {}, "must have d_loss(real_scores, fake_scores) and g_loss(fake_scores) methods"),
    (Nameless(), {}, "objective must have a name"),
    (Minimax(), {}, "'minimax' is the built-in objective's: choose it with g_loss="),
    (Hinge(), {"real_label": 0.9}, "--g-loss and --real-label set the built-in objective, which objective 'hinge'"),
])
def test_an_objective_that_cannot_be_used_is_one_line_before_training(tmp_path, images, objective, train, says):
    with pytest.raises(UsageError) as error:
        make_trainer(tmp_path, images, "bad", objective, **train)
    assert says in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "bad").exists()


def test_vg_train_takes_an_objective_and_the_health_notes_say_theirs_do_not_apply(tmp_path):
    run = vg.train(out=tmp_path / "hinge", seed=1, epochs=1, report=False, objective=Hinge(), **TINY_OPTIONS)
    assert json.loads((run.path / "config.json").read_text())["objective"] == "hinge"
    notes = health_notes(RunDir(run.path).read())
    assert any(n.title == "Your own objective (hinge): the notes on D's outputs do not apply"
               and "assume the original GAN's BCE losses" in n.meaning for n in notes), [n.title for n in notes]
    with pytest.raises(UsageError, match="g_loss and real_label set the built-in objective"):  # Python's spelling
        vg.train(out=tmp_path / "other", epochs=1, real_label=0.9, objective=Hinge(), **TINY_OPTIONS)


# ----------------------------------------------------------------------------- the step and a user's networks

def small_gan(d: torch.nn.Module, g: torch.nn.Module | None = None) -> GAN:
    g = g or torch.nn.Sequential(torch.nn.Linear(4, 784), torch.nn.Tanh())
    return GAN(g, Scores(d), Scores(d), torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters()))


def test_a_d_with_batch_statistics_scores_real_and_generated_halves_in_a_pass_each():
    """A BatchNorm D normalises each half by its own statistics: the real images' scores do not depend on the
    generated ones. A D without batch statistics keeps the one pass (the same scores either way)."""
    torch.manual_seed(0)
    bn = torch.nn.Sequential(torch.nn.Linear(784, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
    real, fake = torch.rand(6, 784), torch.rand(6, 784) * 3
    both = torch.cat([real, fake])
    assert Scores(bn).batch_statistics
    torch.testing.assert_close(Scores(bn)(both, 2)[:6], Scores(bn)(real))
    assert not torch.allclose(Scores(bn)(both)[:6], Scores(bn)(real))  # what one pass would have given
    plain = torch.nn.Sequential(torch.nn.Linear(784, 8), torch.nn.LeakyReLU(), torch.nn.Linear(8, 1))
    assert not Scores(plain).batch_statistics
    torch.testing.assert_close(Scores(plain)(both, 2), torch.cat([Scores(plain)(real), Scores(plain)(fake)]))


def test_g_update_leaves_a_frozen_d_weight_frozen_even_on_an_error():
    """G's update holds D's weights; afterwards each has its own requires_grad again (a weight the user froze
    stays frozen), also when the step fails."""
    torch.manual_seed(0)
    d = torch.nn.Sequential(torch.nn.Linear(784, 8), torch.nn.LeakyReLU(), torch.nn.Linear(8, 1))
    d[0].weight.requires_grad_(False)
    gan = small_gan(d)
    stats = gan_step(gan, torch.rand(4, 784) * 2 - 1, torch.randn(4, 4))
    assert [p.requires_grad for p in d.parameters()] == [False, True, True, True]
    assert stats._fields == ("loss_d", "loss_g", "d_real", "d_fake") and 0 < float(stats.d_real) < 1

    class Failing:
        name = "failing"

        def d_loss(self, real_scores, fake_scores):
            return real_scores.mean()

        def g_loss(self, fake_scores):
            raise RuntimeError("boom")

    gan.objective = Failing()
    with pytest.raises(RuntimeError, match="boom"):
        gan_step(gan, torch.rand(4, 784) * 2 - 1, torch.randn(4, 4))
    assert [p.requires_grad for p in d.parameters()] == [False, True, True, True]


def test_a_users_batchnorm_d_trains(tmp_path, images):
    """vg.train with a user's D that has BatchNorm (DCGAN's D): the step gives each half its own pass."""
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.BatchNorm1d(32),
                            torch.nn.LeakyReLU(0.2), torch.nn.Linear(32, 1))
    run = vg.train(**{**TINY_OPTIONS, "limit": None}, epochs=1, discriminator=d, out=tmp_path / "bn",
                   dataset=images[:256].numpy())
    assert run.metrics[-1]["epoch"] >= 1 and all(torch.isfinite(p).all() for p in d.parameters())
