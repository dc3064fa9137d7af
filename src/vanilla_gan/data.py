"""Data sets as a uint8 tensor of images (N, 28, 28) and a uint8 tensor of labels (N,) or None.

    from vanilla_gan.data import load_dataset
    images, labels = load_dataset("digits")          # the embedded 10,000 digits, no network
    images, labels = load_dataset("mnist")           # 60,000 digits, downloaded once into the cache
    images, labels = load_dataset("fashion-mnist")   # Debian's dataset-fashion-mnist, else download
    images, labels = load_dataset("path/to/folder")  # a folder holding train-images-idx3-ubyte[.gz]

Images are 0 = background, 255 = ink, as in the MNIST IDX files. `load_split(name, "test")` gives the
10,000 test images (`t10k-*` files) where a data set has them.

Downloads and the cache:
- The cache folder is `$VANILLA_GAN_DATA`, else `$XDG_CACHE_HOME/vanilla-gan`, else `~/.cache/vanilla-gan`;
  files live in `CACHE/mnist/` and `CACHE/fashion-mnist/` under their usual names (`*-ubyte.gz`).
- `$VANILLA_GAN_MIRRORS` (comma-separated base URLs) replaces the built-in mirror list when set.
- Every file is checked against a known SHA-256 before use: the gzip file's hash, or (for Fashion-MNIST,
  whose gzip files differ between Debian and upstream) the hash of the decompressed bytes.
- A download goes to a temporary file beside its final name and is renamed into place only once its
  checksum passes, so the cache never holds a partial or unverified file. A cached file that fails its
  check (damaged, or copied in by hand from elsewhere) is never deleted for you: you get an error naming it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import math
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vanilla_gan.errors import DataError, UsageError, VanillaGanError

# SHA-256 of `images.tobytes() + labels.tobytes()` of the embedded digits (see scripts/build_digits.py).
DIGITS_SHA256 = "bc6b63550c8a82f6ecccd9458252069fb030ee802997b8242e71d5146b0cbf0e"
DIGITS_COUNT = 10_000

DATASET_NAMES = ("digits", "mnist", "fashion-mnist")
SPLITS = ("train", "test")
DOWNLOAD_TIMEOUT_S = 30.0

# Debian's `dataset-fashion-mnist` installs the full Fashion-MNIST here.
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
}

# The IDX type byte -> numpy dtype (IDX stores multi-byte numbers big-endian).
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class FileCheck:
    """What a data file must hash to: its gzip bytes, or its decompressed bytes (either one suffices)."""

    gz_sha256: str | None = None
    raw_sha256: str | None = None

    def verify(self, data: bytes) -> bytes | None:
        """Return the decompressed bytes if `data` (a file's bytes) passes the check, else None."""
        gz_ok = self.gz_sha256 is not None and hashlib.sha256(data).hexdigest() == self.gz_sha256
        try:
            raw = gzip.decompress(data) if data[:2] == _GZIP_MAGIC else data
        except (OSError, EOFError, zlib.error):
            return None
        if gz_ok or (self.raw_sha256 is not None and hashlib.sha256(raw).hexdigest() == self.raw_sha256):
            return raw
        return None


# The files of each downloadable data set, by name in the cache and on the mirrors.
FILES: dict[str, dict[str, FileCheck]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": FileCheck(
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        "train-labels-idx1-ubyte.gz": FileCheck(
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": FileCheck(
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": FileCheck(
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
    # The gz hashes are Debian's files; upstream's gzip files differ, so the raw hash is what counts.
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": FileCheck(
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        "train-labels-idx1-ubyte.gz": FileCheck(
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        "t10k-images-idx3-ubyte.gz": FileCheck(
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        "t10k-labels-idx1-ubyte.gz": FileCheck(
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    },
}


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


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, plain or gzipped (detected by its magic bytes), into a native-endian array."""
    path = Path(path)
    return _parse_idx(_decompress(_read_bytes(path), path), path)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` (uint8, or another IDX type) as an IDX file; a `.gz` suffix gzips it."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in _IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: unsupported dtype {array.dtype}")
    if not 1 <= array.ndim <= 4:
        raise ValueError(f"write_idx: IDX holds 1 to 4 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(_IDX_DTYPES[code], copy=False).tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def download(
    urls: Sequence[str], dest: Path, check: FileCheck, *, what: str = "", timeout: float = DOWNLOAD_TIMEOUT_S
) -> Path:
    """Fetch the first of `urls` whose bytes pass `check` and put it at `dest`; return `dest`.

    Each URL is written to a temporary file in dest's folder and renamed to `dest` only once verified, so
    `dest` is either absent or complete. A failed or wrong download moves on to the next URL; when none is
    left, raise VanillaGanError saying what to do instead.
    """
    dest = Path(dest)
    what = what or dest.name
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VanillaGanError(f"cannot create the data folder {dest.parent}: {exc.strerror or exc}") from exc
    reason = "no mirrors given"
    for url in urls:
        try:
            if _fetch_verified(url, dest, check, timeout):
                return dest
            reason = f"{url}: checksum mismatch"
        except (OSError, HTTPException, ValueError) as exc:
            reason = f"{url}: {_describe(exc)}"
    raise VanillaGanError(
        f"cannot download {what} ({len(urls)} mirror(s) tried, last: {reason}); "
        f"copy the files into {dest.parent}/ or use --dataset digits (the embedded digits, no network needed)"
    )


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
        raise DataError(f"{path}: cannot read the embedded digits ({_describe(exc)}); {fix}") from exc
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
                download(
                    [base.rstrip("/") + "/" + name for base in _mirrors(dataset)],
                    path,
                    check,
                    what=f"{dataset} {name}",
                )
        raw = check.verify(_read_bytes(path))
        if raw is None:
            raise DataError(f"{path}: fails its SHA-256 check (damaged, or not the {dataset} file); {hint}")
        arrays.append(_parse_idx(raw, path))
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


def _mirrors(dataset: str) -> list[str]:
    """The mirror base URLs: $VANILLA_GAN_MIRRORS (comma-separated) if set, else the built-in list."""
    override = os.environ.get("VANILLA_GAN_MIRRORS")
    if override:
        return [url.strip() for url in override.split(",") if url.strip()]
    return list(MIRRORS[dataset])


def _fetch_verified(url: str, dest: Path, check: FileCheck, timeout: float) -> bool:
    """Download `url` into a temporary file beside `dest`; rename it to `dest` if it passes `check`."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                file=sys.stderr,
                disable=None,
                leave=False,
            ) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        if check.verify(tmp.read_bytes()) is None:
            return False
        os.replace(tmp, dest)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _describe(exc: BaseException) -> str:
    """A short one-line reason for an exception."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc) or type(exc).__name__
    return " ".join(text.split())


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _decompress(data: bytes, path: Path) -> bytes:
    """Gunzip `data` if it starts with the gzip magic bytes; a damaged stream is a DataError."""
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt gzip data ({_describe(exc)})") from exc


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Parse IDX bytes: 0, 0, type byte, ndim byte, ndim big-endian uint32 sizes, then the values."""
    if not data:
        raise DataError(f"{path}: empty file, expected IDX data")
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (starts with {data[:4].hex()}, expected 0000)")
    dtype = _IDX_DTYPES.get(data[2])
    if dtype is None:
        raise DataError(f"{path}: unsupported IDX type byte 0x{data[2]:02x} (supported: 08 uint8, 09, 0b-0e)")
    ndim = data[3]
    if not 1 <= ndim <= 4:
        raise DataError(f"{path}: bad IDX header: {ndim} dimensions (expected 1 to 4)")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, need {header_size})")
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    count = math.prod(shape)
    expected = count * dtype.itemsize
    actual = len(data) - header_size
    if actual < expected:
        raise DataError(f"{path}: truncated IDX data ({actual} bytes, the header {shape} needs {expected})")
    if actual > expected:
        raise DataError(f"{path}: {actual - expected} trailing bytes after the IDX data of shape {shape}")
    values = np.frombuffer(data, dtype=dtype, count=count, offset=header_size)
    return values.reshape(shape).astype(dtype.newbyteorder("="))  # a writable, native-endian copy
