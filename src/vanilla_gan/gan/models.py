"""The classic MLP GAN's two networks (the 'GANs from scratch' tutorials' model, trained with Goodfellow et al.,
2014's algorithm; not the paper's own maxout network), built from a
`ModelConfig`. No I/O, no argument parsing.

    G = Generator(ModelConfig())          # z (B, 100) -> images (B, 28, 28) in (-1, 1)
    D = Discriminator(ModelConfig())      # images (B, 28, 28) (or flat, (B, 784)) -> P(real) (B,)
    G = Generator(ModelConfig(image_shape=(32, 32, 3)))   # z (B, 100) -> images (B, 32, 32, 3): 3,072 outputs

The image shape is `config.shape`: (H, W) grey or (H, W, 3) colour, channels last like the training data; the
networks see its H x W x C values as one vector.

D ends in a Sigmoid for users (`D(x)` is a probability); training uses `D.logits(x)` with
BCE-with-logits, which is the same function as Sigmoid + BCE but cannot overflow.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import torch
from torch import nn

from vanilla_gan.config import ModelConfig
from vanilla_gan.errors import UsageError


class Dropout(nn.Dropout):
    """nn.Dropout (zero each value with probability p, scale the rest by 1/(1-p)), with its mask drawn as
    uniform < 1-p: on CPU `torch.rand` is about 3x faster than the `bernoulli_` that nn.Dropout calls, and
    dropout was 15% of a training step. The same distribution, to float32's resolution of p."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))


class Generator(nn.Module):
    """z -> three (by default) Linear + LeakyReLU layers -> Linear -> Tanh: images (B, *config.shape) in (-1, 1)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.latent_dim
        for hidden in config.g_hidden:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(config.slope)]
            width = hidden
        layers += [nn.Linear(width, config.pixels), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.image_shape = config.shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.image_shape)  # (B, 784) -> (B, 28, 28), no copy


class Discriminator(nn.Module):
    """H x W x C values (784) -> three (by default) Linear + LeakyReLU + Dropout layers -> Linear -> Sigmoid."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = self.pixels = config.pixels
        for hidden in config.d_hidden:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(config.slope), Dropout(config.dropout)]
            width = hidden
        if config.minibatch_std:
            layers.append(MinibatchStd())
        layers.append(nn.Linear(width + config.minibatch_std, 1))
        self.net = nn.Sequential(*layers)
        if config.spectral_norm:
            _spectral_norm(self)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid scores (B,) for images (B, 784) or (B, 28, 28) scaled to (-1, 1)."""
        return self.net(images.reshape(images.shape[0], self.pixels)).squeeze(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The probability (B,) that each image is real."""
        return torch.sigmoid(self.logits(images))


