"""TensorBoard logging (report/tblog.py, `train --tensorboard`): scalars per epoch and per --log-every steps,
the grid, and a one-line error without the extra. Skips without `pip install 'vanilla-gan[tensorboard]'`.
Run: python -m pytest tests/test_tblog.py
"""

from __future__ import annotations

import json
import sys

import pytest
from helpers import TINY, assert_one_line_error, run_cli, run_main


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


