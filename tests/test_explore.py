"""The shipped weights (shipped.py, pretrained.py, scripts/make_pretrained.py) and the explore page
(report/explore_page.py, assets/explore.js), the page in headless Chromium: its G and D equal PyTorch's forward of
the same float16-rounded weights, after a slider move and a drawn stroke, and it requests nothing.

Run: python -m pytest tests/test_explore.py -n 0 -q  (the browser tests skip without Chromium: apt-get install chromium)
The tests build tiny weights files themselves; one test checks the shipped src/vanilla_gan/assets/pretrained.pt against
its pretrained.json, and skips when the package has none.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from html import escape
from pathlib import Path

import numpy as np
import pytest
import torch
from browser import Browser, Tab, chromium, load_page, needs_chromium
from helpers import WAIT, assert_one_line_error, run_main

import vanilla_gan as vg
from vanilla_gan.config import ModelConfig, to_dict
from vanilla_gan.gan.models import Discriminator, Generator, build_discriminator, build_generator
from vanilla_gan.gan.sampling import slerp
from vanilla_gan.report import explore_page
from vanilla_gan.report.explore_page import checkpoint_page, latent_directions, render, weights_page
from vanilla_gan.runs import shipped

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-4  # the page's G output against PyTorch's, per pixel in (-1, 1)


def tiny_state(shape: tuple[int, ...] = (28, 28), seed: int = 0, **widths) -> dict:
    """A checkpoint-like dict of a small G (its raw weights and a different 'average') and D, random weights."""
    config = ModelConfig(latent_dim=8, g_hidden=(16, 24), d_hidden=(24, 16), image_shape=shape, **widths)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        raw, average, d = build_generator(config), build_generator(config), build_discriminator(config)
        for network in (raw, average):  # BatchNorm's statistics (--g-net conv) as a trained run would have them
            for name, buffer in network.named_buffers():
                if "running" in name:
                    buffer.copy_(torch.rand_like(buffer) + 0.5 if "var" in name else torch.randn_like(buffer))
        d.train()(torch.randn(4, *shape))  # a step's power iteration: spectral norm's vectors (--spectral-norm)
    return {"model_config": to_dict(config), "generator": raw.state_dict(), "generator_ema": average.state_dict(),
            "discriminator": d.state_dict()}


def write_weights(folder: Path, state: dict, with_raw: bool = True, **provenance) -> Path:
    """A weights file and its provenance JSON, as scripts/make_pretrained.py writes them (the SHA-256 true)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = shipped.pack(state, with_raw)
    path = folder / "weights.pt"
    path.write_bytes(data)
    record = {"sha256": shipped.sha256(data), "command": "vanilla-gan train --seed 1", "epochs": 3, "seed": 1,
              "train": {"dataset": "digits"}, **provenance}
    shipped.provenance_path(path).write_text(json.dumps(record))
    return path


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    return write_weights(tmp_path_factory.mktemp("weights"), tiny_state())


# ----------------------------------------------------------------------------- the weights file


def test_weights_round_trip_as_float16(weights_file):
    state = tiny_state()
    weights = shipped.load_weights(weights_file)
    for key, loaded in (("generator", weights.generator_raw), ("generator_ema", weights.generator_ema),
                        ("discriminator", weights.discriminator_weights)):
        assert all(loaded[k].dtype == torch.float32 and torch.equal(loaded[k], state[key][k].half().float())
                   for k in state[key]), key
    assert weights.model_config.shape == (28, 28) and weights.provenance["epochs"] == 3
    z = torch.randn(4, 8)
    assert not torch.equal(weights.generator()(z), weights.generator(raw=True)(z))  # the average and raw G differ


def test_pretrained_is_a_run_that_samples(weights_file, monkeypatch):
    run = vg.pretrained(weights_file)
    assert isinstance(run, vg.Run) and "3 epochs" in repr(run)
    images = run.sample(8, seed=1)
    assert images.shape == (8, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images, run.sample(8, seed=1)) and not np.array_equal(images, run.sample(8, raw=True))
    assert run.grid().size[0] > 0 and run.interpolate(walks=2, frames=3).size[1] > 0
    assert run.config["model"]["latent_dim"] == 8 and run.provenance["seed"] == 1
    monkeypatch.setenv(shipped.ENVIRONMENT, str(weights_file))
    assert np.array_equal(vg.pretrained().sample(8, seed=1), images)  # $VANILLA_GAN_PRETRAINED points the loader
    with pytest.raises(vg.UsageError, match="no run folder"):
        run.report()


