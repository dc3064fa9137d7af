"""`vanilla-gan export`: ONNX (checked with onnxruntime) and TorchScript give PyTorch's images for the same z.
Run with `python -m pytest tests/test_export.py`; the ONNX test skips without `pip install 'vanilla-gan[onnx]'`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, run_main

from vanilla_gan.runs.checkpoint import load_generator
from vanilla_gan.runs.rundir import load_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")


def reference_images(run, z: np.ndarray) -> np.ndarray:
    """What PyTorch's sampling generator (EMA weights) draws for z, shaped (B, 28, 28) in [-1, 1]."""
    generator = load_generator(load_checkpoint(run))
    with torch.no_grad():
        return generator(torch.from_numpy(z)).reshape(-1, 28, 28).numpy()


def test_onnx_gives_pytorchs_images(tiny_run, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="needs pip install 'vanilla-gan[onnx]'")
    result = run_main("export", tiny_run, "--format", "onnx", "-o", tmp_path / "g.onnx")
    assert result.returncode == 0, result.stderr
    session = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z"] and session.get_inputs()[0].shape[1] == 8
    for batch in (1, 5, 64):  # the batch size is free
        z = np.random.default_rng(batch).standard_normal((batch, 8)).astype(np.float32)
        images = session.run(["images"], {"z": z})[0]
        assert images.shape == (batch, 28, 28)
        np.testing.assert_allclose(images, reference_images(tiny_run, z), atol=1e-5)


def test_torchscript_gives_pytorchs_images(tiny_run, tmp_path):
    result = run_main("export", tiny_run, "-o", tmp_path / "g.pt")  # the format follows the suffix
    assert result.returncode == 0, result.stderr and "torchscript" in result.stdout
    model = torch.jit.load(str(tmp_path / "g.pt"))
    z = torch.randn(7, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        images = model(z).numpy()
    np.testing.assert_allclose(images, reference_images(tiny_run, z.numpy()), atol=1e-6)


def test_raw_exports_the_trained_weights(tiny_run, tmp_path):
    assert run_main("export", tiny_run, "--raw", "-o", tmp_path / "raw.pt").returncode == 0
    state = load_checkpoint(tiny_run)
    raw = load_generator(state, raw=True)
    z = torch.randn(3, 8)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(tmp_path / "raw.pt"))(z), raw(z).reshape(-1, 28, 28))


def test_export_errors_are_one_line(tiny_run, tmp_path):
    assert "invalid choice" in assert_one_line_error(run_main("export", tiny_run, "--format", "tflite"))
    assert "no such checkpoint" in assert_one_line_error(run_main("export", tmp_path / "nothing"))
    last = tiny_run / "checkpoints" / "last.pt"
    before = last.read_bytes()
    line = assert_one_line_error(run_main("export", tiny_run, "--format", "onnx", "-o", last))
    assert "checkpoints folder" in line and last.read_bytes() == before


def test_onnx_without_the_onnx_package_is_one_line_error(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)  # `import onnx` now raises ImportError
    line = assert_one_line_error(run_main("export", tiny_run, "-o", tmp_path / "g.onnx"))
    assert "pip install 'vanilla-gan[onnx]'" in line and not (tmp_path / "g.onnx").exists()