class ConvGenerator(nn.Module):
    """--g-net conv, the DCGAN-style G (Radford et al. 2015) sized for 28 x 28 and a CPU: z -> Linear to
    2w x H/4 x W/4 -> BatchNorm, ReLU -> [--g-convs times: Conv 3x3 -> BatchNorm, ReLU] -> ConvTranspose 4x4
    stride 2 to w channels -> BatchNorm, ReLU -> ConvTranspose 4x4 stride 2 to C channels -> Tanh: images
    (B, *config.shape) in (-1, 1). w = --conv-width. The 3x3 convolutions work at the smallest scale, where the
    digit's shape is laid out, for little cost. --g-refine R: the last transposed convolution goes to R channels
    -> BatchNorm, ReLU -> Conv 3x3 to C channels -> Tanh, so that each pixel's grey level is drawn from its
    neighbours' at full resolution (where a stride-2 transposed convolution alone draws alternate pixels from
    alternate kernel taps)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config, self.image_shape = config, config.shape
        height, width, channels = _conv_shape(config)
        w = config.conv_width
        self.start = (2 * w, height // 4, width // 4)
        self.project = nn.Sequential(nn.Linear(config.latent_dim, math.prod(self.start)),
                                     nn.BatchNorm1d(math.prod(self.start)), nn.ReLU())
        shape_layers = [layer for _ in range(config.g_convs)
                        for layer in (nn.Conv2d(2 * w, 2 * w, 3, 1, 1), nn.BatchNorm2d(2 * w), nn.ReLU())]
        layers = [*shape_layers, nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU()]
        r = config.g_refine  # (layers made in this order, so that a seed draws the same weights as before)
        layers += ([nn.ConvTranspose2d(w, r, 4, 2, 1), nn.BatchNorm2d(r), nn.ReLU(), nn.Conv2d(r, channels, 3, 1, 1)]
                   if r else [nn.ConvTranspose2d(w, channels, 4, 2, 1)])
        self.net = nn.Sequential(*layers, nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        images = self.net(self.project(z).view(z.shape[0], *self.start))  # (B, C, H, W)
        return images.permute(0, 2, 3, 1).reshape(z.shape[0], *self.image_shape)  # channels last, as the data


class ConvDiscriminator(nn.Module):
    """--d-net conv: images -> Conv 4x4 stride 2 to w channels -> LeakyReLU, Dropout -> Conv 4x4 stride 2 to 2w
    -> LeakyReLU, Dropout -> Linear -> Sigmoid, so that D sees neighbouring pixels together. No BatchNorm, so
    that D scores real and generated images in one pass (Scores)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.height, self.width, self.channels = _conv_shape(config)
        w = config.conv_width
        self.features = nn.Sequential(
            nn.Conv2d(self.channels, w, 4, 2, 1), nn.LeakyReLU(config.slope), Dropout(config.dropout),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(config.slope), Dropout(config.dropout), nn.Flatten())
        self.std = MinibatchStd() if config.minibatch_std else None
        self.out = nn.Linear(2 * w * (self.height // 4) * (self.width // 4) + bool(self.std), 1)
        if config.spectral_norm:
            _spectral_norm(self)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid scores (B,) for images (B, H, W[, C]) (or flat) scaled to (-1, 1)."""
        x = images.reshape(images.shape[0], self.height, self.width, self.channels).permute(0, 3, 1, 2)
        features = self.features(x)
        return self.out(self.std(features) if self.std else features).squeeze(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(images))


class PairDiscriminator(nn.Module):
    """--d-net mlp+conv: the classic MLP D (its --d-hidden and --dropout: it judges the whole shape) and the
    conv D (--conv-width, no dropout: it sees neighbouring pixels, the texture) side by side on the same images,
    their logits summed: one D, trained as one binary classifier, whose verdict is real only if both halves
    agree. Spectral norm and the minibatch std apply to both halves."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.mlp = Discriminator(config)
        self.conv = ConvDiscriminator(dataclasses.replace(config, dropout=0.0))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.mlp.logits(images) + self.conv.logits(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(images))


class MinibatchStd(nn.Module):
    """--minibatch-std (Karras et al. 2018): one more feature for D's last layer, the standard deviation of each
    feature over a group of 4 images, averaged, so D can see a batch whose images are too alike. Groups are
    consecutive images; the batch size is a multiple of 4 (config), so D's one pass over real then generated
    images never mixes them. A batch of fewer than 4 (or not a multiple of 4) uses groups of its largest
    divisor among 4, 2, 1 (one image alone: 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, F) -> (B, F + 1)
        group = math.gcd(x.shape[0], 4)
        grouped = x.reshape(-1, group, x.shape[1])
        std = grouped.var(1, unbiased=False).add(1e-8).sqrt().mean(1, keepdim=True)  # (B / group, 1)
        return torch.cat([x, std.repeat_interleave(group, 0)], 1)


def _conv_shape(config: ModelConfig) -> tuple[int, int, int]:
    shape = config.shape
    return shape[0], shape[1], shape[2] if len(shape) == 3 else 1


def _spectral_norm(network: nn.Module) -> None:
    """--spectral-norm (Miyato et al. 2018): every Linear and Conv2d of D divided by its largest singular value,
    estimated by one power iteration per training step."""
    for module in list(network.modules()):
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.utils.parametrizations.spectral_norm(module)


def build_generator(config: ModelConfig) -> nn.Module:
    """The package's G for a config: the classic MLP (--g-net mlp, the default) or the DCGAN-style one."""
    return ConvGenerator(config) if config.g_net == "conv" else Generator(config)


def build_discriminator(config: ModelConfig) -> nn.Module:
    """The package's D for a config: the classic MLP (--d-net mlp, the default), the convolutional one, or both
    side by side (mlp+conv)."""
    networks = {"mlp": Discriminator, "conv": ConvDiscriminator, "mlp+conv": PairDiscriminator}
    return networks[config.d_net](config)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class Scores(nn.Module):
    """D's pre-sigmoid scores (B,) as a module's forward, so that DistributedDataParallel can wrap them.
    Uses `D.logits` where D has it (the package's Discriminator); else D's output is taken as the scores.

    `scores(images, parts)` scores `parts` equal consecutive parts of the batch (the step's real and generated
    halves): in one pass, or in one pass each where D has batch statistics (BatchNorm, as DCGAN's D), so that
    each part is normalised by its own statistics and no image's score depends on the other part."""

    def __init__(self, discriminator: nn.Module):
        super().__init__()
        self.discriminator = discriminator
        self.batch_statistics = has_batch_statistics(discriminator)

    def forward(self, images: torch.Tensor, parts: int = 1) -> torch.Tensor:
        d = self.discriminator
        score = d.logits if hasattr(d, "logits") else d
        if parts == 1 or not self.batch_statistics:
            return score(images).reshape(images.shape[0])
        return torch.cat([score(part).reshape(part.shape[0]) for part in images.chunk(parts)])


def has_batch_statistics(network: nn.Module) -> bool:
    """Whether a network's output for one image depends on the others in its batch (a BatchNorm layer)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.modules())


def check_networks(generator: Any, discriminator: Any, latent_dim: int, device: torch.device | str = "cpu",
                   shape: tuple[int, ...] = (28, 28), batch_size: int = 2, objective: Any = None) -> None:
    """One step's forward of what a user brings, before training, as training runs it (train mode, the run's
    batch size): G must be a module mapping z (B, latent_dim) to float32 images (B, *shape) (or flat) that depend
    on its weights, D a module giving one score per image, and an objective's losses single numbers with a
    gradient; else a UsageError saying what is wrong. No RNG state, BatchNorm statistic or mode changes."""
    for name, network in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(network, nn.Module):
            raise UsageError(f"the {name} must be a torch.nn.Module (an instance of a class), got a "
                             f"{type(network).__name__}")
    generator.to(device), discriminator.to(device)
    modes = generator.training, discriminator.training
    buffers = [b.clone() for network in (generator, discriminator) for b in network.buffers()]
    generator.train(), discriminator.train()
    try:
        with torch.random.fork_rng(devices=[]):
            _check_step(generator, discriminator, latent_dim, device, shape, batch_size, objective)
    finally:
        generator.train(modes[0]), discriminator.train(modes[1])
        with torch.no_grad():
            for saved, buffer in zip(buffers, (b for n in (generator, discriminator) for b in n.buffers()),
                                     strict=True):
                buffer.copy_(saved)


def _run(what: str, function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as exc:  # a user's code: any error, said in one line with what was being done
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise UsageError(f"{what} failed: {type(exc).__name__}: {text}") from exc


def _check_step(generator: nn.Module, discriminator: nn.Module, latent_dim: int, device: torch.device | str,
                shape: tuple[int, ...], batch: int, objective: Any) -> None:
    z = torch.randn(batch, latent_dim, device=device)
    images = _run(f"the generator on z ({batch}, {latent_dim}) in train mode (the run's batch size)", generator, z)
    if not isinstance(images, torch.Tensor):
        raise UsageError(f"the generator returns a {type(images).__name__}; it must return one tensor of images")
    if images.dtype != torch.float32:
        raise UsageError(f"the generator gives {images.dtype} images; return float32 (e.g. `.float()`)")
    if images.shape[0] != batch or images[0].numel() != math.prod(shape):
        raise UsageError(f"the generator maps z ({batch}, {latent_dim}) to {tuple(images.shape)}; it must give "
                         f"images {(batch, *shape)} like the training data (and latent_dim must be the size of its z)")
    if not images.requires_grad:
        raise UsageError("the generator's output does not depend on its weights (no gradient reaches them): G "
                         "could never learn")
    d = discriminator
    leaves = [m for m in d.modules() if not list(m.children())]
    if not hasattr(d, "logits") and leaves and isinstance(leaves[-1], nn.Sigmoid):
        raise UsageError("the discriminator ends in nn.Sigmoid: vanilla-gan takes D's pre-sigmoid scores and applies "
                         "the sigmoid in the loss (BCE with logits); drop the last nn.Sigmoid (or give D a `logits` "
                         "method returning the scores)")
    scores = _run(f"the discriminator on images {(batch, *shape)}", d.logits if hasattr(d, "logits") else d,
                  images.reshape(batch, *shape))
    if not isinstance(scores, torch.Tensor) or scores.numel() != batch:
        got = scores.numel() if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise UsageError(f"the discriminator maps images {(batch, *shape)} to {got} values; it must give one score "
                         f"per image")
    if objective is None:
        return
    scores = scores.reshape(batch).float()
    for name, loss in (("d_loss", lambda: objective.d_loss(scores, scores.detach())),
                       ("g_loss", lambda: objective.g_loss(scores))):
        value = _run(f"objective.{name}", loss)
        if not isinstance(value, torch.Tensor):
            raise UsageError(f"objective.{name} returns a {type(value).__name__}; it must return a tensor (a "
                             f"function of the scores, so that its gradient reaches the networks)")
        if value.numel() != 1:
            raise UsageError(f"objective.{name} returns {value.numel()} values; it must return one number, the "
                             f"loss averaged over the batch (a forgotten `.mean()`?)")
        if not value.requires_grad:
            raise UsageError(f"objective.{name} returns a tensor with no gradient: compute it from the scores")


class MovingAverage:
    """An exponential moving average of a network's weights, for sampling only: it changes no training step.

    Its decay warms up as min(decay, (1 + t) / (10 + t)) at step t, so early on the average follows the
    network closely instead of being dominated by the random initial weights. Buffers (BatchNorm's running
    statistics, in a user's G) are copied, not averaged (`copy_buffers`, after every step): a G drawn in eval mode
    with its initial statistics gives grey, speckled images."""

    def __init__(self, module: nn.Module, decay: float):
        self.module, self.decay = copy.deepcopy(module).requires_grad_(False), decay
        self._average, self._source = list(self.module.parameters()), list(module.parameters())
        self._buffers = list(zip(self.module.buffers(), module.buffers(), strict=True))  # (copy, source)

    def weight(self, step: int) -> float:
        return 1 - min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Move every averaged weight towards the network's, after training step `step` (counted from 0)."""
        torch._foreach_lerp_(self._average, self._source, self.weight(step))
        self.copy_buffers()

    @torch.no_grad()
    def copy_buffers(self) -> None:
        """The network's buffers (BatchNorm's running mean, variance and count) copied into the average's."""
        for copy_, source in self._buffers:
            copy_.copy_(source)