def test_damaged_or_missing_weights_are_one_line_errors(weights_file, tmp_path, monkeypatch):
    cases = {}
    cases["missing"] = tmp_path / "none.pt"
    flipped = write_weights(tmp_path / "flipped", tiny_state())
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 1
    flipped.write_bytes(bytes(data))
    cases["fail their SHA-256"] = flipped
    no_record = write_weights(tmp_path / "no-record", tiny_state())
    shipped.provenance_path(no_record).unlink()
    cases["provenance .* is missing"] = no_record
    foreign = tmp_path / "foreign" / "weights.pt"
    foreign.parent.mkdir()
    foreign.write_bytes(b"not a torch file")
    shipped.provenance_path(foreign).write_text(json.dumps({"sha256": shipped.sha256(b"not a torch file")}))
    cases["damaged or not a vanilla-gan weights file"] = foreign
    for says, path in cases.items():
        monkeypatch.setenv(shipped.ENVIRONMENT, str(path))
        line = assert_one_line_error(run_main("sample", "--pretrained", "-o", tmp_path / "x.png"))
        assert re.search(says, line), (says, line)
        assert "make_pretrained.py" in line  # says what to do


def test_shipped_weights_match_their_provenance():
    path = shipped.shipped_path()
    if not path.is_file():
        pytest.skip(f"the package ships no weights yet ({path} is absent: scripts/make_pretrained.py writes it)")
    record = json.loads(shipped.provenance_path(path).read_text())
    assert shipped.sha256(path.read_bytes()) == record["sha256"]
    for key in ("command", "seed", "epochs", "machine", "metrics", "date"):
        assert key in record, key
    weights = shipped.load_weights(path)
    assert weights.has_average and weights.model_config.shape == (28, 28)  # the digits' moving average
    assert vg.pretrained().sample(8).shape == (8, 28, 28)


def test_make_pretrained_writes_weights_from_a_run(tiny_run, tmp_path):
    evaluation = tmp_path / "evaluation.json"
    evaluation.write_text(json.dumps({"c2st_accuracy": 0.9}))
    result = subprocess.run([sys.executable, ROOT / "scripts" / "make_pretrained.py", tiny_run, "--out", tmp_path,
                             "--evaluation", evaluation], capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "pretrained.json").read_text())
    assert record["sha256"] == shipped.sha256((tmp_path / "pretrained.pt").read_bytes())
    command = record["command"]
    assert command.startswith("vanilla-gan train --seed 3 --epochs 2 ") and "--latent-dim 8" in command
    assert record["epochs"] == 2 and record["evaluation"] == {"c2st_accuracy": 0.9} and record["machine"]["cpu"]
    assert record["networks"] == ["generator_ema", "discriminator"]  # G's raw weights only with --with-raw
    run = vg.pretrained(tmp_path / "pretrained.pt")
    with pytest.raises(vg.UsageError, match="moving average only"):
        run.sample(4, raw=True)
    checkpoint = vg.load(tiny_run)
    ours, theirs = run.sample(16, seed=2), checkpoint.sample(16, seed=2)
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 2  # float16 weights: a grey level or two


def test_sample_and_explore_pretrained_from_the_command_line(weights_file, tmp_path, monkeypatch):
    monkeypatch.setenv(shipped.ENVIRONMENT, str(weights_file))
    for name in ("a.npy", "b.npy"):
        assert run_main("sample", "--pretrained", "-n", 10, "--seed", 7, "-o", tmp_path / name).returncode == 0
    first, second = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert first.shape == (10, 28, 28) and first.dtype == np.uint8 and np.array_equal(first, second)
    assert run_main("sample", "--pretrained", "-n", 64, "-o", tmp_path / "grid.png").returncode == 0
    result = run_main("explore", "--pretrained", "-o", tmp_path / "page.html")
    assert result.returncode == 0 and "the shipped weights" in result.stdout
    assert "vanilla-gan train --seed 1" in (tmp_path / "page.html").read_text()  # its provenance, on the page
    result = run_main("evaluate", "--pretrained", "-n", 1000, "--no-two-sample", "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["epoch"] == 3 and scores["dataset"] == "digits" and scores["fid"] > 0


def test_explore_errors_are_one_line(tiny_run, tmp_path):
    (tmp_path / "empty").mkdir()
    assert "run folder" in assert_one_line_error(run_main("explore", tmp_path / "empty", "-o", tmp_path / "p.html"))
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"PK\x03\x04 not really")
    assert "damaged" in assert_one_line_error(run_main("explore", damaged, "-o", tmp_path / "p.html"))
    assert ".html" in assert_one_line_error(run_main("explore", tiny_run, "-o", tmp_path / "p.png"))
    assert "one of them" in assert_one_line_error(run_main("explore", "-o", tmp_path / "p.html"))
    assert "one of them" in assert_one_line_error(run_main("explore", tiny_run, "--pretrained"))
    assert not (tmp_path / "p.html").exists()


