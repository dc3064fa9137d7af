"""Configuration dataclasses: `ModelConfig` (the networks) and `TrainConfig` (the run), and the rule of what a
resumed run may change (`resume_configs`).

The defaults are the classic MLP GAN of the 'GANs from scratch' tutorials (D 784-1024-512-256-1,
G 100-256-512-1024-784, LeakyReLU 0.2, dropout 0.3, Adam lr 2e-4, BCE), trained with the original GAN's algorithm
(Goodfellow et al., 2014; not the paper's own maxout network and momentum SGD), plus the choices it leaves open.
Both round-trip through plain dicts (`to_dict` / `from_dict`) so they can live in config.json and in checkpoints.
Field names are the command line's options with `_` for `-` (`batch_size`, `--batch-size`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any

from vanilla_gan.errors import UsageError

IMAGE_PIXELS = 28 * 28  # the digits'; a run's own images are ModelConfig.image_shape
DIGIT_SHAPE = (28, 28)  # what a checkpoint without an image_shape (older versions) was trained on
MAX_SIDE = 1024  # pixels per side of a training image (--image-size)
MAX_PIXELS = 256 * 256 * 3  # values per image: D's first layer is this times its width (1024: 800 MB of weights)
G_LOSSES = ("non-saturating", "minimax")
NETS = ("mlp", "conv")  # --g-net, --d-net: the classic MLP (default) or the DCGAN-style convolutional network
D_NETS = (*NETS, "mlp+conv")  # --d-net also: both Ds side by side, their logits summed
MAX_G_CONVS = 8
MAX_G_REFINE = 256
AUGMENTS = ("translation", "cutout")  # --augment: DiffAugment's (Zhao et al. 2020), of real and generated alike
MAX_CONV_WIDTH = 1024
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")


MAX_WIDTH = 65_536  # a layer of D's 784 inputs times this is 200 MB of weights: plenty, not absurd
MAX_SEED = 2**63 - 1
MAX_THREADS = 1024
MAX_EVAL_SAMPLES = 200_000
MAX_SAMPLES = 1_000_000  # `sample -n` into a .npy (784 MB) and Run.sample
MAX_EPOCHS = 1_000_000  # also what --minutes without --epochs means: as many as the time allows
MAX_D_STEPS = 10  # D updates per G update: Goodfellow et al. used k = 1; a few is the range worth trying
MAX_GRID, MAX_WALKS, MAX_SCALE = 10_000, 256, 16  # digits in a grid picture; walks and frames; pixels per pixel


def check_whole(name: str, value: object, low: int, high: int) -> int:
    """`value` as an int in low..high, else a one-line UsageError naming `name` as the caller spells it (`--seed`,
    `seed`); the value is shown only when it is a short number or string."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        shown = repr(value) if isinstance(value, (int, float, str)) and len(repr(value)) <= 40 else (
            f"a {type(value).__name__}")
        raise UsageError(f"{name} must be a whole number in {low:,}..{high:,}, got {shown}")
    return int(value)


