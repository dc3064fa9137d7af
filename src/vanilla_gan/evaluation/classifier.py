"""The evaluator's feature network: a small digit classifier, shipped with its SHA-256, and how to rebuild it.

    model = load_evaluator("cpu")                   # the shipped weights (assets/evaluator.pt), checked
    features, logits = extract(model, images)       # uint8 (N, 28, 28) -> (N, 128) and (N, 10), float32
    model, accuracy = train_evaluator(images, labels, seed=0)   # what scripts/train_evaluator.py runs

`DigitClassifier` is trained on the embedded digits with every fifth image held out (98.3% held-out
accuracy). Its weights ship as assets/evaluator.pt and are checked against EVALUATOR_SHA256 when loaded;
`rebuild_evaluator()` (`vanilla-gan evaluate --retrain-evaluator`) writes a fresh copy to the cache, used only
when the shipped file is missing or damaged. The metrics that use it live in evaluator.py and metrics.py.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vanilla_gan.data import default_cache_dir, load_dataset
from vanilla_gan.errors import DataError, UsageError
from vanilla_gan.fileio import atomic_write
from vanilla_gan.gan import sampling

# SHA-256 of src/vanilla_gan/assets/evaluator.pt, as printed by scripts/train_evaluator.py.
EVALUATOR_SHA256 = "f8c11f7cb7ecd627a6dedfa495390f03b430773181fd32fccab25ed29e67668c"
FEATURE_DIM = 128
NUM_CLASSES = 10
_FIX = "reinstall vanilla-gan or run `vanilla-gan evaluate --retrain-evaluator`"

class DigitClassifier(nn.Module):
    """A small CNN: uint8 images (B, 28, 28) -> 128 features (penultimate, after ReLU) -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, 14, 14)
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 7, 7)
            nn.Flatten(), nn.Linear(32 * 7 * 7, FEATURE_DIM), nn.ReLU(),  # (B, 128)
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        self.sha256: str | None = None  # of the weights file it was loaded from

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (B, 128) of images (B, 28, 28) with pixel values 0..255 (any dtype)."""
        return self.body(images.reshape(-1, 1, 28, 28).float() / 255)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 10) of images (B, 28, 28) with pixel values 0..255."""
        return self.head(self.dropout(self.features(images)))


def evaluator_heldout(n: int) -> np.ndarray:
    """The evaluator's held-out images: every fifth (index % 5 == 4), which stratifies class-sorted data."""
    return np.arange(n) % 5 == 4


def train_evaluator(images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, seed: int = 0,
                    heldout: np.ndarray | None = None, epochs: int = 8, batch_size: int = 128,
                    lr: float = 2e-3) -> tuple[DigitClassifier, float]:
    """Train a DigitClassifier on the images outside `heldout` (a boolean mask; default evaluator_heldout).

    Returns the model (in eval mode, on the CPU) and its accuracy on the held-out images. Deterministic on
    a given machine and thread count: the seed fixes the initial weights, the batch order, the shifts and the
    dropout; the global random generators are left as they were.
    """
    images, labels = torch.as_tensor(np.asarray(images)), torch.as_tensor(np.asarray(labels)).long()
    mask = torch.as_tensor(evaluator_heldout(len(images)) if heldout is None else heldout)
    train_x, train_y, test_x, test_y = images[~mask], labels[~mask], images[mask], labels[mask]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitClassifier()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        steps = epochs * math.ceil(len(train_x) / batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
        model.train()
        for _ in range(epochs):
            for index in torch.randperm(len(train_x)).split(batch_size):
                x = _jitter(train_x[index])
                loss = F.cross_entropy(model(x), train_y[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x).argmax(1) for x in test_x.split(1000)])
    return model, float((predicted == test_y).float().mean())


def _jitter(images: torch.Tensor) -> torch.Tensor:
    """Shift the batch by up to 2 pixels each way (zero fill), a cheap augmentation; uses the global RNG."""
    padded = F.pad(images, (2, 2, 2, 2))  # (B, 32, 32)
    dy, dx = torch.randint(0, 5, (2,)).tolist()  # one shift per batch keeps it a cheap slice
    return padded[:, dy:dy + 28, dx:dx + 28]


