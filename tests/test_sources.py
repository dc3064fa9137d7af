"""The one loader (data/sources.py, data/arrays.py): every form of data a user keeps, and every bad input as one
error line, through the loader itself, the command line and the Python API.

Run: python -m pytest tests/test_sources.py
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import TINY_OPTIONS, assert_one_line_error, run_cli, run_main
from PIL import Image

import vanilla_gan as vg
from vanilla_gan.api.train import python_spelling
from vanilla_gan.data import load_dataset
from vanilla_gan.data.sources import load_images
from vanilla_gan.errors import DataError, UsageError

# A tiny model for pictures of any size (no --limit: the data sets here are small).
SMALL = ["--eval-every", "0", "--latent-dim", "8", "--g-hidden", "32", "--d-hidden", "32", "--batch-size", "16",
         "--epochs", "1", "--no-report"]
SMALL_OPTIONS = {"eval_every": 0, "latent_dim": 8, "g_hidden": (32,), "d_hidden": (32,), "batch_size": 16, "epochs": 1,
                 "report": False}


def pictures(folder, count=40, size=(32, 32), mode="RGB", classes=("a", "b")):
    """`count` random pictures of `size` (width, height) in `mode`, in one subfolder per class."""
    rng = np.random.default_rng(0)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    for i in range(count):
        sub = folder / classes[i % len(classes)]
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(sub / f"{i:03d}.png")
    return folder


# ---------------------------------------------------------------------------------------------------------
# The forms of data


def test_the_names_give_exactly_what_load_dataset_gives():
    data = load_images("digits")
    images, labels = load_dataset("digits")
    assert torch.equal(data.images, images) and torch.equal(data.labels, labels)
    assert data.description == "digits" and data.shape == (28, 28) and data.notes == []


def test_a_folder_of_colour_pictures_with_classes(tmp_path):
    folder = pictures(tmp_path / "pics", count=10)
    data = load_images(folder)
    assert data.images.dtype == torch.uint8 and data.images.shape == (10, 32, 32, 3)
    assert data.labels.tolist() == [0] * 5 + [1] * 5  # sorted by path: a/000, a/002, ..., b/001, ...
    first = np.asarray(Image.open(folder / "a" / "000.png"))
    assert np.array_equal(data.images[0].numpy(), first)
    assert data.description == str(folder.absolute()) and data.kind == "pictures"


def test_a_flat_folder_of_grey_jpegs_and_bmps_has_no_labels(tmp_path):
    rng = np.random.default_rng(1)
    for i, suffix in enumerate([".jpg", ".bmp", ".jpeg"]):
        Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).save(tmp_path / f"{i}{suffix}")
    data = load_images(tmp_path)
    assert data.images.shape == (3, 20, 24) and data.labels is None


def test_mixed_grey_and_colour_pictures_become_colour_and_a_note_says_so(tmp_path):
    pictures(tmp_path, count=4, mode="RGB", classes=("c",))
    pictures(tmp_path, count=3, mode="L", classes=("g",))
    data = load_images(tmp_path)
    assert data.images.shape == (7, 32, 32, 3)
    assert any("3 grey pictures" in note for note in data.notes)


def test_image_size_resizes_pictures_of_different_sizes(tmp_path):
    pictures(tmp_path, count=2, size=(40, 30), classes=("x",))
    pictures(tmp_path, count=2, size=(16, 16), classes=("y",))
    data = load_images(tmp_path, image_size=24)
    assert data.images.shape == (4, 24, 24, 3)


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_arrays_and_tensors_of_uint8_or_unit_floats(dtype):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (6, 20, 20), dtype=np.uint8)
    array = pixels if dtype == "uint8" else (pixels / 255).astype(dtype)
    for source in (array, torch.from_numpy(array)):
        data = load_images(source)
        assert torch.equal(data.images, torch.from_numpy(pixels)), dtype
        assert data.description == "in-memory uint8 (6, 20, 20)"
        assert bool(data.notes) == (dtype != "uint8")  # floats: the [0, 1] assumption is said


def test_a_channel_of_one_is_grey_and_colour_stays_colour():
    assert load_images(np.zeros((2, 5, 6, 1), np.uint8)).shape == (5, 6)
    assert load_images(np.zeros((2, 5, 6, 3), np.uint8)).shape == (5, 6, 3)


def test_npy_and_npz_files(tmp_path):
    images = np.random.default_rng(3).integers(0, 256, (8, 12, 12, 3), dtype=np.uint8)
    np.save(tmp_path / "a.npy", images)
    np.savez(tmp_path / "b.npz", images=images, labels=np.arange(8))
    assert torch.equal(load_images(tmp_path / "a.npy").images, torch.from_numpy(images))
    data = load_images(str(tmp_path / "b.npz"))
    assert torch.equal(data.images, torch.from_numpy(images)) and data.labels.tolist() == list(range(8))


def test_a_torch_dataset_of_images_or_pairs():
    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):  # torchvision's ToTensor layout: (C, H, W) floats in [0, 1]
            return torch.full((3, 8, 8), i / 10), i % 2

    data = load_images(Pairs())
    assert data.images.shape == (5, 8, 8, 3) and data.labels.tolist() == [0, 1, 0, 1, 0]
    assert int(data.images[2, 0, 0, 0]) == round(0.2 * 255)


# ---------------------------------------------------------------------------------------------------------
# Bad data: one line, nothing lost


def _bomb(path):
    """A PNG whose header claims 20,000 x 20,000 pixels (400 million): a few kilobytes on disk."""
    Image.new("L", (20_000, 20_000)).save(path, optimize=True)


BAD = {  # case: what the one error line must say
    "empty": "it is empty", "not-images": "no PNG, JPEG or BMP", "corrupt": "not a picture", "bomb": "pixels",
    "sizes": "--image-size", "nan": "NaN", "range": "0..255", "rank": "2 dimensions", "memory": "would need",
    "channels-first": "permute", "ints": "astype", "npz-keys": "name the images"}
ARRAYS = {"nan": np.full((3, 4, 4), np.nan), "range": np.full((3, 4, 4), 255.0), "rank": np.zeros((4, 4), np.uint8),
          "channels-first": np.zeros((3, 3, 8, 8), np.uint8), "ints": np.zeros((3, 4, 4), np.int64)}


def bad_source(tmp_path, monkeypatch, case):
    """The data of a bad case: a folder or file under tmp_path, or an array (ARRAYS)."""
    source = tmp_path / "data"
    source.mkdir()
    if case == "not-images":
        (source / "notes.txt").write_text("hello")
    elif case == "corrupt":
        (source / "broken.png").write_bytes(b"\x89PNG not really")
    elif case == "bomb":
        _bomb(source / "bomb.png")
    elif case == "sizes":
        pictures(source, count=1, size=(32, 32), classes=("a",))
        pictures(source, count=1, size=(16, 20), classes=("b",))
    elif case == "memory":
        pictures(source, count=4)
        monkeypatch.setenv("VANILLA_GAN_MAX_DATA_BYTES", "1000")
    elif case == "npz-keys":
        np.savez(source / "x.npz", a=np.zeros((2, 4, 4), np.uint8), b=np.zeros(2))
        source = source / "x.npz"
    return ARRAYS.get(case, source)


@pytest.mark.parametrize("case", list(BAD))
def test_bad_data_is_one_data_error(tmp_path, monkeypatch, case):
    with pytest.raises(DataError) as error:
        load_images(bad_source(tmp_path, monkeypatch, case))
    message = str(error.value)
    assert BAD[case] in message and "\n" not in message and len(message) < 400, message


@pytest.mark.parametrize("case", list(BAD))
def test_bad_data_through_the_cli_and_the_api_loses_nothing(tmp_path, monkeypatch, case):
    """Through `vanilla-gan train --dataset` (arrays as .npy files) and `vg.train(dataset=...)`: one line, and
    the run already in --out (which --overwrite would replace) is kept whole."""
    run = tmp_path / "run"
    assert run_main("train", *SMALL, "--limit", "64", "--seed", "1", "--out", run).returncode == 0
    before = (run / "checkpoints" / "last.pt").read_bytes()
    source = bad_source(tmp_path, monkeypatch, case)
    if isinstance(source, np.ndarray):
        np.save(tmp_path / "bad.npy", source)
        path = tmp_path / "bad.npy"
    else:
        path = source
    line = assert_one_line_error(run_main("train", "--dataset", path, *SMALL, "--out", run, "--overwrite"), 2)
    assert BAD[case] in line
    with pytest.raises(DataError) as error:
        vg.train(dataset=source, out=run, overwrite=True, **SMALL_OPTIONS)
    assert python_spelling(BAD[case]) in str(error.value) and "\n" not in str(error.value)  # --x-y: x_y
    assert (run / "checkpoints" / "last.pt").read_bytes() == before and vg.load(run).config["train"]["seed"] == 1


def test_an_unknown_name_keeps_its_message():
    with pytest.raises(DataError, match="unknown dataset 'nosuch'"):
        load_images("nosuch")


# ---------------------------------------------------------------------------------------------------------
# Through the command line


def test_cli_trains_on_a_folder_of_colour_pictures_and_samples_in_colour(tmp_path):
    folder = pictures(tmp_path / "pics", count=48)
    run = tmp_path / "run"
    result = run_cli("train", "--dataset", folder, *SMALL, "--seed", "1", "--out", run)
    assert result.returncode == 0, result.stderr
    assert "48 32x32 colour images" in result.stdout
    config = vg.load(run).config
    assert config["model"]["image_shape"] == [32, 32, 3] and config["train"]["dataset"] == str(folder.absolute())
    assert run_main("sample", run, "-n", "10", "-o", tmp_path / "x.npy").returncode == 0
    sampled = np.load(tmp_path / "x.npy")
    assert sampled.dtype == np.uint8 and sampled.shape == (10, 32, 32, 3)
    assert run_main("sample", run, "-o", tmp_path / "x.png").returncode == 0
    with Image.open(tmp_path / "x.png") as grid:
        assert grid.mode == "RGB"
    with Image.open(run / "samples" / "epoch_0001.png") as grid:
        assert grid.mode == "RGB"
    result = run_main("evaluate", run, "-n", "100", "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert 0 <= scores["c2st_accuracy"] <= 1 and scores["memorisation"]["level"] in ("ok", "warning")
    assert "fid" not in scores and "digit classifier" in scores["absent"]


def test_cli_trains_on_an_npy_file_resized(tmp_path):
    np.save(tmp_path / "faces.npy", np.random.default_rng(4).integers(0, 256, (40, 20, 20), dtype=np.uint8))
    run = tmp_path / "run"
    result = run_cli("train", "--dataset", tmp_path / "faces.npy", "--image-size", "16", *SMALL, "--out", run)
    assert result.returncode == 0, result.stderr
    assert vg.load(run).sample(3).shape == (3, 16, 16)


def test_cli_bad_data_in_a_subprocess_is_one_line_and_writes_nothing(tmp_path):
    """The real command line: exit status 2, one line, no traceback, nothing written."""
    folder = tmp_path / "data"
    pictures(folder, count=1, size=(32, 32), classes=("a",))
    pictures(folder, count=1, size=(16, 20), classes=("b",))
    line = assert_one_line_error(run_cli("train", "--dataset", folder, *SMALL, "--out", tmp_path / "run"), 2)
    assert "--image-size" in line and not (tmp_path / "run" / "config.json").exists()


def test_resume_refuses_data_of_another_shape(tmp_path):
    folder = pictures(tmp_path / "pics", count=32)
    run = tmp_path / "run"
    assert run_main("train", "--dataset", folder, *SMALL, "--seed", "2", "--out", run).returncode == 0
    before = (run / "checkpoints" / "last.pt").read_bytes()
    result = run_main("train", "--out", run, "--resume", "--epochs", "2", "--image-size", "16")
    line = assert_one_line_error(result, 2)
    assert "--image-size" in line
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


# ---------------------------------------------------------------------------------------------------------
# Through the Python API


def test_api_trains_on_an_array_of_20x20_and_samples_that_shape(tmp_path):
    images = np.random.default_rng(5).integers(0, 256, (64, 20, 20), dtype=np.uint8)
    run = vg.train(dataset=images, out=tmp_path / "run", seed=1, **SMALL_OPTIONS)
    assert run.sample(5).shape == (5, 20, 20)
    assert run.config["train"]["dataset"] == "in-memory uint8 (64, 20, 20)"
    assert run.grid().mode == "L" and run.interpolate(walks=2, frames=3).mode == "L"
    again = vg.train(dataset=images, out=tmp_path / "run", resume=True, epochs=2, report=False)
    assert len(again.metrics) == 2
    with pytest.raises(DataError, match="in-memory"):  # not on disk: resuming without it says so
        vg.train(out=tmp_path / "run", resume=True, epochs=3)


def test_api_bad_data_names_the_keyword_and_prints_no_array(tmp_path):
    big = np.full((500, 30, 30), 7.5)  # floats out of range: the message must not print them
    with pytest.raises(DataError) as error:
        vg.train(dataset=big, out=tmp_path / "run", **SMALL_OPTIONS)
    assert "\n" not in str(error.value) and "7.5" in str(error.value) and len(str(error.value)) < 300
    with pytest.raises(UsageError, match=r"^lr must be a finite number, got a ndarray"):
        vg.train(lr=np.zeros(1000), out=tmp_path / "run2", **SMALL_OPTIONS)
    assert not (tmp_path / "run").exists() and not (tmp_path / "run2" / "config.json").exists()


def test_trainer_takes_unit_floats_and_refuses_0_255_floats():
    floats = torch.rand(32, 6, 6)
    trainer = vg.Trainer(vg.ModelConfig(latent_dim=4, g_hidden=(8,), d_hidden=(8,)), vg.TrainConfig(seed=0),
                         floats)
    assert trainer.model_config.image_shape == (6, 6)
    assert torch.equal(trainer.images.cpu(), (floats.double() * 255).round().to(torch.uint8).reshape(32, 36))
    with pytest.raises(DataError, match="0..255"):
        vg.Trainer(vg.ModelConfig(), vg.TrainConfig(seed=0), floats * 255)
    with pytest.raises(UsageError, match="image_shape"):
        vg.Trainer(vg.ModelConfig(image_shape=(28, 28)), vg.TrainConfig(seed=0), floats)


def test_tiny_options_still_train_the_digits(tmp_path):
    """The TINY digits settings through the new signature (a sanity check that named keywords reach the run)."""
    run = vg.train(out=tmp_path / "d", epochs=1, seed=3, report=False, **TINY_OPTIONS)
    assert run.config["model"]["image_shape"] == [28, 28] and run.sample(2).shape == (2, 28, 28)


# ---------------------------------------------------------------------------------------------------------
# vg.train's signature, its errors in Python's spelling, overwrite=True


def test_train_has_an_explicit_signature_with_defaults():
    import inspect

    parameters = inspect.signature(vg.train).parameters
    shown = {name: repr(parameters[name].default) for name in ("epochs", "batch_size", "lr", "seed", "dataset", "out")}
    assert shown == {"epochs": "112", "batch_size": "32", "lr": "0.0002", "seed": "None", "dataset": "'digits'",
                     "out": "None"}
    assert parameters["batch_size"].annotation == "int" and "image_size" in parameters
    assert "batch_size" in vg.train.__doc__ and "overwrite" in vg.train.__doc__


@pytest.mark.parametrize(("keywords", "start"), [
    ({"batch_size": "8"}, "batch_size must be an integer, got '8'"),
    ({"resume": "yes"}, "resume must be True or False"),
    ({"image_size": 0}, "image_size must be in 1..1024"),
    ({"epochs": 1.5}, "epochs must be an integer"),
])
def test_wrong_types_name_the_keyword_as_python_spells_it(tmp_path, keywords, start):
    with pytest.raises(UsageError) as error:
        vg.train(out=tmp_path / "run", **{**SMALL_OPTIONS, **keywords})
    assert str(error.value).startswith(start) and "--" not in str(error.value), str(error.value)


def test_overwrite_replaces_a_run_and_only_a_run(tmp_path):
    run = tmp_path / "run"
    vg.train(out=run, seed=1, **SMALL_OPTIONS, **{"limit": 64})
    with pytest.raises(UsageError, match=r"pass resume=True to continue it, or choose another out"):
        vg.train(out=run, seed=2, **SMALL_OPTIONS, **{"limit": 64})
    vg.train(out=run, seed=2, overwrite=True, **SMALL_OPTIONS, **{"limit": 64})
    assert vg.load(run).config["train"]["seed"] == 2 and len(vg.load(run).metrics) == 1
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.tex").write_text("precious")
    with pytest.raises(UsageError, match="not a vanilla-gan run folder"):
        vg.train(out=other, overwrite=True, **SMALL_OPTIONS, **{"limit": 64})
    assert (other / "chapter1.tex").read_text() == "precious"
    with pytest.raises(UsageError, match="overwrite=True replaces a run and resume=True"):
        vg.train(out=run, overwrite=True, resume=True)


def test_cli_overwrite(tmp_path):
    run = tmp_path / "run"
    assert run_main("train", *SMALL, "--limit", "64", "--seed", "1", "--out", run).returncode == 0
    assert run_main("train", *SMALL, "--limit", "64", "--seed", "2", "--out", run, "--overwrite").returncode == 0
    assert vg.load(run).config["train"]["seed"] == 2


def test_overwrite_of_a_new_folder_starts_it_and_bad_data_keeps_the_old_run(tmp_path):
    run = tmp_path / "new"
    vg.train(out=run, overwrite=True, seed=1, **SMALL_OPTIONS, **{"limit": 64})  # nothing to replace yet
    before = (run / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(DataError, match="NaN"):
        vg.train(dataset=np.full((64, 8, 8), np.nan), out=run, overwrite=True, **SMALL_OPTIONS)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="it is empty"):
        vg.train(dataset=empty, out=run, overwrite=True, **SMALL_OPTIONS)
    assert (run / "checkpoints" / "last.pt").read_bytes() == before and vg.load(run).config["train"]["seed"] == 1


def test_mixed_grey_and_colour_train_in_colour_and_say_so(tmp_path):
    pictures(tmp_path / "mixed", count=20, mode="RGB", classes=("c",))
    pictures(tmp_path / "mixed", count=12, mode="L", classes=("g",))
    result = run_main("train", "--dataset", tmp_path / "mixed", *SMALL, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr and "12 grey pictures among colour ones were made colour" in result.stderr
    with pytest.warns(RuntimeWarning, match="12 grey pictures"):
        run = vg.train(dataset=tmp_path / "mixed", out=tmp_path / "api", **SMALL_OPTIONS)
    assert run.sample(1).shape == (1, 32, 32, 3)