@dataclass
class ModelConfig:
    latent_dim: int = 100
    g_hidden: tuple[int, ...] = (256, 512, 1024)
    d_hidden: tuple[int, ...] = (1024, 512, 256)
    slope: float = 0.2  # LeakyReLU negative slope, G and D
    dropout: float = 0.3  # after each of D's hidden layers
    # The images' shape, (H, W) grey or (H, W, 3) colour: G's output and D's input are their H x W x C values.
    # None: the training data's (the Trainer fills it in from the images; an older checkpoint: 28 x 28 grey).
    image_shape: tuple[int, ...] | None = None
    # Options that change the networks (off by default: the classic MLPs above). "conv": the DCGAN-style G or D
    # (models.py) with conv_width channels in its wider layer's half; d_net "mlp+conv": both Ds, logits summed.
    g_net: str = "mlp"
    d_net: str = "mlp"
    conv_width: int = 64
    g_convs: int = 0  # 3x3 convolutions at the conv G's smallest scale (7 x 7 for the digits)
    g_refine: int = 0  # channels of the conv G's last transposed convolution, then a 3x3 one to the image (0: none)
    spectral_norm: bool = False  # D's layers spectrally normalised (Miyato et al. 2018)
    minibatch_std: bool = False  # D's last layer also sees the std of its features over groups of 4 images

    @property
    def shape(self) -> tuple[int, ...]:
        """The image shape the networks are built for: image_shape, or the digits' (28, 28) when None."""
        return tuple(self.image_shape) if self.image_shape is not None else DIGIT_SHAPE

    @property
    def pixels(self) -> int:
        """Values per image: G's outputs and D's inputs (784 for the digits, 3,072 for 32x32 colour)."""
        return math.prod(self.shape)

    def validate(self) -> None:
        check_types(self)
        if self.image_shape is not None and (
                len(self.image_shape) not in (2, 3) or (len(self.image_shape) == 3 and self.image_shape[2] != 3)
                or not all(1 <= side <= MAX_SIDE for side in self.image_shape[:2]) or self.pixels > MAX_PIXELS):
            raise UsageError(f"image_shape must be (H, W) or (H, W, 3) with sides in 1..{MAX_SIDE} and at most "
                             f"{MAX_PIXELS:,} values, got {self.image_shape}")
        if not 1 <= self.latent_dim <= MAX_WIDTH:
            raise UsageError(f"--latent-dim must be in 1..{MAX_WIDTH}, got {self.latent_dim}")
        for name in ("g_hidden", "d_hidden"):
            widths = getattr(self, name)
            if not widths or len(widths) > 16 or any(not 1 <= w <= MAX_WIDTH for w in widths):
                raise UsageError(f"{option(name)} needs 1 to 16 widths in 1..{MAX_WIDTH} like 256,512,1024, "
                                 f"got {widths}")
        if not 0 <= self.slope <= 1:
            raise UsageError(f"--slope must be in [0, 1], got {self.slope}")
        if not 0 <= self.dropout < 1:
            raise UsageError(f"--dropout must be in [0, 1), got {self.dropout}")
        for name, nets in (("g_net", NETS), ("d_net", D_NETS)):
            if getattr(self, name) not in nets:
                raise UsageError(f"{option(name)} must be one of {', '.join(nets)}, got {getattr(self, name)!r}")
        for name, most in (("g_convs", MAX_G_CONVS), ("g_refine", MAX_G_REFINE)):  # the conv G's convolutions
            value = getattr(self, name)
            if not 0 <= value <= most:
                raise UsageError(f"{option(name)} must be in 0..{most}, got {value}")
            if value and self.g_net != "conv":
                raise UsageError(f"{option(name)} {value} adds convolutions to the conv G: add --g-net conv, or drop "
                                 "it")
        if not 1 <= self.conv_width <= MAX_CONV_WIDTH:
            raise UsageError(f"--conv-width must be in 1..{MAX_CONV_WIDTH}, got {self.conv_width}")
        if (self.g_net == "conv" or self.d_net != "mlp") and any(side % 4 for side in self.shape[:2]):
            raise UsageError(f"--g-net conv and --d-net conv or mlp+conv halve the image twice: its sides must be "
                             f"multiples of 4, got {self.shape[0]} x {self.shape[1]} (resize with --image-size)")


