"""Hostile and damaged inputs, table-driven: damaged data files, bad downloads, damaged, foreign and code-carrying
checkpoints, edited run folders, absurd options. Each case asserts the exit status, a one-line message (or, for
a run folder a report can still read, what it left out), and that no file that existed changed (every file is
hashed before and after). Run: python -m pytest tests/test_hostile.py
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, assert_one_line_error, run_cli, run_main
from PIL import Image

from vanilla_gan.data.idx import write_idx

MARKER = "payload-ran"  # a code-carrying checkpoint would create this file
HTML_NAME = "<img src=x onerror=alert(1)>"


class Evil:
    """Pickles as a call that creates MARKER in the current folder: a checkpoint must never run it."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


@dataclass
class Case:
    name: str
    make: Callable[[Path, Path], list]  # (scratch folder, a copy of a trained run) -> the command's arguments
    status: int
    says: str  # in the error line, or in stdout when the command succeeds
    writes: tuple[str, ...] = ()  # files the command may write (a report's), relative to the run copy
    subprocess: bool = False  # run as a separate process (code-carrying files, warnings on stderr)


def idx_folder(scratch: Path, images: bytes | None, labels: np.ndarray | None = None, name: str = "data") -> Path:
    folder = scratch / name
    folder.mkdir()
    if images is not None:
        (folder / "train-images-idx3-ubyte").write_bytes(images)
    if labels is not None:
        write_idx(folder / "train-labels-idx1-ubyte", labels)
    return folder


def good_idx(n: int = 100) -> bytes:
    return bytes([0, 0, 8, 3]) + np.array([n, 28, 28], ">u4").tobytes() + bytes(n * 784)


def huge_header(gz: bool) -> bytes:
    header = bytes([0, 0, 8, 3]) + np.array([2**31, 28, 28], ">u4").tobytes()
    return gzip.compress(header + bytes(1 << 20)) if gz else header + bytes(1000)


def train_on(data: Callable[[Path], Path]) -> Callable[[Path, Path], list]:
    return lambda scratch, run: ["train", "--dataset", data(scratch), "--epochs", 1, "--out", scratch / "new"]


def checkpoint_file(scratch: Path, run: Path, change: Callable[[bytes, dict], bytes | None]) -> Path:
    """A checkpoint made from the run's last.pt by `change(raw bytes, state) -> new bytes`."""
    raw = (run / "checkpoints" / "last.pt").read_bytes()
    state = torch.load(io.BytesIO(raw), weights_only=True)
    path = scratch / "bad.pt"
    path.write_bytes(change(raw, state))
    return path


def saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def flip_inside_a_weight(raw: bytes, state: dict) -> bytes:
    """Four bytes flipped in the middle of the EMA weights' storage: a valid zip whose CRC-32 no longer fits."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        biggest = max(archive.infolist(), key=lambda info: info.file_size)
        offset = biggest.header_offset + 30 + len(biggest.filename.encode()) + len(biggest.extra)
    data = bytearray(raw)
    middle = offset + biggest.file_size // 2
    data[middle:middle + 4] = bytes(b ^ 0xFF for b in data[middle:middle + 4])
    return bytes(data)


def crafted(**changes) -> Callable[[bytes, dict], bytes]:
    def change(raw: bytes, state: dict) -> bytes:
        for key, value in changes.items():
            section, _, field = key.partition(".")
            if field:
                state[section][field] = value
            else:
                state[section] = value
        return saved(state)
    return change


def evil_run(scratch: Path, run: Path) -> Path:
    """A copy of the run whose last.pt carries code."""
    copy = scratch / "evil-run"
    shutil.copytree(run, copy)
    (copy / "checkpoints" / "last.pt").write_bytes(saved({"format": "vanilla-gan-checkpoint", "x": Evil()}))
    return copy


def edited_run(scratch: Path, run: Path, edit: Callable[[Path], None], name: str = "edited") -> Path:
    copy = scratch / name
    shutil.copytree(run, copy)
    edit(copy)
    return copy


def append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def download(mode: str) -> Callable[[Path, Path], list]:
    return lambda scratch, run: ["train", "--dataset", "mnist", "--epochs", 1, "--out", scratch / f"new-{mode}"]


REPORT_FILES = ("report.html", "plots/losses.png", "plots/discriminator.png", "plots/speed.png",
                "plots/memorisation.png", "progress.gif", "interpolation.gif", "interpolation.png", "explore.html")

CASES = [
    # ------------------------------------------------------------------ IDX files and data folders
    Case("idx wrong magic", train_on(lambda s: idx_folder(s, b"\x01\x02" + good_idx()[2:])), 2, "not an IDX file"),
    Case("idx wrong rank", train_on(lambda s: idx_folder(s, bytes([0, 0, 8, 2]) + np.array([100, 784], ">u4").tobytes()
                                                         + bytes(78400))), 2, "expected uint8 (N, 28, 28)"),
    Case("idx truncated", train_on(lambda s: idx_folder(s, good_idx()[:-10])), 2, "truncated IDX data"),
    Case("idx declares 2^31 images", train_on(lambda s: idx_folder(s, huge_header(gz=False))), 2, "truncated IDX data"),
    Case("gzip declares 2^31 images", train_on(lambda s: idx_folder(s, huge_header(gz=True))), 2,
         "more than a gzip file"),
    Case("idx corrupt gzip", train_on(lambda s: idx_folder(s, b"\x1f\x8b" + b"garbage" * 9)), 2, "corrupt gzip"),
    Case("idx empty", train_on(lambda s: idx_folder(s, b"")), 2, "empty file"),
    Case("labels count mismatch", train_on(lambda s: idx_folder(s, good_idx(), np.zeros(99, np.uint8))), 2,
         "100 images but 99 labels"),
    Case("images file missing", train_on(lambda s: idx_folder(s, None, np.zeros(99, np.uint8))), 2,
         "no train-images-idx3-ubyte"),
    # ------------------------------------------------------------------ downloads, from 127.0.0.1
    Case("download wrong checksum", download("wrong"), 1, "checksum mismatch"),
    Case("download 404", download("404"), 1, "HTTP 404"),
    Case("download 500", download("500"), 1, "HTTP 500"),
    Case("download truncated body", download("truncated"), 1, "cannot download"),
    Case("download stall (the server never answers)", download("stall"), 1, "timed out"),
    Case("download loop of redirects", download("loop"), 1, "redirect"),
    # ------------------------------------------------------------------ checkpoints
    Case("checkpoint zero bytes", lambda s, r: ["sample", checkpoint_file(s, r, lambda raw, st: b""),
                                                "-o", s / "o.png"], 2, "an empty file"),
    Case("checkpoint truncated", lambda s, r: ["sample", checkpoint_file(s, r, lambda raw, st: raw[:len(raw) // 2]),
                                               "-o", s / "o.png"], 2, "truncated or damaged"),
    Case("checkpoint random bytes", lambda s, r: ["sample", checkpoint_file(s, r, lambda raw, st: os.urandom(5000)),
                                                  "-o", s / "o.png"], 2, "does not start like a zip file"),
    Case("checkpoint other format version", lambda s, r: ["sample", checkpoint_file(s, r, crafted(format_version=9)),
                                                          "-o", s / "o.png"], 2, "checkpoint format 9"),
    Case("checkpoint foreign torch.save", lambda s, r: ["sample", checkpoint_file(
        s, r, lambda raw, st: saved({"state_dict": {"w": torch.zeros(2)}})), "-o", s / "o.png"], 2,
        "not a vanilla-gan checkpoint"),
    Case("checkpoint bytes flipped in a weight", lambda s, r: ["sample", checkpoint_file(s, r, flip_inside_a_weight),
                                                               "-o", s / "o.png"], 2, "fails its CRC-32 check"),
    Case("code-carrying checkpoint: sample", lambda s, r: ["sample", checkpoint_file(
        s, r, lambda raw, st: saved({"format": "vanilla-gan-checkpoint", "x": Evil()})), "-o", s / "o.png"], 2,
        "damaged or not a vanilla-gan checkpoint", subprocess=True),
    Case("code-carrying checkpoint: evaluate", lambda s, r: ["evaluate", evil_run(s, r), "-n", 1000], 2,
         "damaged or not a vanilla-gan checkpoint", subprocess=True),
    Case("code-carrying checkpoint: report", lambda s, r: ["report", evil_run(s, r)], 2,
         "damaged or not a vanilla-gan checkpoint", subprocess=True),
    Case("code-carrying checkpoint: export", lambda s, r: ["export", evil_run(s, r), "-o", s / "g.onnx"], 2,
         "damaged or not a vanilla-gan checkpoint", subprocess=True),
    Case("code-carrying checkpoint: train --resume", lambda s, r: ["train", "--out", evil_run(s, r), "--resume"], 2,
         "damaged or not a vanilla-gan checkpoint", subprocess=True),
    Case("another architecture on --resume", lambda s, r: ["train", "--out", r, "--resume", "--g-hidden", "64,64"], 2,
         "--g-hidden: must match the run being resumed"),
    Case("crafted config: latent_dim -1", lambda s, r: ["sample", checkpoint_file(
        s, r, crafted(**{"model_config.latent_dim": -1})), "-o", s / "o.png"], 2, "--latent-dim must be in"),
    Case("crafted config: width 2e7", lambda s, r: ["sample", checkpoint_file(
        s, r, crafted(**{"model_config.g_hidden": [20_000_000, 32]})), "-o", s / "o.png"], 2, "widths in 1..65536"),
    Case("crafted epoch 'x'", lambda s, r: ["sample", checkpoint_file(s, r, crafted(epoch="x")), "-o", s / "o.png"],
         2, "epoch is 'x', not a count"),
    Case("crafted weight shape", lambda s, r: ["sample", checkpoint_file(
        s, r, crafted(**{"generator_ema.net.0.weight": torch.zeros(3, 3)})), "-o", s / "o.png"], 2,
        "generator_ema.net.0.weight is torch.float32 (3, 3)"),
    Case("a TorchScript file as checkpoint", lambda s, r: (run_main("export", r, "-o", s / "g.pt"), [
        "sample", s / "g.pt", "-o", s / "o.png"])[1], 2, "not a vanilla-gan checkpoint", subprocess=True),
    Case("a text file as checkpoint", lambda s, r: ((s / "notes.txt").write_text("hello"), [
        "sample", s / "notes.txt", "-o", s / "o.png"])[1], 2, "does not start like a zip file"),
    # ------------------------------------------------------------------ run folders
    Case("config.json missing", lambda s, r: ["report", edited_run(s, r, lambda c: (c / "config.json").unlink())], 2,
         "not a vanilla-gan run folder"),
    Case("config.json not JSON", lambda s, r: ["report", edited_run(
        s, r, lambda c: (c / "config.json").write_text("{not json"))], 2, "config.json is damaged"),
    Case("config.json edited", lambda s, r: ["report", edited_run(s, r, lambda c: (c / "config.json").write_text(
        json.dumps({"train": {"grid_size": "x", "epochs": "<b>many</b>"}, "model": 3})))], 0, "report:",
        writes=REPORT_FILES),
    Case("metrics.jsonl torn line", lambda s, r: ["report", edited_run(
        s, r, lambda c: append(c / "metrics.jsonl", '{"epoch": 3, "step": 2'))], 0,
        "left out of the report: metrics.jsonl line 3", writes=REPORT_FILES),
    Case("metrics.jsonl short line", lambda s, r: ["report", edited_run(
        s, r, lambda c: append(c / "metrics.jsonl", '{"epoch": 3}\ngarbage\n'))], 0,
        "metrics.jsonl line 4: torn or damaged", writes=REPORT_FILES),
    Case("garbage sample PNG", lambda s, r: ["report", edited_run(
        s, r, lambda c: (c / "samples" / "epoch_0002.png").write_bytes(b"not a png"))], 0,
        "epoch_0002.png: not a readable PNG", writes=REPORT_FILES),
    Case("a sample PNG that is not a grid", lambda s, r: ["report", edited_run(
        s, r, lambda c: Image.new("L", (10, 10)).save(c / "samples" / "epoch_0002.png"))], 0, "report:",
        writes=REPORT_FILES),
    Case("HTML in the folder name", lambda s, r: ["report", edited_run(s, r, lambda c: None, HTML_NAME)], 0,
         "report:", writes=REPORT_FILES),
    Case("a file given as the run folder", lambda s, r: ((s / "x.txt").write_text("x"), ["report", s / "x.txt"])[1], 2,
         "is a file, not a run folder"),
    # ------------------------------------------------------------------ absurd options
    *[Case(f"train {' '.join(map(str, flags))}", lambda s, r, flags=flags: [
        "train", *TINY, *flags, "--out", s / "new"], 2, says)
      for flags, says in [
          (["--batch-size", 0], "--batch-size must be at least 1"),
          (["--batch-size", 1_000_000_000], "larger than the data set"),
          (["--lr", "nan"], "--lr must be a finite number"), (["--lr", -1], "--lr must be a number in (0, 1]"),
          (["--lr", "inf"], "--lr must be a finite number"), (["--lr", "1e309"], "--lr must be a finite number"),
          (["--betas", "1.5,0.9"], "--betas needs two numbers in [0, 1)"), (["--epochs", 0], "--epochs must be"),
          (["--limit", -5], "--limit must be at least 1"), (["--latent-dim", 0], "--latent-dim must be in"),
          (["--slope", "nan"], "--slope must be a finite number"), (["--seed", "1e23"], "invalid int value"),
          (["--seed", 10**23], "--seed must be in 0..2**63-1"), (["--limit", 5], "larger than the data set"),
          (["--dropout", "nan"], "--dropout must be a finite number")]],
    Case("sample -n -1", lambda s, r: ["sample", r, "-n", -1, "-o", s / "o.png"], 2, "-n must be in 1..10,000"),
    Case("sample -n 100000000", lambda s, r: ["sample", r, "-n", 100_000_000, "-o", s / "o.npy"], 2,
         "-n must be in 1..1,000,000"),
    Case("evaluate -n 100000000", lambda s, r: ["evaluate", r, "-n", 100_000_000], 2, "-n must be in 20..200,000"),
    Case("export -o gen.tflite", lambda s, r: ["export", r, "-o", s / "gen.tflite"], 2,
         "cannot tell the format from .tflite"),
]


class Mirror(BaseHTTPRequestHandler):
    """Answers every request as the test's mode says: wrong bytes, 404, 500, a short body, a stall, a loop."""

    mode = "404"

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        if self.mode in ("404", "500"):
            self.send_error(int(self.mode))
        elif self.mode == "loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.end_headers()
        elif self.mode == "stall":
            time.sleep(3)
        else:
            body = gzip.compress(good_idx())
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + (1000 if self.mode == "truncated" else 0)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror(monkeypatch, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    monkeypatch.setenv("VANILLA_GAN_MIRRORS", f"http://127.0.0.1:{server.server_address[1]}/")
    monkeypatch.setenv("VANILLA_GAN_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("VANILLA_GAN_DOWNLOAD_TIMEOUT", "1")
    yield Mirror
    server.shutdown()
    server.server_close()


def hashes(folder: Path) -> dict[str, str]:
    """Every file's SHA-256 (but train.lock's, which holds the PID of the last process to take it)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "train.lock"}


def test_the_table_holds_at_least_forty_kinds():
    assert len(CASES) >= 40 and len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(case, tiny_run, tmp_path, mirror, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    run = scratch / "run"
    shutil.copytree(tiny_run, run)
    monkeypatch.chdir(scratch)  # where a code-carrying checkpoint would drop MARKER
    mirror.mode = case.name.split()[1] if case.name.startswith("download") else "404"
    args = case.make(scratch, run)
    before = hashes(scratch)
    result = run_cli(*args, cwd=scratch) if case.subprocess else run_main(*args)
    if case.status:
        line = assert_one_line_error(result, case.status)
        assert case.says in line, line
        assert args[0] != "train" or result.stdout == "", "nothing is said (no seed line) before the error"
    else:
        assert result.returncode == 0, result.stderr[-500:]
        assert case.says in result.stdout, result.stdout[-800:]
    after = hashes(scratch)
    changed = {name for name in before if after.get(name) != before[name]}
    allowed = {str(Path(folder) / name) for folder in ("run", "edited", HTML_NAME) for name in case.writes}
    assert changed <= allowed, f"files changed: {sorted(changed - allowed)}"
    assert not (scratch / MARKER).exists(), "a checkpoint ran code"
    assert not [p for p in scratch.iterdir() if p.name.startswith("new")], "no run folder is left behind"
    if case.name == "HTML in the folder name":
        page = (scratch / HTML_NAME / "report.html").read_text()
        assert HTML_NAME not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