def save_evaluator(model: DigitClassifier, path: Path) -> str:
    """Write the model's state dict to `path` (atomically) and return the file's SHA-256."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, buffer)
    data = buffer.getvalue()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def load_evaluator(device: str | torch.device = "cpu") -> DigitClassifier:
    """The shipped evaluator (checked against EVALUATOR_SHA256), else a retrained copy from the cache.

    A missing or damaged evaluator is a DataError saying how to get a good one.
    """
    asset = importlib.resources.files("vanilla_gan") / "assets" / "evaluator.pt"
    with importlib.resources.as_file(asset) as shipped:
        data = _read_or_none(shipped)
        if data is not None and hashlib.sha256(data).hexdigest() == EVALUATOR_SHA256:
            return _model_from_bytes(data, EVALUATOR_SHA256, shipped).to(device)
        retrained = retrained_evaluator_path()
        copy, recorded = _read_or_none(retrained), _read_or_none(retrained.with_suffix(".sha256"))
        if copy is not None and recorded is not None and hashlib.sha256(copy).hexdigest() == recorded.decode().strip():
            return _model_from_bytes(copy, recorded.decode().strip(), retrained).to(device)
        problem = "is missing" if data is None else "fails its SHA-256 check (damaged)"
        raise DataError(f"the evaluator's weights {shipped} {problem}: {_FIX}")


def retrained_evaluator_path(cache_dir: Path | None = None) -> Path:
    """Where `rebuild_evaluator` writes its weights (the SHA-256 goes beside them, in evaluator.sha256)."""
    return (default_cache_dir() / "eval" if cache_dir is None else Path(cache_dir)) / "evaluator.pt"


def rebuild_evaluator(out: Path | None = None, mnist: bool = False, seed: int = 0) -> tuple[Path, float, str]:
    """Train the evaluator on the embedded digits (plus MNIST's 60,000 training digits if `mnist`).

    Writes the weights to `out` (default: retrained_evaluator_path()) and their SHA-256 beside them; returns
    (path, held-out accuracy, SHA-256). MNIST digits equal to a held-out digit are left out of training.
    """
    images, labels = (x.numpy() for x in load_dataset("digits"))
    heldout = evaluator_heldout(len(images))
    if mnist:
        extra_images, extra_labels = (x.numpy() for x in load_dataset("mnist"))
        seen = {image.tobytes() for image in images[heldout]}
        keep = np.array([image.tobytes() not in seen for image in extra_images], dtype=bool)
        images = np.concatenate([images, extra_images[keep]])
        labels = np.concatenate([labels, extra_labels[keep]])
        heldout = np.concatenate([heldout, np.zeros(int(keep.sum()), dtype=bool)])
    model, accuracy = train_evaluator(images, labels, seed=seed, heldout=heldout)
    path = retrained_evaluator_path() if out is None else Path(out)
    sha = save_evaluator(model, path)
    atomic_write(path.with_suffix(".sha256"), (sha + "\n").encode())
    return path, accuracy, sha


def extract(model: DigitClassifier, images: np.ndarray | torch.Tensor, batch_size: int = 1000,
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, 128) and logits (N, 10), float32 on the CPU, of uint8 images (N, 28, 28)."""
    device = next(model.parameters()).device
    features, logits = [], []
    with torch.no_grad():
        for batch in torch.as_tensor(images).split(batch_size):
            f = model.features(batch.to(device))
            features.append(f.cpu())
            logits.append(model.head(f).cpu())
    return torch.cat(features), torch.cat(logits)


DIGIT_CONFIDENCE = 0.9  # select_digits keeps an image when the classifier gives its digit at least this
DIGIT_DATASETS = ("digits", "mnist")  # the data the classifier reads: runs on anything else cannot select digits


def check_digit_data(dataset: object, shape: object) -> None:
    """A UsageError unless a run trained on the digits (28 x 28 grey), the only images the classifier reads."""
    if dataset not in DIGIT_DATASETS or (shape is not None and tuple(shape) != (28, 28)):
        raise UsageError(f"--digit picks images by the package's digit classifier, which reads only the digits "
                         f"(28x28 grey, --dataset digits or mnist); this run trained on {str(dataset)[:80]!r}")


@torch.no_grad()
def select_digits(generator: nn.Module, digit: int, num: int, seed: int = 0, device: str | torch.device = "cpu",
                  max_draws: int | None = None, batch_size: int = 1024) -> tuple[np.ndarray, int]:
    """`num` images (uint8 (num, 28, 28)) of `digit`, and how many draws it took: G draws from noise seeded by
    `seed` in batches, and the images the evaluator's classifier reads as `digit` with probability >= 0.9 are
    kept, in the order drawn. Selection, not conditioning: G is not told the digit, so draws/num also measures
    how rarely G makes it. Gives up with a UsageError after `max_draws` (default: 200 per image, at least
    20,000)."""
    if not 0 <= digit <= 9:
        raise UsageError(f"--digit must be 0..9, got {digit}")
    limit = max_draws or max(20_000, 200 * num)
    model = load_evaluator(device)
    noise = torch.Generator().manual_seed(seed)
    latent_dim = sampling.latent_dim_of(generator)
    kept: list[np.ndarray] = []
    found = draws = 0
    while found < num:
        if draws >= limit:
            raise UsageError(f"G drew only {found} image(s) the classifier reads as a {digit} (p >= "
                             f"{DIGIT_CONFIDENCE}) in {draws:,} draws, short of {num}: this G almost never makes "
                             f"that digit; ask for fewer, or train longer")
        z = torch.randn(min(batch_size, limit - draws), latent_dim, generator=noise)
        images = sampling.draw(generator, z.to(device), (28, 28))  # uint8 (B, 28, 28)
        probs = torch.softmax(extract(model, images)[1], 1)[:, digit]  # (B,)
        hits = np.flatnonzero(probs.numpy() >= DIGIT_CONFIDENCE)
        if found + len(hits) >= num:  # the draw that gave the num-th image ends the count
            hits = hits[:num - found]
            draws += int(hits[-1]) + 1
        else:
            draws += len(z)
        kept.append(images[hits])
        found += len(hits)
    return np.concatenate(kept), draws


def weights_sha256(model: nn.Module) -> str:
    """A SHA-256 of a model's weights, for a model not loaded from a file (one just trained)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _model_from_bytes(data: bytes, sha: str, where: Path) -> DigitClassifier:
    model = DigitClassifier()
    try:
        model.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    except Exception as exc:  # torch raises many types for foreign files
        raise DataError(f"the evaluator's weights {where} cannot be loaded ({type(exc).__name__}): {_FIX}") from exc
    model.sha256 = sha
    return model.eval()


def _read_or_none(path: Path) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None
