"""Configuration (config.py): the defaults are the classic model, round trips through dicts, and the rule of
what a resumed run may change. Run: python -m pytest tests/test_config.py
"""

import pytest

from vanilla_gan.config import RESUMABLE, ModelConfig, TrainConfig, from_dict, option, resume_configs, to_dict
from vanilla_gan.errors import UsageError


def test_defaults_are_the_classic_model_and_adam():
    model, train = ModelConfig(), TrainConfig()
    assert (model.latent_dim, model.g_hidden, model.d_hidden, model.slope, model.dropout) == (
        100, (256, 512, 1024), (1024, 512, 256), 0.2, 0.3)
    assert train.lr == 2e-4 and train.g_loss == "non-saturating"


def test_configs_round_trip_through_plain_dicts():
    train = TrainConfig(betas=(0.9, 0.99), seed=4)
    data = to_dict(train)
    assert data["betas"] == [0.9, 0.99] and from_dict(TrainConfig, data) == train
    with pytest.raises(UsageError, match="unknown TrainConfig keys: colour"):
        from_dict(TrainConfig, {**data, "colour": "red"})


def test_resume_may_change_only_how_long_and_where():
    model, train = to_dict(ModelConfig()), to_dict(TrainConfig(seed=1, epochs=5))
    _, resumed = resume_configs(model, train, {"epochs": 9, "device": "cpu", "seed": 1, "lr": 2e-4}, 5)
    assert resumed.epochs == 9 and resumed.seed == 1  # the same seed and lr may be given again
    with pytest.raises(UsageError, match=r"^--lr, --latent-dim: must match the run being resumed; only --epochs"):
        resume_configs(model, train, {"lr": 0.1, "latent_dim": 8}, 5)
    with pytest.raises(UsageError, match="--epochs 4 is fewer than the 5 epochs"):
        resume_configs(model, train, {"epochs": 4}, 5)
    assert "epochs" in RESUMABLE and "batch_size" not in RESUMABLE and option("batch_size") == "--batch-size"


def test_resume_compares_with_the_defaults_an_older_run_did_not_record():
    """A run written before an option existed has no key for it: giving the option's default again is no change,
    another value is."""
    model, train = to_dict(ModelConfig()), to_dict(TrainConfig(seed=1, epochs=5))
    del model["g_convs"], train["r1_every"]
    resume_configs(model, train, {"g_convs": 0, "r1_every": 1, "epochs": 6}, 5)
    with pytest.raises(UsageError, match="^--g-convs: must match"):
        resume_configs(model, train, {"g_convs": 1}, 5)


def test_hand_edited_configs_are_usage_errors_not_tracebacks():
    with pytest.raises(UsageError, match="not a mapping"):
        from_dict(TrainConfig, [1, 2])
    with pytest.raises(UsageError, match="--betas must be a list of numbers"):
        from_dict(TrainConfig, {"betas": 0.5})
