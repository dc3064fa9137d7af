"""The IDX format of the MNIST files: read (plain or gzipped, detected by magic bytes) and write.

    images = read_idx("train-images-idx3-ubyte.gz")   # uint8 (60000, 28, 28)
    write_idx("train-images-idx3-ubyte", images)       # a `.gz` suffix gzips it

IDX: two zero bytes, a type byte, the number of dimensions, each size as a big-endian uint32, then the
values (multi-byte ones big-endian). A damaged file is a one-line DataError naming it.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from vanilla_gan.errors import DataError

# The IDX type byte -> numpy dtype (IDX stores multi-byte numbers big-endian).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
MAX_INFLATION = 1100  # deflate's best ratio is about 1032:1


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, plain or gzipped (detected by its magic bytes), into a native-endian array."""
    path = Path(path)
    return parse_idx(decompress(read_bytes(path), path), path)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` (uint8, or another IDX type) as an IDX file; a `.gz` suffix gzips it."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: unsupported dtype {array.dtype}")
    if not 1 <= array.ndim <= 4:
        raise ValueError(f"write_idx: IDX holds 1 to 4 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(IDX_DTYPES[code], copy=False).tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def decompress(data: bytes, path: Path) -> bytes:
    """Gunzip `data` if it starts with the gzip magic bytes; a damaged stream is a DataError.

    The IDX header comes out first and says how many bytes the file holds: a header that declares more than a
    gzip file of this size can inflate to (deflate packs at most ~1032:1) is refused before inflating, and the
    stream is never inflated past what the header declares, so a small file cannot take gigabytes of memory."""
    if data[:2] != GZIP_MAGIC:
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        head = inflater.decompress(data, 4 + 4 * 4)
        while len(head) < 4 + 4 * 4 and inflater.unconsumed_tail:
            head += inflater.decompress(inflater.unconsumed_tail, 4 + 4 * 4 - len(head))
        declared = _declared_size(head)
        if declared is not None and declared > MAX_INFLATION * len(data) + 4096:
            raise DataError(f"{path}: the IDX header declares {declared:,} bytes, more than a gzip file of "
                            f"{len(data):,} bytes can hold: the file is damaged or hostile")
        limit = (declared if declared is not None else MAX_INFLATION * len(data)) - len(head) + 1
        body = inflater.decompress(inflater.unconsumed_tail, max(limit, 1))
    except zlib.error as exc:
        raise DataError(f"{path}: corrupt gzip data ({describe(exc)})") from exc
    out = head + body
    if inflater.unconsumed_tail or (declared is not None and len(out) > declared):
        raise DataError(f"{path}: trailing bytes after the IDX data its header declares")
    if not inflater.eof:
        raise DataError(f"{path}: corrupt gzip data (the stream is truncated)")
    if inflater.unused_data:
        raise DataError(f"{path}: corrupt gzip data ({len(inflater.unused_data)} bytes after the gzip stream)")
    return out


def _declared_size(head: bytes) -> int | None:
    """The total size (header included) an IDX header declares, or None if `head` is not a whole IDX header."""
    if len(head) < 4 or head[0] or head[1] or head[2] not in IDX_DTYPES or not 1 <= head[3] <= 4:
        return None
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        return None
    shape = np.frombuffer(head, dtype=">u4", count=ndim, offset=4)
    return 4 + 4 * ndim + math.prod(int(n) for n in shape) * IDX_DTYPES[head[2]].itemsize


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Parse IDX bytes: 0, 0, type byte, ndim byte, ndim big-endian uint32 sizes, then the values."""
    if not data:
        raise DataError(f"{path}: empty file, expected IDX data")
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (starts with {data[:4].hex()}, expected 0000)")
    dtype = IDX_DTYPES.get(data[2])
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


def describe(exc: BaseException) -> str:
    """A short one-line reason for an exception."""
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc) or type(exc).__name__
    return " ".join(text.split())
