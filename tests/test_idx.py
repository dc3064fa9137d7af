"""The IDX format (data/idx.py): round trips, the MNIST header, and every kind of damaged file as a one-line
DataError naming the file. Run: python -m pytest tests/test_idx.py
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanilla_gan.data.idx import read_idx, write_idx
from vanilla_gan.errors import DataError


def idx_bytes(array: np.ndarray, tmp_path: Path) -> bytes:
    """The IDX encoding of `array`, via write_idx."""
    path = tmp_path / "encode.idx"
    write_idx(path, array)
    return path.read_bytes()


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


