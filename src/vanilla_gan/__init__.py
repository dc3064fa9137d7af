"""vanilla-gan: the classic MLP GAN of the 'GANs from scratch' tutorials, trained with the original GAN's
algorithm (Goodfellow et al., 2014), on handwritten digits or your own images.

    import vanilla_gan as vg
    run = vg.train(epochs=5, out="runs/nb", seed=1)      # the same Trainer and run folder as the CLI
    images = run.sample(64, seed=0)                      # uint8 (64, 28, 28)
    run = vg.train(dataset=my_images, out="runs/mine", overwrite=True)   # your own (N, H, W[, 3]) images
    run.grid(images)                                     # a PIL image: shows itself in Jupyter
    vg.load("runs/nb").evaluate(n=10_000)                # a dict, the keys of `vanilla-gan evaluate --json`
    vg.pretrained().sample(8)                            # the shipped weights: no training

The command-line tool is `vanilla-gan` (see `vanilla-gan --help`); both are documented in the README.
The folders, lowest first (docs/design.md has the map): errors, config -> data, gan (the networks and the step)
-> runs (the run folder) -> training (the loop) -> evaluation -> report -> api (what Python calls) -> cli.
`load_images` is the loader of every kind of data; `load_dataset(name)` gives a named data set's images and labels.
"""

from vanilla_gan._version import __version__
from vanilla_gan.api.pretrained import Pretrained, pretrained
from vanilla_gan.api.run import Run, load
from vanilla_gan.api.session import Training
from vanilla_gan.api.train import train
from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.data.sources import load_images
from vanilla_gan.errors import (
    CheckpointError,
    DataError,
    Interrupted,
    StorageError,
    TrainingError,
    UsageError,
    VanillaGanError,
)
from vanilla_gan.gan.models import Discriminator, Generator
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.training.process import reproducible_mkl
from vanilla_gan.training.trainer import Trainer

# Before MKL's first call (importing torch makes none), for every entry point: the CLI, the API, torchrun's
# ranks and sweep workers (their environment is this one's).
reproducible_mkl()

__all__ = [
    "__version__", "train", "load", "pretrained", "Run", "Pretrained", "Training", "Trainer", "RunDir", "ModelConfig",
    "TrainConfig",
    "Generator", "Discriminator", "load_dataset", "load_images", "VanillaGanError", "UsageError", "DataError",
    "CheckpointError", "StorageError", "TrainingError", "Interrupted",
]
