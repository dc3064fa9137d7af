"""Helpers shared by the tests (import them with `from helpers import ...`; fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch
from torch import nn

from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.training.trainer import Trainer

# A small model and data slice: the CLI tests exercise the real code paths in seconds.
TINY = ["--eval-every", "0", "--latent-dim", "8", "--g-hidden", "32,32", "--d-hidden", "32,32", "--limit", "512",
        "--batch-size", "64"]
# The same as keyword arguments of vanilla_gan.train.
TINY_OPTIONS = {"eval_every": 0, "latent_dim": 8, "g_hidden": (32, 32), "d_hidden": (32, 32), "limit": 512,
                "batch_size": 64}


# A small model for Trainer tests: a step takes milliseconds.
SMALL_MODEL = ModelConfig(latent_dim=16, g_hidden=(64, 64), d_hidden=(64, 32))


def make_trainer(tmp_path: Path, images: torch.Tensor, name: str = "run", model: ModelConfig = SMALL_MODEL,
                 evaluate=None, device: str = "cpu", **train) -> Trainer:
    """A Trainer of the small model writing into tmp_path/name: seed 7, 2 epochs of batch 64, no evaluation
    (`train` overrides any TrainConfig field)."""
    config = TrainConfig(**{"seed": 7, "epochs": 2, "batch_size": 64, "device": device, "eval_every": 0, **train})
    return Trainer(copy.deepcopy(model), config, images, RunDir(tmp_path / name), evaluate=evaluate)


def weights(module: nn.Module) -> dict:
    """A copy of a module's state (its tensors cloned), to compare before and after."""
    return {k: v.clone() for k, v in module.state_dict().items()}


WAIT = 900  # seconds a test waits for a subprocess's event before calling it hung: minutes on a loaded machine


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = WAIT):
    """Run `python -m vanilla_gan ARGS` in a subprocess, as a user would; returns CompletedProcess. A command
    still running after `timeout` seconds fails the test, saying which command it waited for."""
    try:
        return subprocess.run([sys.executable, "-m", "vanilla_gan", *map(str, args)], capture_output=True, text=True,
                              cwd=cwd, env={**os.environ, **(env or {})}, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"waited {timeout:.0f} s for `vanilla-gan {' '.join(map(str, args))}` to end: it "
                             f"hangs (or the machine is far slower than expected)") from None


def wait_for(what: str, happened, process: subprocess.Popen, timeout: float = WAIT, poll: float = 0.01) -> None:
    """Wait until `happened()` is true while `process` runs; fail saying what was awaited, and whether the process
    ended first (with its exit status and the end of its stderr) or the wait timed out."""
    deadline = time.monotonic() + timeout
    while not happened():
        if process.poll() is not None:
            err = process.stderr.read()[-800:] if process.stderr else ""
            raise AssertionError(f"waited for {what}, but the process ended first (exit {process.returncode}): {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}: it did not happen (the process still runs)")
        time.sleep(poll)


def epochs_written(run: Path) -> int:
    """The complete epochs a run folder's metrics.jsonl holds (0 before it exists)."""
    metrics = run / "metrics.jsonl"
    return len(metrics.read_text().splitlines()) if metrics.exists() else 0


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


# What differs between two runs by the clock alone: seconds, the speeds worked out from them, and the thread
# count an adaptive policy chose from them (threads.py).
WALL_CLOCK = {"epoch_time", "elapsed", "images_per_s", "elapsed_s", "eval_s", "threads"}


# Two training processes may end a rounding error apart (docs/design.md, Reproducibility: once in a full suite
# under MKL's strict mode, 1 to 2 ulps, every RNG state and count equal). So floating-point numbers agree to
# FLOAT_TOLERANCE, far tighter than any lost state leaves them (tests/test_helpers.py: a lost Adam moment or RNG
# draw, resumed and trained on, is off by 1e-3 or more); everything else (RNG states, step counts, positions,
# configs) must be equal.
FLOAT_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


def differences(a: object, b: object, where: str = "") -> list[str]:
    """Where two checkpoint-like values (dicts, lists, tensors, numbers) differ, as paths like
    'opt_d.state.0.exp_avg': floating-point values beyond FLOAT_TOLERANCE, anything else at all; an Adam step
    count exactly; the clock's fields (WALL_CLOCK) are skipped."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where or 'top'}: keys {sorted(map(str, a.keys() ^ b.keys()))}"]
        return [d for k in a if k not in WALL_CLOCK for d in differences(a[k], b[k], f"{where}.{k}".lstrip("."))]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items against {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}.{i}")]
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.dtype != b.dtype or a.shape != b.shape:
            return [f"{where}: {a.dtype} {tuple(a.shape)} against {b.dtype} {tuple(b.shape)}"]
        close = (a.is_floating_point() and not where.endswith(".step")
                 and torch.allclose(a, b, equal_nan=True, **FLOAT_TOLERANCE))
        return [] if close or torch.equal(a, b) else [f"{where}: tensors differ"]
    if isinstance(a, float) and isinstance(b, float):
        close = math.isclose(a, b, rel_tol=FLOAT_TOLERANCE["rtol"], abs_tol=FLOAT_TOLERANCE["atol"])
        return [] if close or (a != a and b != b) else [f"{where}: {a!r} against {b!r}"]
    return [] if type(a) is type(b) and (a == b or a != a and b != b) else [f"{where}: {a!r} against {b!r}"]


def assert_same_run(run: Path, baseline: Path) -> None:
    """Two run folders end in the same state: last.pt whole (G, its moving average, D, both Adam states with
    their moments and step counts, every RNG state, the epoch position, the metrics it carries, the configs)
    and metrics.jsonl line for line, all but the clock's fields; floating-point numbers to FLOAT_TOLERANCE. A
    resume that loses an RNG draw, an Adam moment or a step fails here."""
    ours, theirs = (torch.load(Path(r) / "checkpoints" / "last.pt", weights_only=True) for r in (run, baseline))
    found = differences(ours, theirs)
    assert not found, f"{run} against {baseline}: {found[:5]}"
    ours, theirs = ([json.loads(line) for line in (Path(r) / "metrics.jsonl").read_text().splitlines()]
                    for r in (run, baseline))
    found = differences(ours, theirs)
    assert not found, f"{run}/metrics.jsonl against {baseline}'s: {found[:5]}"


def run_weights(run: Path) -> dict[str, torch.Tensor]:
    """Every weight of a run folder's last.pt (G, its moving average, D), as 'net.name' -> tensor."""
    state = torch.load(Path(run) / "checkpoints" / "last.pt", weights_only=True)
    return {f"{net}.{k}": v for net in ("generator", "generator_ema", "discriminator") for k, v in state[net].items()}
