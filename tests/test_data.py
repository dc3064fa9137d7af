"""Tests of vanilla_gan.data: the embedded digits, the IDX reader, folders, downloads and the cache.

    python -m pytest tests/test_data.py -q

Downloads are tested against a local HTTP server on 127.0.0.1; nothing here touches any other network.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanilla_gan import data
from vanilla_gan.data import (
    FileCheck,
    default_cache_dir,
    download,
    load_dataset,
    load_split,
    read_idx,
    write_idx,
)
from vanilla_gan.errors import DataError, UsageError, VanillaGanError

DIGIT_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


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
# IDX files


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.lists(st.integers(0, 6), min_size=1, max_size=4),
    gz=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_idx_round_trip(tmp_path: Path, shape: list[int], gz: bool, seed: int) -> None:
    array = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    back = read_idx(path)
    assert back.dtype == np.uint8 and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip_other_types(tmp_path: Path, dtype: type) -> None:
    array = (np.arange(24) - 12).astype(dtype).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", array)
    back = read_idx(tmp_path / "a.idx")
    assert back.dtype == np.dtype(dtype) and back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_the_mnist_layout(tmp_path: Path) -> None:
    raw = idx_bytes(np.zeros((3, 28, 28), np.uint8), tmp_path)
    assert raw[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28])
    assert len(raw) == 16 + 3 * 784


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw = idx_bytes(array, tmp_path)
    (tmp_path / "gzipped-without-suffix").write_bytes(gzip.compress(raw))
    (tmp_path / "plain-with-suffix.gz").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "gzipped-without-suffix"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-with-suffix.gz"), array)


def _good_idx() -> bytes:
    return bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))


def _corrupt_gzip_crc() -> bytes:
    packed = bytearray(gzip.compress(_good_idx()))
    packed[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    return bytes(packed)


CORRUPT_FILES = {
    "empty": (b"", "empty file"),
    "short header": (b"\x00\x00\x08", "truncated IDX header"),
    "bad magic": (b"\x01\x02" + _good_idx()[2:], "not an IDX file"),
    "unsupported type": (b"\x00\x00\x07" + _good_idx()[3:], "unsupported IDX type"),
    "zero dims": (b"\x00\x00\x08\x00", "dimensions"),
    "five dims": (b"\x00\x00\x08\x05" + b"\x00\x00\x00\x01" * 5 + b"\x00", "dimensions"),
    "truncated dims": (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02" * 2, "truncated IDX header"),
    "truncated data": (_good_idx()[:-1], "truncated IDX data"),
    "trailing bytes": (_good_idx() + b"\x00\x00", "2 trailing bytes"),
    "gzip bad crc": (_corrupt_gzip_crc(), "corrupt gzip"),
    "gzip truncated": (gzip.compress(_good_idx())[:-10], "corrupt gzip"),
    "gzip garbage": (b"\x1f\x8b" + b"garbage" * 5, "corrupt gzip"),
    "gzip of bad idx": (gzip.compress(_good_idx()[:-2]), "truncated IDX data"),
}


def test_good_idx_is_good(tmp_path: Path) -> None:
    (tmp_path / "good").write_bytes(_good_idx())
    np.testing.assert_array_equal(read_idx(tmp_path / "good"), np.arange(6, dtype=np.uint8).reshape(2, 3))


@pytest.mark.parametrize("case", sorted(CORRUPT_FILES))
def test_corrupt_idx_is_a_one_line_data_error_naming_the_file(tmp_path: Path, case: str) -> None:
    payload, fragment = CORRUPT_FILES[case]
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=fragment) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_missing_idx_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "nowhere")


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
# Downloads, against a local server


class Server:
    """A local HTTP server: `files` maps a URL path to its bytes, `broken` paths answer 500."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.broken: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                server.requests.append(self.path)
                if self.path in server.broken:
                    self.send_error(500, "Broken on purpose")
                elif self.path in server.files:
                    body = server.files[self.path]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404, "Not Found")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_download_success_lands_verified_in_the_cache(server: Server, tmp_path: Path) -> None:
    payload = gzip.compress(b"hello digits")
    server.files["/m/f.gz"] = payload
    dest = tmp_path / "cache" / "mnist" / "f.gz"
    assert download([f"{server.url}/m/f.gz"], dest, FileCheck(gz_sha256=sha256(payload))) == dest
    assert dest.read_bytes() == payload
    assert [p.name for p in dest.parent.iterdir()] == ["f.gz"]