def test_report_writes_explore_html_and_links_it(tiny_run):
    page = (tiny_run / "report.html").read_text()
    assert 'href="explore.html"' in page and (tiny_run / "explore.html").is_file()


def test_page_is_self_contained(tmp_path):
    html = render(shipped.from_checkpoint(tiny_state(), "x"), "<b>x</b>", ["`a` <i>b</i>"], with_raw=True)
    assert "default-src 'none'" in html and "http://" not in html and "https://" not in html
    assert "<b>x</b>" not in html and "<i>b</i>" not in html  # titles and notes are escaped
    assert 'id="vg-raw"' in html and 'id="vg-raw"' not in render(shipped.from_checkpoint(tiny_state(), "x"), "x", [])
    average_only = shipped.load_weights(write_weights(tmp_path, tiny_state(), with_raw=False))
    assert "moving average only" in render(average_only, "x", [], with_raw=True)


def test_the_sliders_directions_are_orthonormal_and_move_g_most():
    generator = shipped.from_checkpoint(tiny_state(), "x").generator()
    directions, _ = latent_directions(generator)
    assert directions.shape == (6, 8)
    torch.testing.assert_close(directions @ directions.T, torch.eye(6), atol=1e-5, rtol=0)
    z = torch.randn(256, 8, generator=torch.Generator().manual_seed(1))

    def change(direction: torch.Tensor) -> float:
        with torch.no_grad():
            return float((generator(z + direction) - generator(z)).norm(dim=(1, 2)).mean())

    others = torch.nn.functional.normalize(torch.randn(32, 8, generator=torch.Generator().manual_seed(2)), dim=1)
    assert change(directions[0]) > max(change(d) for d in others) * 0.95  # at least as much as random ones
    assert change(directions[0]) > change(directions[-1])


def test_a_page_too_large_is_one_line(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(explore_page, "MAX_WEIGHT_BYTES", 1000)
    line = assert_one_line_error(run_main("explore", tiny_run, "-o", tmp_path / "p.html"))
    assert "too many for one page" in line and not (tmp_path / "p.html").exists()


# ----------------------------------------------------------------------------- in a real browser



@pytest.fixture(scope="module")
def browser():
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    opened = Browser(chromium)
    yield opened
    opened.close()


def open_page(browser: Browser, path: Path) -> Tab:
    tab = Tab(browser, path.resolve().as_uri())
    assert tab.evaluate("document.body.dataset.ready") == "1", tab.evaluate("document.getElementById('vg-error')"
                                                                            ".textContent")
    return tab


def point(tab: Tab, selector: str, fx: float, fy: float = 0.5) -> tuple[float, float]:
    """A point of an element (scrolled into view) at fractions of its width and height, in viewport pixels."""
    return tuple(tab.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                              f"e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); "
                              f"return [r.left + {fx} * r.width, r.top + {fy} * r.height]; }})()"))


def click(tab: Tab, selector: str, fx: float = 0.5, fy: float = 0.5) -> None:
    x, y = point(tab, selector, fx, fy)
    tab.mouse("mousePressed", x, y)
    tab.mouse("mouseReleased", x, y)


def pytorch(weights: shipped.Weights, z: list[float], raw: bool = False) -> np.ndarray:
    with torch.no_grad():
        return weights.generator(raw)(torch.tensor([z])).reshape(-1).numpy()  # (H * W * C,) in (-1, 1)


