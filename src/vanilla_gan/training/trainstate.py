"""What a checkpoint holds of a Trainer, and taking it back: the weights, the EMA, both Adam states, the
position in the run (epoch, step, the interrupted epoch's permutation and statistics), every RNG state and the
metrics log. `Trainer.state_dict()`, `Trainer.load_state_dict()` and `Trainer.resume()` call these;
checkpoint.py writes, reads and validates the dict.
"""

from __future__ import annotations

import math
from typing import Any

from vanilla_gan._version import __version__
from vanilla_gan.config import ModelConfig, TrainConfig, resume_configs, to_dict
from vanilla_gan.data.arrays import shape_words
from vanilla_gan.errors import CheckpointError, UsageError
from vanilla_gan.runs.checkpoint import class_name
from vanilla_gan.training import distributed
from vanilla_gan.training.process import rng_state, set_rng_state


def state_of(trainer: Any) -> dict[str, Any]:
    """The checkpoint dict of a Trainer (a collective under torchrun: every rank's RNG state is gathered)."""
    t = trainer
    mid_epoch = t.batch_in_epoch > 0
    return {
        "package_version": __version__, "model_config": to_dict(t.model_config), "train_config": to_dict(t.config),
        "modules": {"generator": class_name(t.G), "discriminator": class_name(t.D)},
        "generator": t.G.state_dict(), "discriminator": t.D.state_dict(),
        "generator_ema": t.G_ema.state_dict() if t.G_ema is not None else None,
        "opt_g": t.opt_g.state_dict(), "opt_d": t.opt_d.state_dict(),
        "epoch": t.epoch, "step": t.step, "batch_in_epoch": t.batch_in_epoch, "num_images": t.num_images,
        "permutation": t.permutation.cpu() if mid_epoch else None,
        "epoch_stats": t.epoch_stats.cpu() if mid_epoch else None,
        "epoch_time": t.epoch_time, "elapsed": t.elapsed, "epoch_cap": t.epoch_cap,
        "rng": distributed.gather(rng_state()),  # one per rank
        "permutation_rng": t.permutation_rng.get_state(), "fixed_noise": t.fixed_noise,
        "seed": t.config.seed, "metrics": t.metrics, "best_fid": t.best_fid, "data_sha256": t.data_sha256,
        "objective": t.objective.name,
    }


def resume(cls: Any, state: dict[str, Any], images: Any, run: Any, changes: dict[str, Any], **kwargs: Any) -> Any:
    """A Trainer (of class `cls`) rebuilt from a checkpoint dict, its configs changed only as config.RESUMABLE
    allows (config.resume_configs), for these images (checked), with the checkpoint's state."""
    saved = state["train_config"]
    cap = state.get("epoch_cap", saved.get("epochs"))  # the epochs the run was given (older files: its length)
    asked = (changes.get("epochs", cap), changes.get("minutes", saved.get("minutes")))
    same = "epochs" in saved and asked == (cap, saved.get("minutes"))  # its own length typed again, or none
    if same:
        changes = {**changes, "epochs": saved.get("epochs")}
    model_config, train_config = resume_configs(state["model_config"], saved, changes, state["epoch"])
    check_fits(state, images, model_config, train_config)
    trainer = cls(model_config, train_config, images, run, **kwargs)
    trainer.load_state_dict(state)
    if same:  # a new length asked is planned anew, capped by what was asked
        trainer.epoch_cap = cap
    return trainer


def check_fits(state: dict[str, Any], images: Any, model_config: ModelConfig, train_config: TrainConfig) -> None:
    """Before a Trainer is built to resume `state`: the images have the run's shape and number (else a UsageError
    that says which options to resume with)."""
    if model_config.shape != tuple(images.shape[1:]):
        raise UsageError(f"the run was trained on {shape_words(model_config.shape)} images and --dataset "
                         f"{train_config.dataset} gives {shape_words(images.shape[1:])} ones: resume with the "
                         f"run's --dataset and --image-size")
    if images.shape[0] != state["num_images"]:
        raise UsageError(f"the data set has {images.shape[0]} images but the run was trained on "
                         f"{state['num_images']}: resume with the run's --dataset and --limit")


def restore(trainer: Any, state: dict[str, Any]) -> None:
    """Put a (validated) checkpoint's state into a Trainer built from its configs and the run's images (their
    SHA-256 checked); a misfit is a CheckpointError."""
    t = trainer
    if state.get("data_sha256", t.data_sha256) != t.data_sha256:  # older files have none
        raise UsageError(f"the images of --dataset {t.config.dataset} are not the ones the run was trained on "
                         f"(their SHA-256 differs): resume it with the data it was trained on")
    trained_with = state.get("objective", t.config.g_loss)  # older files: the built-in one, named by --g-loss
    if trained_with != t.objective.name:
        raise UsageError(f"the run was trained with the objective {trained_with!r}, not {t.objective.name!r}: "
                         f"resume it with the same objective (a user's own is given in Python: "
                         f"vg.train(resume=True, objective=...))")
    rngs = state.get("rng")
    if isinstance(rngs, list) and len(rngs) != t.world:
        raise UsageError(f"the run was trained by {len(rngs)} process(es): resume it with as many "
                         f"(torchrun --nproc_per_node={len(rngs)}), not {t.world}")
    try:
        t.G.load_state_dict(state["generator"])
        t.D.load_state_dict(state["discriminator"])
        if t.G_ema is not None:
            t.G_ema.load_state_dict(state["generator_ema"])
        for optimizer, key in ((t.opt_g, "opt_g"), (t.opt_d, "opt_d")):
            optimizer.load_state_dict(state[key])
            for group in optimizer.param_groups:  # this run's hyper-parameters (and capturable: this machine's)
                group.update({k: v for k, v in optimizer.defaults.items() if k != "params"})
        t.epoch, t.step, t.batch_in_epoch = state["epoch"], state["step"], state["batch_in_epoch"]
        if t.batch_in_epoch:
            t.permutation = state["permutation"].to(t.device)
            t.epoch_stats = state["epoch_stats"].to(t.device)
            if not 0 < t.batch_in_epoch < t.steps_per_epoch or len(t.epoch_stats) != t.steps_per_epoch:
                raise CheckpointError(f"the checkpoint stopped at step {t.batch_in_epoch} of an epoch, which does "
                                      f"not fit the {t.steps_per_epoch} steps an epoch has at its --batch-size "
                                      f"{t.config.batch_size}: the file is damaged")
        t.epoch_time, t.elapsed = float(state["epoch_time"]), float(state["elapsed"])
        t.fixed_noise, t.metrics = state["fixed_noise"], list(state["metrics"])
        t.best_fid = float(state.get("best_fid", math.inf))
        set_rng_state(rngs[t.rank])
        t.permutation_rng.set_state(state["permutation_rng"])
        t.resumed = True
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError, OverflowError) as exc:
        raise CheckpointError(f"the checkpoint does not fit its model config or this version ({exc})") from exc
