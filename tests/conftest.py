"""Shared helpers for the tests. Run the suite with `python -m pytest` from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# A small model and data slice: the CLI tests exercise the real code paths in seconds.
TINY = ["--eval-every", "0", "--latent-dim", "8", "--g-hidden", "32,32", "--d-hidden", "32,32", "--limit", "512",
        "--batch-size", "64"]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
    """Run `python -m vanilla_gan ARGS` in a subprocess, as a user would; returns CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "vanilla_gan", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=timeout)


def run_main(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI's `main` in this process (fast; for argument checks), captured like `run_cli`."""
    import contextlib
    import io

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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished 2-epoch run of the tiny model, shared by read-only tests."""
    run = tmp_path_factory.mktemp("runs") / "tiny"
    result = run_cli("train", *TINY, "--epochs", "2", "--seed", "3", "--out", run)
    assert result.returncode == 0, result.stderr
    return run
