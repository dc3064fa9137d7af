"""Data sets as a uint8 tensor of images (N, 28, 28) and a uint8 tensor of labels (N,) or None.

    from vanilla_gan.data import load_dataset
    images, labels = load_dataset("digits")          # the embedded 10,000 digits, no network
    images, labels = load_dataset("mnist")           # 60,000 digits, downloaded once into the cache
    images, labels = load_dataset("fashion-mnist")   # Debian's dataset-fashion-mnist, else download
    images, labels = load_dataset("path/to/folder")  # a folder holding train-images-idx3-ubyte[.gz]

Images are 0 = background, 255 = ink, as in the MNIST IDX files. `load_split(name, "test")` gives the
10,000 test images (`t10k-*` files) where a data set has them. The IDX format is `data/idx.py`; verified
downloads and the mirror list are `data/download.py`.

The cache:
- The cache folder is `$VANILLA_GAN_DATA`, else `$XDG_CACHE_HOME/vanilla-gan`, else `~/.cache/vanilla-gan`;
  files live in `CACHE/mnist/` and `CACHE/fashion-mnist/` under their usual names (`*-ubyte.gz`).
- Every file is checked against a known SHA-256 before use: the gzip file's hash, or (for Fashion-MNIST,
  whose gzip files differ between Debian and upstream) the hash of the decompressed bytes.
- A cached file that fails its check (damaged, or copied in by hand from elsewhere) is never deleted for
  you: you get an error naming it.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
from pathlib import Path

import numpy as np
import torch

from vanilla_gan.data import download
from vanilla_gan.data.download import FILES, FileCheck, mirrors
from vanilla_gan.data.idx import describe, parse_idx, read_bytes, read_idx, write_idx
from vanilla_gan.errors import DataError, UsageError

# SHA-256 of `images.tobytes() + labels.tobytes()` of the embedded digits (see scripts/build_digits.py).
DIGITS_SHA256 = "bc6b63550c8a82f6ecccd9458252069fb030ee802997b8242e71d5146b0cbf0e"
DIGITS_COUNT = 10_000

DATASET_NAMES = ("digits", "mnist", "fashion-mnist")
SPLITS = ("train", "test")

# Debian's `dataset-fashion-mnist` installs the full Fashion-MNIST here.
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

# ---------------------------------------------------------------------------------------------------------
# Public API


def load_dataset(dataset: str, cache_dir: Path | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Load the training split of `dataset` (digits, mnist, fashion-mnist or a folder): see load_split."""
    return load_split(dataset, "train", cache_dir)


