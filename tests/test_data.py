"""Data sets (data/__init__.py): the embedded digits and their checksum, folders of IDX files, MNIST and
Fashion-MNIST through the cache (served from 127.0.0.1), and --limit. Run: python -m pytest tests/test_data.py
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import Server

from vanilla_gan import data
from vanilla_gan.data import FileCheck, default_cache_dir, load_dataset, load_split
from vanilla_gan.data.idx import read_idx, write_idx
from vanilla_gan.errors import DataError, UsageError, VanillaGanError


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def idx_bytes(array: np.ndarray, tmp_path: Path) -> bytes:
    """The IDX encoding of `array`, via write_idx."""
    path = tmp_path / "encode.idx"
    write_idx(path, array)
    return path.read_bytes()


def small_set(n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


DIGIT_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


# ---------------------------------------------------------------------------------------------------------
# The embedded digits


def test_digits_load_with_shape_dtype_and_class_counts() -> None:
    images, labels = load_dataset("digits")
    assert isinstance(images, torch.Tensor) and isinstance(labels, torch.Tensor)
    assert images.shape == (10_000, 28, 28) and images.dtype == torch.uint8 and images.is_contiguous()
    assert labels.shape == (10_000,) and labels.dtype == torch.uint8
    assert torch.bincount(labels.long(), minlength=10).tolist() == DIGIT_COUNTS
    assert images.max() == 255 and images.min() == 0
    content = images.numpy().tobytes() + labels.numpy().tobytes()
    assert sha256(content) == data.DIGITS_SHA256


def test_digits_have_no_test_split() -> None:
    with pytest.raises(DataError, match="no test split"):
        load_split("digits", "test")


def test_tampered_digits_are_rejected(tmp_path: Path) -> None:
    images, labels = data._load_digits()
    images = images.copy()
    images[1234, 14, 14] ^= 1
    tampered = tmp_path / "digits10k.npz"
    np.savez_compressed(tampered, images=images, labels=labels)
    with pytest.raises(DataError, match="SHA-256.*reinstall") as info:
        data._load_digits(tampered)
    assert str(tampered) in str(info.value)


@pytest.mark.parametrize(
    "arrays",
    [
        {"images": np.zeros((10, 28, 28), np.uint8), "labels": np.zeros(10, np.uint8)},
        {"images": np.zeros((10_000, 28, 28), np.float32), "labels": np.zeros(10_000, np.uint8)},
        {"pictures": np.zeros((10_000, 28, 28), np.uint8)},
    ],
)
def test_malformed_digits_asset_is_rejected(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    path = tmp_path / "digits10k.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="reinstall"):
        data._load_digits(path)


def test_non_npz_digits_asset_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "digits10k.npz"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match="reinstall"):
        data._load_digits(path)


# ---------------------------------------------------------------------------------------------------------
# A folder as the data set


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_folder_with_images_and_labels(tmp_path: Path, suffix: str) -> None:
    images, labels = small_set()
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels)
    got_images, got_labels = load_dataset(str(tmp_path))
    assert got_images.dtype == torch.uint8 and got_labels is not None and got_labels.dtype == torch.uint8
    np.testing.assert_array_equal(got_images.numpy(), images)
    np.testing.assert_array_equal(got_labels.numpy(), labels)


def test_folder_labels_are_optional(tmp_path: Path) -> None:
    images, _ = small_set()
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    got_images, got_labels = load_dataset(str(tmp_path))
    assert got_labels is None and got_images.shape == (6, 28, 28)


def test_folder_test_split_reads_t10k_files(tmp_path: Path) -> None:
    train, _ = small_set(4, seed=1)
    test, test_labels = small_set(3, seed=2)
    write_idx(tmp_path / "train-images-idx3-ubyte", train)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", test)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", test_labels)
    got, got_labels = load_split(str(tmp_path), "test")
    np.testing.assert_array_equal(got.numpy(), test)
    assert got_labels is not None and got_labels.tolist() == test_labels.tolist()


def test_folder_without_images_lists_what_is_expected(tmp_path: Path) -> None:
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\[\.gz\]"):
        load_dataset(str(tmp_path))


def test_missing_folder_lists_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist: expected a folder holding train-images-idx3-ubyte"):
        load_dataset(str(tmp_path / "absent"))


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(DataError, match="is not a folder"):
        load_dataset(str(tmp_path / "file"))


def test_unknown_name_says_what_to_use() -> None:
    with pytest.raises(DataError) as info:
        load_dataset("cifar10")
    assert str(info.value) == (
        "unknown dataset 'cifar10': use digits, mnist, fashion-mnist "
        "or a folder holding train-images-idx3-ubyte[.gz]"
    )


def test_unknown_split_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown split"):
        load_split("digits", "validation")


def test_label_count_mismatch(tmp_path: Path) -> None:
    images, labels = small_set(6)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:5])
    with pytest.raises(DataError, match="6 images but 5 labels"):
        load_dataset(str(tmp_path))


@pytest.mark.parametrize(
    ("images", "labels", "fragment"),
    [
        (np.zeros((2, 27, 27), np.uint8), None, "expected uint8 \\(N, 28, 28\\)"),
        (np.zeros((2, 784), np.uint8), None, "expected uint8 \\(N, 28, 28\\)"),
        (np.zeros((2, 28, 28), np.float32), None, "expected uint8 \\(N, 28, 28\\)"),
        (np.zeros((2, 28, 28), np.uint8), np.zeros((2, 1), np.uint8), "expected uint8 \\(N,\\)"),
    ],
)
def test_folder_with_wrong_shapes(
    tmp_path: Path, images: np.ndarray, labels: np.ndarray | None, fragment: str
) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    if labels is not None:
        write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(DataError, match=fragment):
        load_dataset(str(tmp_path))


# ---------------------------------------------------------------------------------------------------------
# mnist and fashion-mnist end to end, with the checksum table pointed at small test files


@pytest.fixture
def fake_sets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, bytes]:
    """Small gzipped IDX files under the real names; FILES now expects their hashes (gz for mnist,
    decompressed only for fashion-mnist)."""
    images, labels = small_set(5, seed=3)
    test_images, test_labels = small_set(2, seed=4)
    raw = {
        "train-images-idx3-ubyte.gz": idx_bytes(images, tmp_path),
        "train-labels-idx1-ubyte.gz": idx_bytes(labels, tmp_path),
        "t10k-images-idx3-ubyte.gz": idx_bytes(test_images, tmp_path),
        "t10k-labels-idx1-ubyte.gz": idx_bytes(test_labels, tmp_path),
    }
    packed = {name: gzip.compress(content, mtime=0) for name, content in raw.items()}
    monkeypatch.setitem(
        data.FILES, "mnist", {name: FileCheck(gz_sha256=sha256(packed[name])) for name in raw}
    )
    monkeypatch.setitem(
        data.FILES, "fashion-mnist", {name: FileCheck(raw_sha256=sha256(raw[name])) for name in raw}
    )
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", tmp_path / "no-system-folder")
    return packed


def test_mnist_downloads_once_then_uses_the_cache(
    server: Server,
    closed_port_url: str,
    fake_sets: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, payload in fake_sets.items():
        server.files[f"/mirror/{name}"] = payload
    monkeypatch.setenv("VANILLA_GAN_MIRRORS", f"{closed_port_url}/, {server.url}/mirror/")
    cache = tmp_path / "cache"
    images, labels = load_dataset("mnist", cache)
    assert images.shape == (5, 28, 28) and labels is not None and labels.shape == (5,)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    assert server.requests == ["/mirror/train-images-idx3-ubyte.gz", "/mirror/train-labels-idx1-ubyte.gz"]

    again, _ = load_dataset("mnist", cache)  # from the cache: no new request
    assert torch.equal(again, images) and len(server.requests) == 2
    test_images, _ = load_split("mnist", "test", cache)
    assert test_images.shape == (2, 28, 28) and len(server.requests) == 4


def test_mnist_default_cache_dir_is_used(
    server: Server, fake_sets: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, payload in fake_sets.items():
        server.files[f"/{name}"] = payload
    monkeypatch.setenv("VANILLA_GAN_MIRRORS", server.url)
    monkeypatch.setenv("VANILLA_GAN_DATA", str(tmp_path / "env-cache"))
    load_dataset("mnist")
    assert (tmp_path / "env-cache" / "mnist" / "train-images-idx3-ubyte.gz").is_file()


def test_mnist_unreachable_says_where_to_copy_files(
    closed_port_url: str, fake_sets: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VANILLA_GAN_MIRRORS", f"{closed_port_url}/a/,{closed_port_url}/b/")
    with pytest.raises(VanillaGanError) as info:
        load_dataset("mnist", tmp_path / "cache")
    message = str(info.value)
    assert "mnist train-images-idx3-ubyte.gz (2 mirror(s) tried" in message
    assert f"copy the files into {tmp_path / 'cache' / 'mnist'}/ or use --dataset digits" in message
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_damaged_cached_file_is_reported_not_deleted(
    fake_sets: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VANILLA_GAN_MIRRORS", "http://127.0.0.1:9/")
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    damaged = folder / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(fake_sets["train-images-idx3-ubyte.gz"][:-1])
    with pytest.raises(DataError, match="fails its SHA-256 check.*delete it") as info:
        load_dataset("mnist", tmp_path / "cache")
    assert str(damaged) in str(info.value) and damaged.exists()


def test_fashion_uses_the_system_folder_without_network(
    fake_sets: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    system.mkdir()
    for name, payload in fake_sets.items():  # gzipped differently from the checksummed bytes, as Debian's are
        (system / name).write_bytes(gzip.compress(gzip.decompress(payload), compresslevel=1))
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", system)
    monkeypatch.setenv("VANILLA_GAN_MIRRORS", "http://127.0.0.1:9/")
    cache = tmp_path / "cache"
    images, labels = load_dataset("fashion-mnist", cache)
    expected = read_idx(system / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(images.numpy(), expected)
    assert labels is not None and labels.shape == (5,)
    assert load_split("fashion-mnist", "test", cache)[0].shape == (2, 28, 28)
    assert not cache.exists()


def test_fashion_system_file_failing_its_check_is_reported(
    fake_sets: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "system"
    system.mkdir()
    for name in fake_sets:
        write_idx(system / name, np.ones((5, 28, 28), np.uint8))
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", system)
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        load_dataset("fashion-mnist", tmp_path / "cache")


def test_fashion_without_system_folder_downloads(
    server: Server, fake_sets: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, payload in fake_sets.items():
        server.files[f"/{name}"] = gzip.compress(gzip.decompress(payload), compresslevel=9)
    monkeypatch.setenv("VANILLA_GAN_MIRRORS", server.url + "/")
    images, _ = load_dataset("fashion-mnist", tmp_path / "cache")
    assert images.shape == (5, 28, 28)
    assert (tmp_path / "cache" / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file()


def test_default_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VANILLA_GAN_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "vanilla-gan"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "vanilla-gan"
    monkeypatch.setenv("VANILLA_GAN_DATA", str(tmp_path / "data"))
    assert default_cache_dir() == tmp_path / "data"


def test_limit_takes_a_fixed_subset_of_every_class():
    """The embedded digits are sorted by class: --limit must not mean 'the first classes only'."""
    images, labels = load_dataset("digits")
    subset = data.limit_images(labels, 200)
    assert len(subset) == 200 and torch.equal(subset, data.limit_images(labels, 200))  # fixed
    counts = torch.bincount(subset.long(), minlength=10)
    assert counts.min() >= 10, counts  # every class, roughly in proportion
    assert data.limit_images(images, None) is images and len(data.limit_images(images, 10**6)) == len(images)
