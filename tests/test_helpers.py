"""The test helpers that decide a verdict: `assert_same_run` fails on any lost piece of a run's state (an RNG
draw, an Adam moment, a step count, the position, a metrics line), in a checkpoint and after a resume that
trained on; only the clock's fields may differ, and floating-point numbers by a rounding error
(helpers.FLOAT_TOLERANCE: two processes may end 1-2 ulps apart).

Run: python -m pytest tests/test_helpers.py
"""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
import torch
from helpers import FLOAT_TOLERANCE, assert_same_run


def one_ulp(t: torch.Tensor) -> torch.Tensor:
    """The tensor with its first element moved to the next float: the smallest change a number can have."""
    t = t.clone()
    flat = t.view(-1)
    flat[0] = torch.nextafter(flat[0], torch.tensor(np.inf, dtype=t.dtype))
    return t


def draw_torch(state):
    generator = torch.Generator()
    generator.set_state(state["rng"][0]["torch"])
    torch.randn(1, generator=generator)  # one draw more than the run made
    state["rng"][0]["torch"] = generator.get_state()


def draw_python(state):
    rng = random.Random()
    version, internal, gauss = state["rng"][0]["python"]
    rng.setstate((version, tuple(internal), gauss))
    rng.random()
    version, internal, gauss = rng.getstate()
    state["rng"][0]["python"] = [version, list(internal), gauss]


def draw_numpy(state):
    kind, keys, pos, has_gauss, cached = state["rng"][0]["numpy"]
    state["rng"][0]["numpy"] = [kind, keys, (pos + 1) % 624, has_gauss, cached]


def draw_permutation(state):
    generator = torch.Generator()
    generator.set_state(state["permutation_rng"])
    torch.randperm(8, generator=generator)
    state["permutation_rng"] = generator.get_state()


def off(t: torch.Tensor, by: float = 1e-3) -> torch.Tensor:
    """The tensor with its first element moved by `by` of its size (at least `by`): a small real change."""
    t = t.clone()
    flat = t.view(-1)
    flat[0] = flat[0] + by * max(1.0, abs(float(flat[0])))
    return t


def adam_moment(key, name):
    def change(state):  # lost: back to zero, as a resume that dropped it would start
        state[key]["state"][0][name] = torch.zeros_like(state[key]["state"][0][name])
    return change


def adam_step(state):
    state["opt_d"]["state"][3]["step"] = state["opt_d"]["state"][3]["step"] + 1


def weight(net):
    def change(state):
        first = next(iter(state[net]))
        state[net][first] = off(state[net][first])
    return change


def position(state):
    state["batch_in_epoch"] = 1


def logged_loss(state):
    state["metrics"][-1]["loss_g"] += 1e-3


LOSSES = {"torch RNG draw": draw_torch, "Python RNG draw": draw_python, "NumPy RNG draw": draw_numpy,
          "permutation RNG draw": draw_permutation, "G's Adam exp_avg": adam_moment("opt_g", "exp_avg"),
          "D's Adam exp_avg_sq": adam_moment("opt_d", "exp_avg_sq"), "an Adam step count": adam_step,
          "G": weight("generator"), "G's moving average": weight("generator_ema"), "D": weight("discriminator"),
          "the epoch position": position, "the checkpoint's metrics": logged_loss}


@pytest.fixture
def twin(tiny_run, tmp_path):
    """A copy of the tiny run, and a function that changes its last.pt."""
    copy = tmp_path / "twin"
    shutil.copytree(tiny_run, copy)
    last = copy / "checkpoints" / "last.pt"

    def change(how):
        state = torch.load(last, weights_only=True)
        how(state)
        torch.save(state, last)
    return copy, change


def test_a_copy_passes_and_the_clock_may_differ(tiny_run, twin):
    copy, change = twin

    def clock(state):
        state["elapsed"] += 1
        state["metrics"][-1]["images_per_s"] += 1
    change(clock)
    lines = [json.loads(line) for line in (copy / "metrics.jsonl").read_text().splitlines()]
    lines[0]["elapsed_s"] += 1
    (copy / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert_same_run(copy, tiny_run)


@pytest.mark.parametrize("lost", LOSSES)
def test_any_lost_piece_of_state_fails(tiny_run, twin, lost):
    copy, change = twin
    change(LOSSES[lost])
    with pytest.raises(AssertionError):
        assert_same_run(copy, tiny_run)


def test_a_changed_metrics_file_fails(tiny_run, twin):
    copy, _ = twin
    lines = (copy / "metrics.jsonl").read_text().splitlines()
    (copy / "metrics.jsonl").write_text(lines[0] + "\n")  # an epoch's line lost
    with pytest.raises(AssertionError, match="metrics.jsonl"):
        assert_same_run(copy, tiny_run)


def test_a_rounding_error_passes(tiny_run, twin):
    """What two processes were seen to differ by (1 ulp in weights and moments, a loss in its 8th digit) passes."""
    copy, change = twin

    def rounding(state):
        for net in ("generator", "generator_ema", "discriminator"):
            state[net] = {k: one_ulp(v) for k, v in state[net].items()}
        state["opt_g"]["state"][0]["exp_avg"] = one_ulp(state["opt_g"]["state"][0]["exp_avg"])
        state["metrics"][-1]["loss_g"] = float(np.nextafter(state["metrics"][-1]["loss_g"], np.inf))
    change(rounding)
    assert_same_run(copy, tiny_run)


def lose_moments(trainer):
    for group in trainer.opt_d.state.values():
        group["exp_avg_sq"].zero_()


def draw_an_extra(trainer):
    torch.rand(1)


@pytest.mark.parametrize("lose", [lose_moments, draw_an_extra], ids=["D's Adam moments", "a torch RNG draw"])
def test_a_resume_that_loses_state_and_trains_on_fails(tmp_path, monkeypatch, lose):
    """A resume bug (injected after the checkpoint is restored), trained on for an epoch, is far beyond the
    rounding tolerance: the tolerance cannot hide it."""
    from helpers import TINY_OPTIONS

    import vanilla_gan as vg
    from vanilla_gan.training import trainstate

    straight = vg.train(**TINY_OPTIONS, epochs=2, seed=4, out=tmp_path / "straight", report=False).path
    resumed = tmp_path / "resumed"
    vg.train(**TINY_OPTIONS, epochs=1, seed=4, out=resumed, report=False)
    vg.train(out=resumed, resume=True, epochs=2, report=False)
    assert_same_run(resumed, straight)  # a faithful resume passes
    restore = trainstate.restore

    def faulty(trainer, state):
        restore(trainer, state)
        lose(trainer)
    monkeypatch.setattr(trainstate, "restore", faulty)
    broken = tmp_path / "broken"
    vg.train(**TINY_OPTIONS, epochs=1, seed=4, out=broken, report=False)
    vg.train(out=broken, resume=True, epochs=2, report=False)
    with pytest.raises(AssertionError):
        assert_same_run(broken, straight)
    weights = [torch.load(r / "checkpoints" / "last.pt", weights_only=True)["generator"] for r in (broken, straight)]
    gap = max(float((a - b).abs().max()) for a, b in zip(weights[0].values(), weights[1].values(), strict=True))
    assert gap > 100 * FLOAT_TOLERANCE["atol"], gap  # not a near miss
