"""Every benchmark (benchmarks/) and experiment (experiments/) script still imports and parses its options against
the package as it is: `--help` in a fresh process, as its reader would first run it. The seams the experiments
use instead of private members (`Trainer(batch_transform=, step_hooks=)`) are tested in tests/test_trainer.py.

Run: python -m pytest tests/test_scripts.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import WAIT

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("experiments/*.py")])
LIBRARIES = {"d_arms.py"}  # imported by the others, nothing to run


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s.name not in LIBRARIES], ids=lambda s: s.name)
def test_the_script_imports_and_shows_its_help(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=WAIT,
                          cwd=script.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout and "Traceback" not in done.stderr


def test_the_experiments_reach_no_private_member_of_the_trainer():
    """No `trainer._name` (nor a replaced `trainer.train_step`) in an experiment or benchmark: they use the seams."""
    for script in SCRIPTS:
        text = script.read_text()
        assert "trainer._" not in text and "trainer.train_step =" not in text, script.name


def test_every_script_is_found():
    assert len(SCRIPTS) >= 15 and {s.parent.name for s in SCRIPTS} == {"benchmarks", "experiments"}