def verdict(weights: shipped.Weights, x: list[float]) -> float:
    with torch.no_grad():
        return float(weights.discriminator()(torch.tensor([x])))


def assert_no_requests(tab: Tab, url: str) -> None:
    tab.evaluate("0")  # read the events that arrived meanwhile
    assert tab.requests() == [url] and tab.errors() == [], (tab.requests(), tab.errors())


def test_the_page_computes_what_pytorch_computes(browser, tmp_path):
    state = tiny_state(seed=1)
    weights = shipped.from_checkpoint(state, "tiny")
    page = tmp_path / "tiny.html"
    page.write_text(render(weights, "tiny", [], with_raw=True))
    with open_page(browser, page) as tab:
        seen = tab.evaluate("vg.state()")
        z = seen["current"]
        np.testing.assert_allclose(seen["shownCurrent"], pytorch(weights, z), atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(seen["shownRaw"], pytorch(weights, z, raw=True), atol=TOLERANCE, rtol=0)
        assert abs(seen["currentVerdict"] - verdict(weights, seen["shownCurrent"])) < 1e-5
        for grid_z in seen["grid"][:4]:  # the grid's images, through the page's own function
            np.testing.assert_allclose(tab.evaluate(f"vg.generate('average', {grid_z})"), pytorch(weights, grid_z),
                                       atol=TOLERANCE, rtol=0)
        # The comparison can fail: one weight of G's last layer off by 0.01 is seen.
        moved = shipped.from_checkpoint(state, "tiny")
        moved.generator_ema["net.4.bias"][0] += 0.01
        assert np.abs(np.array(seen["shownCurrent"]) - pytorch(moved, z)).max() > 10 * TOLERANCE

        # A slider moved with the mouse: z moves along its direction only, and G's image follows.
        direction = np.array(tab.evaluate("vg.model.directions[0]"))
        click(tab, "#vg-slider-0", 0.9)
        after = tab.evaluate("vg.state()")
        step = np.array(after["current"]) - np.array(z)
        assert np.abs(step).max() > 0.1
        np.testing.assert_allclose(step, (step @ direction) * direction, atol=1e-5)
        np.testing.assert_allclose(after["shownCurrent"], pytorch(weights, after["current"]), atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(after["shownRaw"], pytorch(weights, after["current"], raw=True), atol=TOLERANCE,
                                   rtol=0)

        # A walk: B is the moved image, t set with the mouse; z(t) is sampling.slerp's.
        click(tab, "#vg-set-b")
        click(tab, "#vg-t", 0.25)
        walk = tab.evaluate("vg.state()")
        assert 0.05 < walk["t"] < 0.5
        expected = slerp(torch.tensor([walk["a"]]), torch.tensor([walk["b"]]), torch.tensor([walk["t"]]))[0, 0]
        np.testing.assert_allclose(walk["walkZ"], expected.numpy(), atol=1e-5)
        np.testing.assert_allclose(walk["shownWalk"], pytorch(weights, walk["walkZ"]), atol=TOLERANCE, rtol=0)

        # A stroke drawn with the mouse: ink where it went, and D's verdict on exactly that image.
        before = tab.evaluate("vg.state().verdict")
        x0, y0 = point(tab, "#vg-pad", 0.5, 0.2)
        x1, y1 = point(tab, "#vg-pad", 0.5, 0.8)
        tab.mouse("mousePressed", x0, y0)
        for f in np.linspace(0, 1, 8)[1:]:
            tab.mouse("mouseMoved", x0 + f * (x1 - x0), y0 + f * (y1 - y0))
        tab.mouse("mouseReleased", x1, y1)
        drawn = tab.evaluate("vg.state()")
        image = np.array(drawn["drawnInput"]).reshape(28, 28)
        assert image[6:22, 14].min() == 1.0 and image[:, :8].max() == -1.0  # a vertical line down the middle
        assert drawn["verdict"] != before
        assert abs(drawn["verdict"] - verdict(weights, drawn["drawnInput"])) < 1e-5
        shown = tab.evaluate("document.getElementById('vg-pad-verdict').textContent")
        assert shown.startswith("D: P(real) = ") and f"{100 * drawn['verdict']:.1f}" in shown
        assert_no_requests(tab, page.resolve().as_uri())


@pytest.mark.parametrize("shape", [(28, 28), (8, 12, 3)])
def test_the_page_computes_the_conv_networks(browser, tmp_path, shape):
    """--g-net conv and --d-net conv (BatchNorm in G, spectral norm and the minibatch std in D): the page's
    layers equal PyTorch's, grey and colour, and a wrong weight is seen."""
    state = tiny_state(shape, seed=4, g_net="conv", d_net="conv", conv_width=3, spectral_norm=True,
                       minibatch_std=True)
    weights = shipped.from_checkpoint(state, "conv")
    page = tmp_path / "conv.html"
    page.write_text(render(weights, "conv", [], with_raw=True))
    ops = [op["op"] for op in json.loads(re.search(r'id="vg-model"[^>]*>(.*?)</script>', page.read_text(),
                                                   re.S).group(1))["networks"]["discriminator"]["ops"]]
    assert ops == ["to_chw", "conv", "leaky_relu", "conv", "leaky_relu", "minibatch_std", "linear"]
    with open_page(browser, page) as tab:
        seen = tab.evaluate("vg.state()")
        for raw in (False, True):
            shown = seen["shownRaw" if raw else "shownCurrent"]
            np.testing.assert_allclose(shown, pytorch(weights, seen["current"], raw), atol=TOLERANCE, rtol=0)
        assert abs(seen["currentVerdict"] - verdict(weights, seen["shownCurrent"])) < 1e-5
        moved = shipped.from_checkpoint(state, "conv")
        moved.generator_ema["net.3.bias"][0] += 0.05  # the last transposed convolution
        assert np.abs(np.array(seen["shownCurrent"]) - pytorch(moved, seen["current"])).max() > 10 * TOLERANCE
        assert_no_requests(tab, page.resolve().as_uri())


def test_the_page_computes_the_pair_d_and_gs_shape_convolutions(browser, tmp_path):
    """--d-net mlp+conv (the two halves' logits summed), --g-convs 2 and --g-refine 2: the page's G and D equal
    PyTorch's, and each half of D counts."""
    state = tiny_state((8, 12, 3), seed=5, g_net="conv", d_net="mlp+conv", conv_width=3, g_convs=2, g_refine=2)
    weights = shipped.from_checkpoint(state, "pair")
    page = tmp_path / "pair.html"
    page.write_text(render(weights, "pair", []))
    networks = json.loads(re.search(r'id="vg-model"[^>]*>(.*?)</script>', page.read_text(), re.S).group(1))["networks"]
    [pair] = networks["discriminator"]["ops"]
    assert pair["op"] == "sum" and [[op["op"] for op in part][:2] for part in pair["parts"]] == [
        ["linear", "leaky_relu"], ["to_chw", "conv"]]
    assert [op["k"] for op in networks["average"]["ops"] if op["op"] == "conv"] == [3, 3, 3]
    with open_page(browser, page) as tab:
        seen = tab.evaluate("vg.state()")
        np.testing.assert_allclose(seen["shownCurrent"], pytorch(weights, seen["current"]), atol=TOLERANCE, rtol=0)
        assert abs(seen["currentVerdict"] - verdict(weights, seen["shownCurrent"])) < 1e-5
        for half in ("mlp", "conv"):  # a D without this half gives another verdict
            with torch.no_grad():
                alone = getattr(weights.discriminator(), half).logits(torch.tensor([seen["shownCurrent"]]))
            assert abs(seen["currentVerdict"] - float(torch.sigmoid(alone))) > 1e-3, half
        assert_no_requests(tab, page.resolve().as_uri())


def test_the_page_draws_colour_images_of_any_shape(browser, tmp_path):
    weights = shipped.from_checkpoint(tiny_state(shape=(6, 5, 3), seed=2), "colour")
    page = tmp_path / "colour.html"
    page.write_text(render(weights, "colour", []))
    assert "the canvas draws grey" in page.read_text()
    with open_page(browser, page) as tab:
        seen = tab.evaluate("vg.state()")
        np.testing.assert_allclose(seen["shownCurrent"], pytorch(weights, seen["current"]), atol=TOLERANCE, rtol=0)
        assert seen["shownRaw"] is None  # raw G left out unless asked
        click(tab, "#vg-pad", 0.5, 0.5)
        drawn = np.array(tab.evaluate("vg.state().drawnInput")).reshape(6, 5, 3)
        assert drawn.max() > 0 and (drawn == drawn[..., :1]).all()  # grey ink: the same in R, G and B
        assert abs(tab.evaluate("vg.state().verdict") - verdict(weights, drawn.ravel().tolist())) < 1e-5
        assert_no_requests(tab, page.resolve().as_uri())


def test_the_page_of_the_default_model(browser, tmp_path):
    """The digits' default sizes (100 -> 256, 512, 1024 -> 784; D 784 -> 1024, 512, 256 -> 1), random weights."""
    config = ModelConfig(image_shape=(28, 28))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        state = {"model_config": to_dict(config), "generator": Generator(config).state_dict(),
                 "generator_ema": Generator(config).state_dict(), "discriminator": Discriminator(config).state_dict()}
    path = write_weights(tmp_path / "default", state)
    weights = shipped.load_weights(path)
    page = tmp_path / "default.html"
    html = weights_page(weights, with_raw=True)
    page.write_text(html)
    assert 11e6 < len(html.encode()) < 12.5e6  # three networks of 1.5 M float16 weights, base64
    with open_page(browser, page) as tab:
        seen = tab.evaluate("vg.state()")
        np.testing.assert_allclose(seen["shownCurrent"], pytorch(weights, seen["current"]), atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(seen["shownRaw"], pytorch(weights, seen["current"], raw=True), atol=TOLERANCE,
                                   rtol=0)
        click(tab, "#vg-copy")  # G's image into the canvas: D's verdict on it
        drawn = tab.evaluate("vg.state()")
        assert abs(drawn["verdict"] - verdict(weights, drawn["drawnInput"])) < 1e-5
        assert_no_requests(tab, page.resolve().as_uri())


@needs_chromium
def test_the_request_check_can_fail(browser, tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>')
    with Tab(browser, page.resolve().as_uri()) as tab:
        tab.evaluate("0")
        assert "http://127.0.0.1:9/x.png" in tab.requests() and "console: boom" in tab.errors()


def test_checkpoint_page_describes_the_run(tiny_run):
    html = checkpoint_page(vg.load(tiny_run).checkpoint(), "tiny")
    assert "epoch 2 of a run of 2 epochs on digits, seed 3" in html


@needs_chromium
def test_the_page_fits_a_phone(tmp_path):
    page = tmp_path / "phone.html"
    page.write_text(render(shipped.from_checkpoint(tiny_state(), "phone"), "a-rather-long-run-name-" * 3, []))
    result = load_page(chromium, page.resolve().as_uri(), width=390, mobile=True, settle=0.2)
    assert result.errors == [] and result.scroll_width <= result.viewport_width


# ----------------------------------------------------------------------------- spot the fake

def binomial_two_sided(right: int, n: int) -> float:
    far = max(right, n - right)
    return 1.0 if 2 * right == n else min(1.0, 2 * sum(math.comb(n, i) for i in range(far, n + 1)) / 2**n)


def test_spot_the_fake_plays_a_round_with_clicks_and_scores_it(browser, tmp_path):
    """A round of 20 played with the mouse: the page shows exactly 10 real images (the embedded ones) and 10 of
    G's, and its score, Wilson interval and binomial test are the arithmetic done here; the fakes called real
    are the ones it lists."""
    state = tiny_state(seed=2)
    weights = shipped.from_checkpoint(state, "spot")
    real = (np.arange(30 * 784) % 251).astype(np.uint8).reshape(30, 28, 28)
    page = tmp_path / "spot.html"
    page.write_text(render(weights, "spot", [], real=(real, "30 test images"), c2st=0.91))
    with open_page(browser, page) as tab:
        assert tab.evaluate("document.getElementById('spot-the-fake').textContent").count("30 test images") == 1
        tab.evaluate("vg.spot.start(20, 5)")
        truth = tab.evaluate("vg.spot.state().truth")
        assert len(truth) == 20 and sum(truth) == 10
        answers = []
        for i, is_real in enumerate(truth):
            shown = np.array(tab.evaluate("Array.from(document.getElementById('vg-spot-image').getContext('2d')"
                                          ".getImageData(0, 0, 28, 28).data)")).reshape(28, 28, 4)[..., 0]
            if is_real:  # the real image shown is one of the embedded ones, pixel for pixel
                assert any(np.array_equal(shown, image) for image in real)
            said_real = is_real if i % 3 else not is_real  # right on 13 of 20 (wrong on i = 0, 3, ..., 18)
            answers.append(said_real)
            click(tab, "#vg-spot-real" if said_real else "#vg-spot-fake")
        result = tab.evaluate("vg.spot.result()")
        right = sum(a == t for a, t in zip(answers, truth, strict=True))
        assert right == 13 and result["right"] == 13 and result["accuracy"] == pytest.approx(0.65)
        z, p, n = 1.959964, 0.65, 20
        centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (
            1 + z * z / n)
        assert (result["low"], result["high"]) == pytest.approx((centre - half, centre + half), abs=1e-9)
        assert result["pValue"] == pytest.approx(binomial_two_sided(13, 20)) and not result["distinguishable"]
        fooled = [i for i, (a, t) in enumerate(zip(answers, truth, strict=True)) if a and not t]
        assert result["fooledBy"] == fooled
        text = tab.evaluate("document.getElementById('vg-spot-result').innerText")
        assert "right on 13 of 20: 65.0%" in text and "Not distinguishable from guessing" in text and "91.0%" in text
        assert tab.evaluate("document.getElementById('vg-spot-fooled').children.length") == len(fooled)
        tab.evaluate("vg.spot.start(40, 6)")  # a person who tells every one: distinguishable
        for is_real in tab.evaluate("vg.spot.state().truth"):
            tab.evaluate(f"vg.spot.answer({str(is_real).lower()})")
        perfect = tab.evaluate("vg.spot.result()")
        assert perfect["right"] == 40 and perfect["distinguishable"] and perfect["pValue"] == pytest.approx(2 / 2**40)
        assert_no_requests(tab, page.resolve().as_uri())


def test_the_shipped_weights_page_embeds_real_digits_for_spot_the_fake():
    images, note = explore_page.real_examples("digits", (28, 28))
    assert images.shape == (200, 28, 28) and images.dtype == np.uint8 and "none of the 64" in note
    shown = vg.load_dataset("digits")[0].numpy()[np.sort(explore_page.fixed_order(10_000)[:64])]
    assert not any(np.array_equal(a, b) for a in images for b in shown)
    assert explore_page.real_examples("in-memory (3, 28, 28)", (28, 28))[0] is None
    missing, why = explore_page.real_examples("/nonexistent/folder", (28, 28))
    assert missing is None and "could not be read" in why


def test_a_run_on_its_own_pictures_gets_real_ones_from_its_dataset_and_limit(tmp_path):
    """The real side of spot-the-fake is read as training read it: any kind of --dataset, its --limit."""
    pictures = np.random.default_rng(0).integers(0, 256, (100, 8, 12, 3), dtype=np.uint8)
    np.save(tmp_path / "mine.npy", pictures)
    images, note = explore_page.real_examples(str(tmp_path / "mine.npy"), (8, 12, 3))
    assert images.shape == (36, 8, 12, 3) and "36 of the 100 training images" in note  # past the first 64
    assert all(any(np.array_equal(a, b) for b in pictures) for a in images)
    limited, note = explore_page.real_examples(str(tmp_path / "mine.npy"), (8, 12, 3), limit=80)
    assert len(limited) == 16 and "of the 80 training images" in note
    assert explore_page.real_examples(str(tmp_path / "mine.npy"), (28, 28))[0] is None  # another shape: no round
    given, _ = explore_page.real_examples("in-memory (100, 8, 12, 3)", (8, 12, 3), images=pictures)  # the report's
    assert given.shape == (36, 8, 12, 3)  # data given in Python, already loaded: a round all the same


def test_the_shipped_weights_page_shows_each_command_of_their_provenance_as_code():
    """One command, or a resumed run's two ("A, then B"): each its own code span."""
    weights = shipped.load_weights()
    resumed = "vanilla-gan train --seed 11 --epochs 2 --out RUN, then vanilla-gan train --resume --out RUN --epochs 3"
    for command in (weights.provenance["command"], resumed):
        html = weights_page(dataclasses.replace(weights, provenance={**weights.provenance, "command": command}))
        commands = command.split(", then ")
        assert all(f"<code>{escape(c)}</code>" in html for c in commands)
        assert len(commands) == 1 or f"<code>{escape(command)}</code>" not in html