@dataclass
class TrainConfig:
    dataset: str = "digits"  # a name, a path (absolute), or "in-memory ..." for data given in Python
    image_size: int | None = None  # resize every image to image_size x image_size on loading; None: as they are
    limit: int | None = None  # train on N images spread over the data set (quick trials)
    epochs: int = 112
    minutes: float | None = None  # a time budget: stop at the first epoch end after this much training time
    batch_size: int = 32
    lr: float = 2e-4
    lr_d: float | None = None  # D's learning rate when not --lr (TTUR, Heusel et al. 2017); --lr is then G's
    betas: tuple[float, float] = (0.5, 0.999)
    g_loss: str = "non-saturating"
    d_steps: int = 1  # D updates per G update (k in Goodfellow et al. 2014's Algorithm 1), each on its own batch
    real_label: float = 1.0  # D's target for real images; 0.9 is one-sided label smoothing (Salimans et al. 2016)
    lr_cooldown: float = 0.0  # the last fraction of the steps lowers the learning rate linearly to 0; 0 = none
    ema_decay: float = 0.9998  # sample from an exponential moving average of G's weights; 0 = off
    # What D sees and how it is held back (off by default):
    augment: str = ""  # "translation", "cutout" or both, comma-separated: of real and generated images alike
    instance_noise: float = 0.0  # sigma of Gaussian noise on D's inputs, annealed linearly to 0 over the run
    r1_gamma: float = 0.0  # R1 penalty gamma/2 E|grad D(x)|^2 on real images (Mescheder et al. 2018); 0 = none
    r1_every: int = 1  # the penalty every K steps, weighted by K (lazy regularisation, Karras et al. 2020)
    seed: int | None = None
    device: str = "auto"
    precision: str = "fp32"  # or "bf16": autocast of the forward passes
    cuda_graph: bool = True  # on one CUDA GPU, replay the whole step as a CUDA graph (no effect on CPU)
    threads: int | None = None  # CPU threads for training; None = chosen from the machine and its load (threads.py)
    checkpoint_every: int = 0  # also keep checkpoints/epoch_NNNN.pt every K epochs; 0 = only last.pt
    eval_every: int = 32  # evaluate (FID, IS, ...) every K epochs and at the last one; 0 = never
    eval_samples: int = 10_000  # generated images per evaluation
    log_every: int = 50  # steps between reading losses back from the device (progress bar)
    grid_size: int = 64  # fixed-noise samples in each epoch's grid

    def validate(self) -> None:
        check_types(self)
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "log_every": self.log_every,
                    "grid_size": self.grid_size}
        for name, value in positive.items():
            if value < 1:
                raise UsageError(f"{option(name)} must be at least 1, got {value}")
        if self.epochs > MAX_EPOCHS or self.grid_size > 1024:
            raise UsageError(f"--epochs must be at most {MAX_EPOCHS} (got {self.epochs}), the grid at most 1024 digits")
        if self.minutes is not None and not 0 < self.minutes <= 1e6:
            raise UsageError(f"--minutes must be a positive number of minutes, got {self.minutes}")
        if self.image_size is not None and not 1 <= self.image_size <= MAX_SIDE:
            raise UsageError(f"--image-size must be in 1..{MAX_SIDE} (pixels per side), got {self.image_size}")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {self.limit}")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise UsageError(f"--threads must be 1..{MAX_THREADS} (or left out: chosen from the machine), "
                             f"got {self.threads}")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise UsageError(f"--seed must be in 0..2**63-1, got {self.seed}")
        if self.eval_every < 0:
            raise UsageError(f"--eval-every must be >= 0 (0 = never), got {self.eval_every}")
        if not 1000 <= self.eval_samples <= MAX_EVAL_SAMPLES:
            raise UsageError(f"--eval-samples must be in 1000..{MAX_EVAL_SAMPLES}, got {self.eval_samples}")
        if self.checkpoint_every < 0:
            raise UsageError(f"--checkpoint-every must be >= 0, got {self.checkpoint_every}")
        if not 0 < self.lr <= 1:
            raise UsageError(f"--lr must be a number in (0, 1], got {self.lr}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise UsageError(f"--betas needs two numbers in [0, 1) like 0.5,0.999, got {self.betas}")
        if not 1 <= self.d_steps <= MAX_D_STEPS:
            raise UsageError(f"--d-steps must be in 1..{MAX_D_STEPS}, got {self.d_steps}")
        if not 0.5 < self.real_label <= 1:
            raise UsageError(f"--real-label must be in (0.5, 1], got {self.real_label}")
        if not 0 <= self.lr_cooldown < 1:
            raise UsageError(f"--lr-cooldown must be a fraction of the steps in [0, 1), got {self.lr_cooldown}")
        if self.lr_d is not None and not 0 < self.lr_d <= 1:
            raise UsageError(f"--lr-d must be a number in (0, 1], got {self.lr_d}")
        unknown = [a for a in self.augments if a not in AUGMENTS]
        if unknown or len(set(self.augments)) != len(self.augments):
            raise UsageError(f"--augment takes {' and/or '.join(AUGMENTS)}, comma-separated, got {self.augment!r}")
        if not 0 <= self.instance_noise <= 10:
            raise UsageError(f"--instance-noise must be a sigma in [0, 10] (0 = none), got {self.instance_noise}")
        if self.instance_noise and self.minutes is not None:
            raise UsageError("--instance-noise anneals over a known number of steps: give --epochs, not --minutes")
        if not 0 <= self.r1_gamma <= 1e4:
            raise UsageError(f"--r1-gamma must be in [0, 10000] (0 = none), got {self.r1_gamma}")
        if not 1 <= self.r1_every <= 1000:
            raise UsageError(f"--r1-every must be in 1..1000 steps, got {self.r1_every}")
        if not 0 <= self.ema_decay < 1:
            raise UsageError(f"--ema-decay must be in [0, 1) (0 turns it off), got {self.ema_decay}")
        if self.g_loss not in G_LOSSES:
            raise UsageError(f"--g-loss must be one of {', '.join(G_LOSSES)}, got {self.g_loss!r}")
        if self.precision not in PRECISIONS:
            raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.device not in DEVICES:
            raise UsageError(f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}")


    @property
    def augments(self) -> list[str]:
        """--augment as a list: [] when off."""
        return [a.strip() for a in self.augment.split(",")] if self.augment.strip() else []

    @property
    def d_lr(self) -> float:
        """D's learning rate: --lr-d, or --lr when not given."""
        return self.lr if self.lr_d is None else self.lr_d

    @property
    def shapes_d_input(self) -> bool:
        """Whether D's inputs are transformed or its gradient penalised (the step then has Python control flow
        that a CUDA graph cannot capture)."""
        return bool(self.augments or self.instance_noise or self.r1_gamma)


def check_types(config: ModelConfig | TrainConfig) -> None:
    """Each field holds its annotated type (config.json and checkpoints are files anyone can edit); numbers
    are finite (NaN and infinity slip through every range check)."""
    for f in fields(config):
        value, kind = getattr(config, f.name), str(f.type)
        if value is None and "None" in kind:
            continue
        if kind.startswith("tuple") and value is not None:
            element = float if "float" in kind else int
            ok = isinstance(value, tuple) and all(_is_number(v, element) for v in value)
        elif kind.startswith(("int", "float")):
            ok = _is_number(value, int if kind.startswith("int") else float)
        else:
            ok = isinstance(value, bool if kind == "bool" else str)
        if not ok:
            shown = repr(value) if isinstance(value, (int, float, str, tuple, type(None))) and len(
                repr(value)) <= 40 else f"a {type(value).__name__}"
            raise UsageError(f"{option(f.name)} must be {_KIND_WORDS.get(kind.replace(' | None', ''), kind)}, "
                             f"got {shown}")


_KIND_WORDS = {"int": "an integer", "float": "a finite number", "str": "text", "bool": "true or false",
               "tuple[int, ...]": "integers like 256,512,1024", "tuple[float, float]": "two finite numbers"}


def _is_number(value: object, kind: type) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        return False
    return math.isfinite(value)


def is_finite_number(value: object) -> bool:
    """An int or float (not a bool), finite: what a config, a checkpoint or a metrics line may hold as a number."""
    return _is_number(value, float)


def to_dict(config: ModelConfig | TrainConfig) -> dict[str, Any]:
    """Plain JSON-able dict (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def from_dict(cls: type, data: dict[str, Any]):
    """Rebuild a config from `to_dict`'s output; unknown keys are an error (RETIRED ones are dropped), missing ones
    take defaults (then `validate` checks types and ranges). Anything else (a file edited by hand) is a UsageError."""
    if not isinstance(data, dict):
        raise UsageError(f"the {cls.__name__} is {type(data).__name__}, not a mapping of options")
    data = {k: v for k, v in data.items() if k not in RETIRED}
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise UsageError(f"unknown {cls.__name__} keys: {', '.join(sorted(unknown))}")
    tuple_fields = {f.name for f in fields(cls) if str(f.type).startswith("tuple")}
    bad = [k for k in tuple_fields & set(data) if not isinstance(data[k], (list, tuple))
           and not (data[k] is None and "None" in str(next(f.type for f in fields(cls) if f.name == k)))]
    if bad:
        raise UsageError(f"{option(bad[0])} must be a list of numbers, got {data[bad[0]]!r}")
    return cls(**{k: tuple(v) if k in tuple_fields and v is not None else v for k, v in data.items()})


# What `--resume` may change: how long and where a run trains, and how it reports. Everything else decides
# what is trained and must match the checkpoint.
RESUMABLE = ("epochs", "minutes", "device", "precision", "cuda_graph", "threads", "log_every", "checkpoint_every",
             "eval_every", "eval_samples")
# Options that no longer exist and changed no result: a config.json, checkpoint or sweep.json that holds them is
# read as if it did not. adam_in_backward (Adam applied inside the backward pass, bit-identical to after it) was
# removed after 0.2.0: it called a private torch function and was not shown faster on both an AMD and an Intel CPU.
RETIRED = ("adam_in_backward",)


def option(name: str) -> str:
    """The command-line spelling of a config field: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


def resume_configs(saved_model: dict[str, Any], saved_train: dict[str, Any], changes: dict[str, Any],
                   epochs_done: int) -> tuple[ModelConfig, TrainConfig]:
    """The configs of a resumed run: the saved ones with `changes` (field -> value) applied.

    A change to a field outside RESUMABLE (to a value other than the saved one) is a UsageError, as is
    asking for fewer epochs than the run already has.
    """
    model = from_dict(ModelConfig, saved_model)  # the defaults fill what an older run did not record
    saved = {**to_dict(from_dict(TrainConfig, saved_train)), **to_dict(model)}
    conflicts = [name for name, value in changes.items()
                 if name not in RESUMABLE and (list(value) if isinstance(value, tuple) else value) != saved.get(name)]
    if conflicts:
        allowed = ", ".join(option(name) for name in RESUMABLE)
        raise UsageError(f"{', '.join(option(name) for name in conflicts)}: must match the run being resumed; only "
                         f"{allowed} may change (start a new run with another --out)")
    train = from_dict(TrainConfig, {**saved_train, **{k: v for k, v in changes.items() if k in RESUMABLE}})
    if train.epochs < epochs_done:
        raise UsageError(f"--epochs {train.epochs} is fewer than the {epochs_done} epochs the run already has")
    model.validate()
    train.validate()
    return model, train


__all__ = ["ModelConfig", "TrainConfig", "to_dict", "from_dict", "IMAGE_PIXELS", "DIGIT_SHAPE", "MAX_SIDE",
           "MAX_PIXELS", "G_LOSSES", "NETS", "D_NETS", "MAX_G_CONVS", "MAX_G_REFINE", "AUGMENTS", "with_recipe",
           "DEVICES", "PRECISIONS", "RESUMABLE", "RETIRED", "option", "resume_configs"]


# A single switch for a known set of options; options given beside it win.
RECIPES: dict[str, dict[str, Any]] = {
    "tutorial": {"batch_size": 100, "betas": (0.9, 0.999), "ema_decay": 0.0},  # the notebooks' plain Adam
    # The best combination of the discriminator study within a default run's time on 2 cores (docs/experiments/
    # discriminator.md): the DCGAN-style G at width 48 with one more 3x3 convolution at 7x7 and one at full size
    # from 16 channels (--g-refine 16: the edges' grey levels), against the classic
    # MLP D (dropout 0.3: it judges shapes) and a conv D (no dropout: it sees texture) side by side, held by a lazy
    # R1 penalty, at twice the classic learning rate falling to 0 over the last 30% of the steps (G ends settled:
    # without it the two-sample test swung by up to 0.12 from one epoch to the next), a shorter moving average;
    # 48 epochs at about 0.35x the default's speed, or fewer where 9 minutes of training end sooner (the budget
    # plans the cooldown's length), evaluated once at the end: under 10 minutes end to end on an idle 2-core CPU
    # (48 epochs took 10 m 54 s on a slow day of the AMD EPYC, 9 m 43 s on a faster one).
    "best": {"g_net": "conv", "g_convs": 1, "g_refine": 16, "d_net": "mlp+conv", "conv_width": 48, "lr": 4e-4,
             "lr_cooldown": 0.3, "ema_decay": 0.999, "r1_gamma": 1.0, "r1_every": 16, "epochs": 48, "minutes": 9,
             "eval_every": 48},
}

def with_recipe(recipe: str | None, options: dict[str, Any],
                recipes: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """`options` over the recipe's (None: no recipe; `recipes`: RECIPES, or another version's). A recipe's G
    convolutions follow its conv G: they are left out when the options given pick the MLP G, so `--recipe best
    --g-net mlp` trains, and only a --g-convs or --g-refine the user typed is refused beside it."""
    merged = {**(RECIPES if recipes is None else recipes).get(recipe or "", {}), **options}
    for name in ("g_convs", "g_refine"):
        if name not in options and merged.get("g_net", "mlp") != "conv":
            merged.pop(name, None)
    if "epochs" in options or "minutes" in options:  # the user's length replaces the recipe's, both parts
        merged = {k: v for k, v in merged.items() if k not in ("epochs", "minutes") or k in options}
    return merged


MODEL_OPTIONS = tuple(f.name for f in fields(ModelConfig) if f.name != "image_shape")  # that one: from the data
TRAIN_OPTIONS = tuple(f.name for f in fields(TrainConfig))
