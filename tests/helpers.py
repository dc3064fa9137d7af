"""Helpers shared by the tests (import them with `from helpers import ...`; fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import subprocess
import sys
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch

# A small model and data slice: the CLI tests exercise the real code paths in seconds.
TINY = ["--eval-every", "0", "--latent-dim", "8", "--g-hidden", "32,32", "--d-hidden", "32,32", "--limit", "512",
        "--batch-size", "64"]
# The same as keyword arguments of vanilla_gan.train.
TINY_OPTIONS = {"eval_every": 0, "latent_dim": 8, "g_hidden": (32, 32), "d_hidden": (32, 32), "limit": 512,
                "batch_size": 64}


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
    """Run `python -m vanilla_gan ARGS` in a subprocess, as a user would; returns CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "vanilla_gan", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=timeout)


def run_main(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI's `main` in this process (fast; for argument checks), captured like `run_cli`."""
    from vanilla_gan.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse exits on bad usage
            code = exit_.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def assert_one_line_error(result, exit_code: int = 2) -> str:
    """The error contract: exit status, one `error:` line on stderr, no traceback."""
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


class Server:
    """A local HTTP server on 127.0.0.1: `files` maps a URL path to its bytes, `broken` paths answer 500."""

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


class Drift(AssertionError):
    """Two runs that should be bit-identical differ in their numbers (their files are complete)."""


def assert_same_weights(a: dict, b: dict, what: str = "the weights") -> None:
    """Two state dicts (name -> tensor) equal bit for bit, else Drift."""
    if a.keys() != b.keys():
        raise AssertionError(f"{what}: different keys")
    if not all(torch.equal(a[k], b[k]) for k in a):
        raise Drift(f"{what} differ")


def once_more_on_drift(test):
    """Run a test that trains in separate processes once more, in a fresh folder, if its numbers drifted.

    A resume that loses state (an RNG, a step, an Adam moment) drifts every time and fails. On this project's
    2-core VM a training process sometimes ends a rounding error away from an identical one (about once per full
    run of the suite's ~60 cross-process comparisons; 2 to 6 in 48 repeats of one command with different --out
    paths, 0 to 1 in 20 with the same path; 1 in 20 with Adam applied after the backward pass too): the first
    difference is tiny, a GAN amplifies it, and it does not repeat, so the second try passes, and says so."""
    @functools.wraps(test)
    def wrapper(**fixtures):  # pytest passes fixtures by name; tmp_path is one of them
        try:
            return test(**fixtures)
        except Drift as first:
            again = fixtures["tmp_path"] / "again"
            again.mkdir()
            test(**{**fixtures, "tmp_path": again})
            warnings.warn(f"drifted once, then ended bit-identical when repeated: {first}", stacklevel=1)
    return wrapper


def run_weights(run: Path) -> dict[str, torch.Tensor]:
    """Every weight of a run folder's last.pt (G, its moving average, D), as 'net.name' -> tensor."""
    state = torch.load(Path(run) / "checkpoints" / "last.pt", weights_only=True)
    return {f"{net}.{k}": v for net in ("generator", "generator_ema", "discriminator") for k, v in state[net].items()}
