"""The run's report: files written by `train`, report.html in a real browser, `report`, `sample --interpolate`,
TensorBoard. Run with `python -m pytest tests/test_report.py`; the browser tests skip without Chromium
(`apt-get install chromium`), the TensorBoard test without `pip install 'vanilla-gan[tensorboard]'`.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from browser import find_chromium, load_page
from conftest import TINY, assert_one_line_error, run_cli, run_main
from PIL import Image

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
    for name in ("report.html", "progress.gif", "interpolation.gif", "interpolation.png", "plots/losses.png",
                 "plots/discriminator.png", "plots/speed.png", "plots/metrics.png", "plots/memorisation.png"):
        assert (run / name).is_file(), name
    with Image.open(run / "progress.gif") as gif:
        assert gif.n_frames == EPOCHS
    assert "training health:" in stdout and "memorisation: " in stdout and f"report: {run / 'report.html'}" in stdout


def test_steps_csv_has_every_step_once(evaluated_run):
    run, _ = evaluated_run
    table = np.loadtxt(run / "steps.csv", delimiter=",", skiprows=1)
    steps_per_epoch = 512 // 64
    assert table.shape == (EPOCHS * steps_per_epoch, 6)
    np.testing.assert_array_equal(table[:, 1], np.arange(1, EPOCHS * steps_per_epoch + 1))
    np.testing.assert_array_equal(table[:, 0], np.repeat(np.arange(1, EPOCHS + 1), steps_per_epoch))
    first = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert table[:steps_per_epoch, 2].mean() == pytest.approx(first["loss_d"], rel=1e-3)


def test_report_is_self_contained(evaluated_run):
    run, _ = evaluated_run
    page = (run / "report.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    outside = [s[:40] for s in sources if not s.startswith("data:")]
    assert sources and not outside, outside
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page  # the browser itself refuses any request the page might make
    for heading in ("Training health", "Generated and real", "Animations", "Curves", "Final metrics",
                    "Memorisation check", "Configuration"):
        assert heading in page, heading
    assert "image/gif" in page and 'name="viewport"' in page


def test_steps_csv_matches_across_resume(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    args = [*TINY, "--seed", "2", "--no-report"]
    assert run_cli("train", *args, "--epochs", 2, "--out", straight).returncode == 0
    assert run_cli("train", *args, "--epochs", 1, "--out", resumed).returncode == 0
    # A row of an epoch the checkpoint does not hold (as after a crash before the checkpoint): dropped on resume.
    with open(resumed / "steps.csv", "a") as f:
        f.write("2,9,1,1,0.5,0.5\n")
    assert run_cli("train", "--out", resumed, "--resume", "--epochs", 2, "--no-report").returncode == 0
    assert (straight / "steps.csv").read_text() == (resumed / "steps.csv").read_text()
    assert not (straight / "report.html").exists()


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
    from vanilla_gan.report import write_report

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    report = write_report(tiny_run)
    assert any(s.startswith("plots: ") and "pip install matplotlib" in s for s in report.skipped), report.skipped
    page = report.path.read_text()
    assert "Left out" in page and "Memorisation check" in page and "Curves" not in page


def test_a_run_without_steps_csv_is_plotted_from_epoch_means(tiny_run, tmp_path):
    from vanilla_gan.plots import step_series
    from vanilla_gan.report import write_report
    from vanilla_gan.runfiles import load_run

    older = tmp_path / "older"
    shutil.copytree(tiny_run, older)
    (older / "steps.csv").unlink()  # as in runs made before steps.csv existed
    steps, series, per_step = step_series(load_run(older))
    assert not per_step and list(steps) == [8, 16] and len(series["loss_d"]) == 2
    report = write_report(older)
    assert report.skipped == [] and (older / "plots" / "losses.png").is_file()


def test_sample_interpolate_writes_gif_and_strip(tiny_run, tmp_path):
    result = run_main("sample", tiny_run, "--interpolate", "-n", 3, "--frames", 5, "-o", tmp_path / "walk.gif")
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 5 + 3  # there and back: 5 frames out, the 3 inner ones back
    with Image.open(tmp_path / "walk.png") as strip:
        assert strip.size == ((5 * 30 + 2) * 2, (3 * 30 + 2) * 2)  # a row per walk, a column per frame
    bad = run_main("sample", tiny_run, "--interpolate", "-o", tmp_path / "walk.npy")
    assert ".gif or .png" in assert_one_line_error(bad)


def test_tensorboard_event_files_hold_scalars_and_grids(tmp_path):
    pytest.importorskip("tensorboard", reason="needs pip install 'vanilla-gan[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "tb"
    result = run_cli("train", *TINY, "--epochs", 2, "--seed", 1, "--tensorboard", "--no-report", "--log-every", 3,
                     "--out", run)
    assert result.returncode == 0, result.stderr
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0}).Reload()
    assert [e.step for e in events.Scalars("epoch/loss_d")] == [1, 2]
    assert [e.step for e in events.Scalars("step/loss_g")] == [3, 6, 8, 11, 14, 16]  # every 3 steps, epochs of 8
    assert [e.step for e in events.Images("samples")] == [1, 2]
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    assert events.Scalars("epoch/d_fake")[-1].value == pytest.approx(json.loads(metrics[-1])["d_fake"], rel=1e-5)


def test_tensorboard_missing_is_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    result = run_main("train", *TINY, "--epochs", 1, "--seed", 1, "--tensorboard", "--out", tmp_path / "run")
    assert "pip install 'vanilla-gan[tensorboard]'" in assert_one_line_error(result)
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- in a real browser

chromium = find_chromium()
needs_chromium = pytest.mark.skipif(chromium is None, reason="Chromium is not installed (apt-get install chromium)")


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
