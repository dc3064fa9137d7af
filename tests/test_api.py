"""The Python API (api.py, `import vanilla_gan as vg`): the same run folder and checks as the CLI, quiet unless
asked, errors as the package's exception types, users' own networks, the README's example, and the tour
notebook run top to bottom. Run: python -m pytest tests/test_api.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, TINY_OPTIONS, assert_same_run, run_cli, run_main
from PIL import Image
from torch import nn

import vanilla_gan as vg

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def api_run(tmp_path_factory) -> tuple[vg.Run, str, list[str]]:
    """A 2-epoch tiny run trained from Python, what it printed to stdout, and the files it wrote (listed now: later
    tests evaluate and train into the folder, which adds evaluation.json and the lock file, in xdist's order)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("api") / "nb"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run = vg.train(out=out, seed=3, epochs=2, **TINY_OPTIONS)
    return run, printed.getvalue(), sorted(p.name for p in run.path.iterdir())


def test_train_is_quiet_and_writes_the_clis_run_folder(api_run, tiny_run):
    run, printed, written = api_run
    assert printed == ""  # the progress bar goes to stderr; nothing else unless verbose=True
    assert written == (tiny_run.parent / "tiny.files").read_text().split("\n")  # both as train left them
    ours = torch.load(run.path / "checkpoints" / "last.pt", weights_only=True)["generator"]
    clis = torch.load(tiny_run / "checkpoints" / "last.pt", weights_only=True)["generator"]
    assert all(torch.equal(ours[k], clis[k]) for k in ours), "the same options and seed train the same weights"
    assert run.report_written is not None and run.report_written.path.is_file()
    assert [m["epoch"] for m in run.metrics] == [1, 2] and run.config["train"]["seed"] == 3


def test_samples_grids_and_walks(api_run):
    run, _, _ = api_run
    images = run.sample(16, seed=0)
    assert images.shape == (16, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, run.sample(16, seed=0))
    picture = run.grid(images)
    assert isinstance(picture, Image.Image) and picture.size == ((4 * 30 + 2) * 2,) * 2
    assert run.interpolate(walks=3, frames=5).size == ((5 * 30 + 2) * 2, (3 * 30 + 2) * 2)
    assert set(run.plots()) == {"losses", "discriminator", "speed"}


def test_evaluate_gives_the_keys_and_numbers_of_evaluate_json(api_run):
    run, _, _ = api_run
    ours = vg.load(run.path).evaluate(n=1000)
    result = run_main("evaluate", run.path, "-n", 1000, "--json")
    assert result.returncode == 0, result.stderr
    assert ours == json.loads(result.stdout)


def test_errors_are_the_packages_types_never_system_exit(api_run, tmp_path):
    run, _, _ = api_run
    with pytest.raises(vg.UsageError, match="already holds a run: pass resume=True"):  # Python's spelling
        vg.train(out=run.path, epochs=1, **TINY_OPTIONS)
    with pytest.raises(TypeError, match="'epoch'"):  # an explicit signature: Python's own error for a misspelling
        vg.train(out=tmp_path / "x", epoch=1)
    with pytest.raises(vg.UsageError, match="^epochs must be at least 1"):
        vg.train(out=tmp_path / "x", epochs=0)
    with pytest.raises(vg.CheckpointError, match="no such checkpoint"):
        vg.train(out=tmp_path / "missing", resume=True)
    with pytest.raises(vg.UsageError, match="no such run folder"):
        vg.load(tmp_path / "missing")
    assert issubclass(vg.Interrupted, vg.VanillaGanError) and vg.Interrupted.exit_code == 130
    assert not (tmp_path / "x").exists()


def test_resume_from_python_continues_exactly(tmp_path):
    options = {**TINY_OPTIONS, "seed": 6, "report": False}
    straight = vg.train(out=tmp_path / "straight", epochs=3, **options)
    vg.train(out=tmp_path / "split", epochs=1, **options)
    resumed = vg.train(out=tmp_path / "split", resume=True, epochs=3, report=False)
    assert_same_run(resumed.path, straight.path)  # G, EMA, D, Adam, RNGs, position, metrics


class SmallGenerator(nn.Module):
    def __init__(self, latent_dim=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, 784), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 28, 28)


