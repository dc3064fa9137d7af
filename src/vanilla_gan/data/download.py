"""Verified downloads of MNIST and Fashion-MNIST: mirrors tried in order, every file checked by SHA-256.

    download(urls, dest, FILES["mnist"]["train-images-idx3-ubyte.gz"], what="mnist train images")

A download is held in memory (the largest file is 26 MB) and written to `dest` atomically only once it
passes its check, so `dest` is either absent or complete and verified. `$VANILLA_GAN_MIRRORS`
(comma-separated base URLs) replaces the built-in mirror list when set; a server that stalls is given up
after DOWNLOAD_TIMEOUT_S (`$VANILLA_GAN_DOWNLOAD_TIMEOUT`) seconds without data.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from tqdm.auto import tqdm

from vanilla_gan.data.idx import decompress, describe
from vanilla_gan.errors import DataError, UsageError, VanillaGanError
from vanilla_gan.fileio import atomic_write

DOWNLOAD_TIMEOUT_S = 30.0  # per connection and per read; $VANILLA_GAN_DOWNLOAD_TIMEOUT (seconds) replaces it

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


@dataclass(frozen=True)
class FileCheck:
    """What a data file must hash to: its gzip bytes, or its decompressed bytes (either one suffices)."""

    gz_sha256: str | None = None
    raw_sha256: str | None = None

    def verify(self, data: bytes) -> bytes | None:
        """Return the decompressed bytes if `data` (a file's bytes) passes the check, else None."""
        gz_ok = self.gz_sha256 is not None and hashlib.sha256(data).hexdigest() == self.gz_sha256
        try:
            raw = decompress(data, Path("download"))  # bounded by the IDX header: no gzip bomb
        except DataError:
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


def mirrors(dataset: str) -> list[str]:
    """The mirror base URLs: $VANILLA_GAN_MIRRORS (comma-separated) if set, else the built-in list."""
    override = os.environ.get("VANILLA_GAN_MIRRORS")
    if override:
        return [url.strip() for url in override.split(",") if url.strip()]
    return list(MIRRORS[dataset])


def download(
    urls: Sequence[str], dest: Path, check: FileCheck, *, what: str = "", timeout: float | None = None
) -> Path:
    """Fetch the first of `urls` whose bytes pass `check` and put it at `dest`; return `dest`.

    A failed or wrong download moves on to the next URL; when none is left, raise VanillaGanError saying
    what to do instead.
    """
    dest = Path(dest)
    what = what or dest.name
    try:
        timeout = timeout or float(os.environ.get("VANILLA_GAN_DOWNLOAD_TIMEOUT") or DOWNLOAD_TIMEOUT_S)
    except ValueError:
        raise UsageError(f"$VANILLA_GAN_DOWNLOAD_TIMEOUT must be a number of seconds, got "
                         f"{os.environ['VANILLA_GAN_DOWNLOAD_TIMEOUT']!r}") from None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VanillaGanError(f"cannot create the data folder {dest.parent}: {exc.strerror or exc}") from exc
    reason = "no mirrors given"
    for url in urls:
        try:
            data = _fetch(url, dest.name, timeout)
            if check.verify(data) is not None:
                atomic_write(dest, data)
                return dest
            reason = f"{url}: checksum mismatch"
        except (OSError, HTTPException, ValueError) as exc:
            reason = f"{url}: {_reason(exc)}"
    raise VanillaGanError(
        f"cannot download {what} ({len(urls)} mirror(s) tried, last: {reason}); "
        f"copy the files into {dest.parent}/ or use --dataset digits (the embedded digits, no network needed)"
    )


def _fetch(url: str, name: str, timeout: float) -> bytes:
    """The body of `url`, with a progress bar on stderr."""
    buffer = io.BytesIO()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr, disable=None,
                  leave=False) as bar:
            while chunk := response.read(1 << 16):
                buffer.write(chunk)
                bar.update(len(chunk))
    return buffer.getvalue()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return " ".join(f"HTTP {exc.code} {exc.reason}".split())  # a redirect loop's reason runs over lines
    return describe(exc)
