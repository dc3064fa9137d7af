"""Verified downloads (data/download.py), against a local HTTP server on 127.0.0.1: checksums, mirrors in
order, failures that leave nothing behind. Run: python -m pytest tests/test_download.py
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from helpers import Server

from vanilla_gan.data import download as dl
from vanilla_gan.data.download import FileCheck, download
from vanilla_gan.errors import UsageError, VanillaGanError


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Downloads, against a local server


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


def test_mirrors_env_var_replaces_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VANILLA_GAN_MIRRORS", raising=False)
    assert dl.mirrors("mnist") == list(dl.MIRRORS["mnist"])
    assert dl.mirrors("mnist")[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    monkeypatch.setenv("VANILLA_GAN_MIRRORS", " http://a/ ,http://b/x/,")
    assert dl.mirrors("fashion-mnist") == ["http://a/", "http://b/x/"]