def test_own_generator_and_epoch_hooks(tmp_path, capsys):
    seen = []
    run = vg.train(out=tmp_path / "own", seed=1, epochs=2, generator=SmallGenerator(), verbose=True,
                   epoch_hooks=[lambda trainer, record: seen.append((trainer.epoch, record["epoch"]))], **TINY_OPTIONS)
    assert seen == [(1, 1), (2, 2)]
    printed = capsys.readouterr().out
    assert "epoch 2/2  loss_D" in printed and "training health:" in printed  # verbose=True prints
    assert run.sample(4).shape == (4, 28, 28)
    with pytest.raises(vg.UsageError, match="trained its own generator"):
        vg.load(run.path).sample(4)
    assert vg.load(run.path, generator=SmallGenerator()).sample(4).shape == (4, 28, 28)
    assert "its own generator" in run_cli("sample", run.path, "-o", tmp_path / "s.png").stderr


def python_blocks(markdown: str, heading: str) -> list[str]:
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


# The README's example (40 epochs, 4 minutes on 2 cores) and the tour notebook (8 epochs of batch 8) train for
# minutes; their tests run them as written but for these, which keep every call and file of the example and leave
# the quality they state to the measurements the README and the notebook quote.
SHORTER = ("epochs=8", "epochs=1, limit=2000")
README_SHORTER = ("epochs=40", "epochs=1, limit=2000, eval_samples=1000")  # its two-sample test on 1,000: CI's time
SHORTER_SHAPES = ("epochs=20", "epochs=1")  # the notebook's own-images cell


def test_the_readmes_python_example_runs_as_is(tmp_path, monkeypatch):
    """The first Python block of the README's Python API section, pasted as is but for README_SHORTER."""
    example = python_blocks((ROOT / "README.md").read_text(), "## Python API")[0]
    assert README_SHORTER[0] in example
    example = example.replace(*README_SHORTER)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    assert (tmp_path / "runs" / "nb" / "report.html").is_file()
    assert namespace["images"].shape == (64, 28, 28)


def test_the_tour_notebook_runs_top_to_bottom(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="needs the dev extra (nbclient, ipykernel)")
    nbclient = pytest.importorskip("nbclient", reason="needs the dev extra (nbclient, ipykernel)")
    notebook = nbformat.read(ROOT / "examples" / "tour.ipynb", as_version=4)
    shortened = [cell for cell in notebook.cells if cell.cell_type == "code" and SHORTER[0] in cell.source]
    assert len(shortened) == 1
    shortened[0].source = shortened[0].source.replace(*SHORTER)
    shapes = [cell for cell in notebook.cells if cell.cell_type == "code" and SHORTER_SHAPES[0] in cell.source]
    assert len(shapes) == 1
    shapes[0].source = shapes[0].source.replace(*SHORTER_SHAPES)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={
        "metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert any("(5, 16, 16, 3)" in o.get("text", "") for o in outputs if o.output_type == "stream")  # own images
    assert len(pictures) >= 7  # samples, real digits, two curves, the walk, the shapes, the small generator's samples
    assert (tmp_path / "runs" / "tour" / "checkpoints" / "last.pt").is_file()


def test_tiny_cli_options_match_the_python_ones():
    """helpers.TINY and TINY_OPTIONS are the same run (the test above compares their weights)."""
    flags = dict(zip(TINY[::2], TINY[1::2], strict=True))
    assert {k: str(v) if not isinstance(v, tuple) else ",".join(map(str, v)) for k, v in TINY_OPTIONS.items()} == {
        k[2:].replace("-", "_"): v for k, v in flags.items()}
