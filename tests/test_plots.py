"""The curves (report/plots.py): written from steps.csv, or from the epoch means of a run without one.
Run: python -m pytest tests/test_plots.py
"""

from __future__ import annotations

import shutil

from PIL import Image

from vanilla_gan.report import write_report
from vanilla_gan.report.plots import step_series, write_plots
from vanilla_gan.runs.rundir import RunDir


def test_every_curve_is_a_png(tiny_run, tmp_path):
    paths = write_plots(RunDir(tiny_run).read(), tmp_path / "plots")
    assert sorted(paths) == ["discriminator", "losses", "speed"]  # never evaluated: no metrics panel
    for path in paths.values():
        with Image.open(path) as picture:
            assert picture.format == "PNG" and picture.width > 400


def test_a_run_without_steps_csv_is_plotted_from_epoch_means(tiny_run, tmp_path):
    older = tmp_path / "older"
    shutil.copytree(tiny_run, older)
    (older / "steps.csv").unlink()  # as in runs made before steps.csv existed
    steps, series, per_step = step_series(RunDir(older).read())
    assert not per_step and list(steps) == [8, 16] and len(series["loss_d"]) == 2
    report = write_report(older)
    assert report.skipped == [] and (older / "plots" / "losses.png").is_file()


