"""The report page (report/page.py): nothing from the run folder is taken as markup. config.json is the user's
file and a run folder's name is anyone's choice: both are escaped. Run: python -m pytest tests/test_page.py
"""

from __future__ import annotations

import json
import shutil

import numpy as np

from vanilla_gan.report import write_report
from vanilla_gan.report.page import reading_of_d

INJECTED = '<meta http-equiv="refresh" content="0; url=https://example.invalid/">'


def test_markup_in_config_and_folder_name_is_escaped(tiny_run, tmp_path):
    run = tmp_path / "<b>bold</b>"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "config.json").read_text())
    config["train"].update(seed=INJECTED, epochs=INJECTED, dataset=INJECTED)
    config["num_images"] = INJECTED
    (run / "config.json").write_text(json.dumps(config))
    page = write_report(run).path.read_text()
    assert "<meta http-equiv=\"refresh\"" not in page and "<b>bold</b>" not in page
    assert "&lt;meta http-equiv=&quot;refresh&quot;" in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_the_captions_say_images_for_data_other_than_digits(tmp_path):
    from vanilla_gan.report.page import _noun, _samples_section, _two_sample_section
    from vanilla_gan.runs.runlog import RunRecord

    real = np.zeros((4, 6, 6, 3), dtype=np.uint8)
    metrics = [{"epoch": 1, "c2st_accuracy": 0.9, "real_floor": {"c2st_accuracy": 0.5}, "c2st_optimistic": True}]
    cases = (("digits", "digits"), ("mnist", "digits"), ("photos/", "images"), ("fashion-mnist", "images"))
    for dataset, noun in cases:
        run = RunRecord(tmp_path, {"train": {"dataset": dataset, "grid_size": 4}}, metrics, None)
        assert _noun(run) == noun
        words = _two_sample_section(run.metrics, None, _noun(run)) + _samples_section(run, real)
        assert f"real {noun}" in words and f"training {noun}" in words
        if noun == "images":
            assert "digit" not in words, words


def test_the_curves_say_in_a_line_why_ds_outputs_look_as_they_do():
    """For a learner: loss_D against 2 ln 2, and D(x) against D(G(z)) read as balanced, D winning, or playing."""
    balanced = reading_of_d({"d_real": 0.53, "d_fake": 0.47, "loss_d": 1.29})
    assert "1.29" in balanced["losses"] and "1.39" in balanced["losses"]
    assert "barely tell them apart" in balanced["discriminator"] and "0.53" in balanced["discriminator"]
    assert "D is winning" in reading_of_d({"d_real": 0.95, "d_fake": 0.04, "loss_d": 0.12})["discriminator"]
    assert "still playing" in reading_of_d({"d_real": 0.75, "d_fake": 0.3, "loss_d": 0.9})["discriminator"]
    assert reading_of_d({"d_real": None, "d_fake": 0.3, "loss_d": 0.9}) == {}