def test_download_verifies_decompressed_bytes(server: Server, tmp_path: Path) -> None:
    raw = b"the same data, gzipped differently"
    server.files["/f.gz"] = gzip.compress(raw, compresslevel=1)
    dest = tmp_path / "f.gz"
    download(
        [f"{server.url}/f.gz"], dest, FileCheck(gz_sha256=sha256(gzip.compress(raw)), raw_sha256=sha256(raw))
    )
    assert gzip.decompress(dest.read_bytes()) == raw


def test_wrong_checksum_leaves_nothing_behind(server: Server, tmp_path: Path) -> None:
    server.files["/f.gz"] = b"not what we expected"
    folder = tmp_path / "cache" / "mnist"
    with pytest.raises(VanillaGanError, match="checksum mismatch") as info:
        download([f"{server.url}/f.gz"], folder / "f.gz", FileCheck(gz_sha256=sha256(b"expected")))
    assert not isinstance(info.value, UsageError)
    assert list(folder.iterdir()) == []


def test_wrong_checksum_then_next_mirror(server: Server, tmp_path: Path) -> None:
    good = b"good bytes"
    server.files["/a/f.gz"] = b"bad bytes"
    server.files["/b/f.gz"] = good
    dest = tmp_path / "f.gz"
    download([f"{server.url}/a/f.gz", f"{server.url}/b/f.gz"], dest, FileCheck(gz_sha256=sha256(good)))
    assert dest.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]


@pytest.mark.parametrize("first", ["http 500", "closed port", "http 404"])
def test_failing_first_mirror_then_next(
    server: Server, closed_port_url: str, tmp_path: Path, first: str
) -> None:
    good = b"good bytes"
    server.files["/b/f.gz"] = good
    server.broken.add("/a/f.gz")
    first_url = {
        "http 500": f"{server.url}/a/f.gz",
        "closed port": f"{closed_port_url}/a/f.gz",
        "http 404": f"{server.url}/missing/f.gz",
    }[first]
    dest = tmp_path / "f.gz"
    download([first_url, f"{server.url}/b/f.gz"], dest, FileCheck(gz_sha256=sha256(good)))
    assert dest.read_bytes() == good
    assert server.requests[-1] == "/b/f.gz"


def test_all_mirrors_failing_is_an_actionable_error(
    server: Server, closed_port_url: str, tmp_path: Path
) -> None:
    server.broken.add("/f.gz")
    folder = tmp_path / "cache" / "mnist"
    with pytest.raises(VanillaGanError) as info:
        download(
            [f"{closed_port_url}/f.gz", f"{server.url}/f.gz"],
            folder / "f.gz",
            FileCheck(gz_sha256=sha256(b"x")),
            what="mnist f.gz",
        )
    message = str(info.value)
    assert info.value.exit_code == 1 and "\n" not in message
    assert "cannot download mnist f.gz (2 mirror(s) tried, last:" in message
    assert "HTTP 500" in message
    assert f"copy the files into {folder}/ or use --dataset digits" in message
    assert list(folder.iterdir()) == []


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


def test_mirrors_env_var_replaces_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VANILLA_GAN_MIRRORS", raising=False)
    assert data._mirrors("mnist") == list(data.MIRRORS["mnist"])
    assert data._mirrors("mnist")[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    monkeypatch.setenv("VANILLA_GAN_MIRRORS", " http://a/ ,http://b/x/,")
    assert data._mirrors("fashion-mnist") == ["http://a/", "http://b/x/"]


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