def fixed_order(n: int) -> np.ndarray:
    """A fixed shuffle of range(n), the same on every machine: indices sorted by Knuth's multiplicative hash.

    Any prefix spreads evenly over the index range, so class-sorted data (the digits) gives balanced subsets.
    """
    keys = (np.arange(n, dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return np.argsort(keys, kind="stable")


def limit_images(images: torch.Tensor, limit: int | None) -> torch.Tensor:
    """`--limit N`: N images spread evenly over the data set (a fixed subset, in file order), all of them for None.
    The embedded digits are sorted by class, so their first N would be the first classes only."""
    if not limit or limit >= len(images):
        return images
    return images[torch.from_numpy(np.sort(fixed_order(len(images))[:limit]))]


def load_split(
    dataset: str, split: str = "train", cache_dir: Path | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Load one split ("train" or "test") of `dataset` as images (N, 28, 28) uint8 and labels (N,) or None."""
    if split not in SPLITS:
        raise UsageError(f"unknown split '{split}': use train or test")
    if dataset == "digits":
        if split != "train":
            raise DataError("the digits data set has no test split: it holds 10,000 digits, all for training")
        images, labels = _load_digits()
    elif dataset in FILES:
        images, labels = _load_known(
            dataset, split, default_cache_dir() if cache_dir is None else Path(cache_dir)
        )
    else:
        images, labels = _load_folder(dataset, split)
    return torch.from_numpy(images), None if labels is None else torch.from_numpy(labels)


def default_cache_dir() -> Path:
    """The download cache: $VANILLA_GAN_DATA, else $XDG_CACHE_HOME/vanilla-gan, else ~/.cache/vanilla-gan."""
    if os.environ.get("VANILLA_GAN_DATA"):
        return Path(os.environ["VANILLA_GAN_DATA"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "vanilla-gan"
    return Path.home() / ".cache" / "vanilla-gan"


# ---------------------------------------------------------------------------------------------------------
# The three kinds of data set


def _load_digits(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits (or the npz at `path`, for tests), checked against DIGITS_SHA256."""
    if path is None:
        asset = importlib.resources.files("vanilla_gan") / "assets" / "digits10k.npz"
        with importlib.resources.as_file(asset) as asset_path:
            return _load_digits(asset_path)
    fix = "reinstall the vanilla-gan package"
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise DataError(f"{path}: cannot read the embedded digits ({describe(exc)}); {fix}") from exc
    if images.shape != (DIGITS_COUNT, 28, 28) or images.dtype != np.uint8:
        raise DataError(
            f"{path}: embedded images are {images.dtype} {images.shape}, not uint8 (10000, 28, 28); {fix}"
        )
    if labels.shape != (DIGITS_COUNT,) or labels.dtype != np.uint8:
        raise DataError(
            f"{path}: embedded labels are {labels.dtype} {labels.shape}, not uint8 (10000,); {fix}"
        )
    if hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest() != DIGITS_SHA256:
        raise DataError(f"{path}: the embedded digits fail their SHA-256 check (damaged); {fix}")
    return images, labels


def _load_known(dataset: str, split: str, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST: from Debian's folder (Fashion only), else the cache, else a download."""
    prefix = "train" if split == "train" else "t10k"
    arrays = []
    for name in (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"):
        check = FILES[dataset][name]
        system_file = FASHION_SYSTEM_DIR / name
        if dataset == "fashion-mnist" and system_file.is_file():
            path, hint = system_file, "reinstall the dataset-fashion-mnist package"
        else:
            path, hint = cache_dir / dataset / name, "delete it to download it again"
            if not path.exists():
                download.download(
                    [base.rstrip("/") + "/" + name for base in mirrors(dataset)],
                    path,
                    check,
                    what=f"{dataset} {name}",
                )
        raw = check.verify(read_bytes(path))
        if raw is None:
            raise DataError(f"{path}: fails its SHA-256 check (damaged, or not the {dataset} file); {hint}")
        arrays.append(parse_idx(raw, path))
    images, labels = arrays
    _check_shapes(images, labels, path.parent)
    return images, labels


def _load_folder(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A folder holding `train-images-idx3-ubyte[.gz]` and, optionally, `train-labels-idx1-ubyte[.gz]`."""
    prefix = "train" if split == "train" else "t10k"
    expected = (
        f"a folder holding {prefix}-images-idx3-ubyte[.gz] (and optionally {prefix}-labels-idx1-ubyte[.gz])"
    )
    folder = Path(dataset).expanduser()
    if not folder.exists():
        if os.sep in dataset or "/" in dataset or dataset.startswith("."):
            raise DataError(f"data folder '{dataset}' does not exist: expected {expected}")
        raise DataError(
            f"unknown dataset '{dataset}': use digits, mnist, fashion-mnist "
            f"or a folder holding train-images-idx3-ubyte[.gz]"
        )
    if not folder.is_dir():
        raise DataError(f"'{dataset}' is not a folder: expected {expected}")
    images_path = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
    if images_path is None:
        raise DataError(
            f"{folder}: no {prefix}-images-idx3-ubyte or {prefix}-images-idx3-ubyte.gz: expected {expected}"
        )
    labels_path = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
    images = read_idx(images_path)
    labels = None if labels_path is None else read_idx(labels_path)
    _check_shapes(images, labels, folder)
    return images, labels


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _check_shapes(images: np.ndarray, labels: np.ndarray | None, where: Path) -> None:
    """Images must be uint8 (N, 28, 28); labels, if any, uint8 (N,)."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{where}: images are {images.dtype} {images.shape}, expected uint8 (N, 28, 28)")
    if labels is None:
        return
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{where}: labels are {labels.dtype} {labels.shape}, expected uint8 (N,)")
    if len(labels) != len(images):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels; they must match")


def _find_idx(folder: Path, name: str) -> Path | None:
    """`folder/name` or `folder/name.gz`, whichever exists first, else None."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


__all__ = ["load_dataset", "load_split", "limit_images", "fixed_order", "default_cache_dir", "read_idx",
           "write_idx", "FileCheck", "FILES", "DATASET_NAMES"]
