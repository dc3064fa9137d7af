"""The run's report (report/__init__.py): the files `train` writes, report.html self-contained and in a real
browser, the `report` command, its errors, and a panel left out. Run with `python -m pytest tests/test_report.py`;
the browser tests skip without Chromium (`apt-get install chromium`).
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from browser import chromium, load_page, needs_chromium
from helpers import TINY, assert_one_line_error, run_cli, run_main
from PIL import Image

from vanilla_gan.report import write_report

EPOCHS = 3


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory) -> tuple[Path, str]:
    """A 3-epoch tiny run evaluated every epoch; its stdout (health notes, report path)."""
    run = tmp_path_factory.mktemp("report") / "run"
    result = run_cli("train", *TINY, "--eval-every", "1", "--eval-samples", "1000", "--epochs", EPOCHS,
                     "--seed", "5", "--out", run)
    assert result.returncode == 0, result.stderr
    return run, result.stdout


def test_train_writes_the_report_and_its_pictures(evaluated_run):
    run, stdout = evaluated_run
    for name in ("report.html", "explore.html", "progress.gif", "interpolation.gif", "interpolation.png",
                 "plots/losses.png", "plots/discriminator.png", "plots/speed.png", "plots/metrics.png",
                 "plots/memorisation.png"):
        assert (run / name).is_file(), name
    with Image.open(run / "progress.gif") as gif:
        assert gif.n_frames == EPOCHS
    assert "training health:" in stdout and "memorisation: " in stdout and f"report: {run / 'report.html'}" in stdout


def test_report_is_self_contained(evaluated_run):
    run, _ = evaluated_run
    page = (run / "report.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    outside = [s[:40] for s in sources if not s.startswith("data:") and s != "explore.html"]
    assert sources and not outside, outside
    assert "explore.html" in sources and (run / "explore.html").is_file()  # the page to play with, beside it
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page  # the browser itself refuses any request the page might make
    for heading in ("Training health", "Generated and real", "Animations", "Curves", "Final metrics",
                    "Memorisation check", "Configuration"):
        assert heading in page, heading
    assert "image/gif" in page and 'name="viewport"' in page
    assert "In the last epoch D(x) averaged" in page and "2 ln 2 = 1.39" in page  # the curves read for a learner


def test_report_command_rewrites_the_report(evaluated_run, tmp_path):
    run, _ = evaluated_run
    before = {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()}
    result = run_main("report", run)
    assert result.returncode == 0, result.stderr
    assert "training health:" in result.stdout and "memorisation: " in result.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()} == before


def test_report_errors_are_one_line(tmp_path, tiny_run):
    assert "no such run folder" in assert_one_line_error(run_main("report", tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    assert "not a vanilla-gan run folder" in assert_one_line_error(run_main("report", tmp_path / "empty"))
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("config.json", "metrics.jsonl"):
        (damaged / name).write_bytes((tiny_run / name).read_bytes())
    (damaged / "checkpoints").mkdir()
    (damaged / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    assert "damaged" in assert_one_line_error(run_main("report", damaged))
    assert (damaged / "checkpoints" / "last.pt").read_bytes() == b"not a checkpoint"


def test_report_without_matplotlib_leaves_the_plots_out(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    report = write_report(tiny_run)
    assert any(s.startswith("plots: ") and "pip install matplotlib" in s for s in report.skipped), report.skipped
    page = report.path.read_text()
    assert "Left out" in page and "Memorisation check" in page and "Curves" not in page


# ----------------------------------------------------------------------------- in a real browser



def not_blank(png: bytes) -> bool:
    with Image.open(io.BytesIO(png)) as shot:
        pixels = np.asarray(shot.convert("L"), dtype=float)
    return pixels.std() > 10 and (pixels < 128).mean() > 0.02  # dark digits, text and plot lines on a light page


@needs_chromium
@pytest.mark.parametrize(("width", "mobile"), [(1280, False), (390, True)], ids=["desktop", "phone"])
def test_report_in_chromium(evaluated_run, width, mobile):
    run, _ = evaluated_run
    page = load_page(chromium, (run / "report.html").resolve().as_uri(), width=width, mobile=mobile)
    assert page.errors == [] and page.failed == [] and page.broken_images == 0
    assert all(url.startswith("data:") for url in page.requests[1:]), page.requests  # no network, no files
    assert page.scroll_width <= page.viewport_width  # nothing wider than a phone's screen
    assert not_blank(page.screenshot)


@needs_chromium
def test_browser_check_catches_errors(tmp_path):
    """The checks above can fail: a page with a missing image and a console error is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><p>x</p><img src="missing.png"><script>console.error("boom")</script>')
    page = load_page(chromium, bad.resolve().as_uri(), settle=0.2)
    assert "console: boom" in page.errors and page.failed and page.broken_images == 1
    assert not not_blank(page.screenshot)
