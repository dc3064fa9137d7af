"""`vanilla-gan evaluate RUN` keeps what it computed in RUN/evaluation.json, and the report shows it when the run's
own evaluation is missing or older.

Run: python -m pytest tests/test_kept_evaluation.py -n 0 -q
"""

from __future__ import annotations

import json
import shutil

from helpers import TINY, run_cli, run_main

import vanilla_gan as vg


def test_evaluate_then_report_shows_that_evaluation(tmp_path):
    run = tmp_path / "run"
    trained = run_cli("train", *TINY, "--epochs", "2", "--seed", "1", "--checkpoint-every", "1", "--out", run,
                      "--no-report")
    assert trained.returncode == 0, trained.stderr
    assert not (run / "evaluation.json").exists()
    evaluated = run_main("evaluate", run, "-n", "1000", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)  # stdout stays one JSON object
    assert "kept in" in evaluated.stderr and "epoch 2 (last.pt)" in evaluated.stderr
    kept = json.loads((run / "evaluation.json").read_text())
    assert kept["checkpoint"] == "checkpoints/last.pt" and kept["num_samples"] == 1000 and kept["seed"] == 0
    assert kept["result"]["c2st_accuracy"] == result["c2st_accuracy"]
    reported = run_main("report", run)
    assert reported.returncode == 0, reported.stderr
    page = (run / "report.html").read_text()
    assert "vanilla-gan evaluate on " in page and "Can a classifier tell them from real?" in page
    assert f"{result['c2st_accuracy']:.0%}" in page


def test_an_older_checkpoint_is_named_and_never_hides_a_newer_evaluation(tmp_path):
    run = tmp_path / "run"
    assert run_cli("train", *TINY, "--epochs", "2", "--seed", "1", "--checkpoint-every", "1", "--out", run,
                   "--no-report").returncode == 0
    older = run_main("evaluate", run / "checkpoints" / "epoch_0001.pt", "-n", "1000", "--no-two-sample")
    assert older.returncode == 0, older.stderr
    assert "epoch 1 (epoch_0001.pt), not the run's last.pt" in older.stderr
    record = vg.load(run).run_dir.read()
    assert record.evaluation["result"]["epoch"] == 1
    shown = record.metrics_with_evaluation()
    assert shown[0].get("evaluated_by") and "evaluated_by" not in shown[1]
    # a checkpoint outside a run folder is scored, not kept
    shutil.copy(run / "checkpoints" / "last.pt", tmp_path / "loose.pt")
    loose = run_main("evaluate", tmp_path / "loose.pt", "-n", "1000", "--no-two-sample")
    assert loose.returncode == 0 and "not kept" in loose.stderr
    # a damaged evaluation.json is left out of the report with a note, never an error
    (run / "evaluation.json").write_text("{not json")
    assert vg.load(run).run_dir.read().evaluation is None
    assert run_main("report", run).returncode == 0
