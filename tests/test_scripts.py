"""Every benchmark (benchmarks/) and experiment (experiments/) script still imports and parses its options against
the package as it is: `--help`, as its reader would first run it, for all of them in one fresh process (each run
as `__main__` from its own folder). The seams the experiments use instead of private members
(`Trainer(batch_transform=, step_hooks=)`) are tested in tests/test_trainer.py.

Run: python -m pytest tests/test_scripts.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import WAIT

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("experiments/*.py")])
LIBRARIES = {"d_arms.py"}  # imported by the others, nothing to run

# Runs each script with --help in this one process; prints {name: "ok" or the failure} as JSON.
PROBE = """
import contextlib, io, json, os, runpy, sys
results = {}
for path in json.loads(sys.argv[1]):
    folder = os.path.dirname(path)
    sys.argv, sys.path[0] = [path, "--help"], folder
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
        results[path] = "no --help: it ran"
    except SystemExit as exit_:
        results[path] = "ok" if exit_.code in (0, None) and "usage:" in out.getvalue() else f"exit {exit_.code}"
    except Exception as exc:
        results[path] = f"{type(exc).__name__}: {exc}"
print(json.dumps(results))
"""


def test_every_script_imports_and_shows_its_help():
    scripts = [str(s) for s in SCRIPTS if s.name not in LIBRARIES]
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(scripts)], capture_output=True, text=True,
                          timeout=WAIT)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert {Path(path).name: result for path, result in results.items() if result != "ok"} == {}
    assert len(results) == len(scripts)


def test_the_experiments_reach_no_private_member_of_the_trainer():
    """No `trainer._name` (nor a replaced `trainer.train_step`) in an experiment or benchmark: they use the seams."""
    for script in SCRIPTS:
        text = script.read_text()
        assert "trainer._" not in text and "trainer.train_step =" not in text, script.name


def test_every_script_is_found():
    assert len(SCRIPTS) >= 15 and {s.parent.name for s in SCRIPTS} == {"benchmarks", "experiments"}


def test_the_probe_can_fail(tmp_path):
    broken, silent = tmp_path / "broken.py", tmp_path / "silent.py"
    broken.write_text("import vanilla_gan.no_such_module\n")
    silent.write_text("print('ran without arguments')\n")
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps([str(broken), str(silent)])], capture_output=True,
                          text=True, timeout=WAIT)
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results[str(broken)].startswith("ModuleNotFoundError") and results[str(silent)] == "no --help: it ran"
