"""The report page (report/page.py): nothing from the run folder is taken as markup. config.json is the user's
file and a run folder's name is anyone's choice: both are escaped. Run: python -m pytest tests/test_page.py
"""

from __future__ import annotations

import json
import shutil

from vanilla_gan.report import write_report

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
