"""Careless and hostile inputs (issue: nothing lost, nothing silent): a folder of the user's own files as --out,
empty paths, pictures of every Pillow mode, hidden folders, odd Dataset items. Each reproducer failed before.

Run: python -m pytest tests/test_careless_inputs.py -n 0 -q
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, run_main
from PIL import Image

import vanilla_gan as vg
from vanilla_gan.data.arrays import picture_pixels
from vanilla_gan.data.sources import load_images
from vanilla_gan.errors import DataError, UsageError

TR = ["--limit", "200", "--epochs", "1", "--eval-every", "0", "--no-report", "--batch-size", "8", "--seed", "1"]


def test_train_never_writes_into_a_folder_of_the_users_own_files(tmp_path):
    """A: the user's config.json, metrics.jsonl, steps.csv and samples/epoch_0001.png survive, exit 2."""
    proj = tmp_path / "proj"
    (proj / "samples").mkdir(parents=True)
    files = {"config.json": '{"lr": 1}', "metrics.jsonl": "{}\n", "steps.csv": "x\n", "samples/epoch_0001.png": "p"}
    for name, text in files.items():
        (proj / name).write_text(text)
    line = assert_one_line_error(run_main("train", *TR, "--out", proj))
    assert "holds files that are not a vanilla-gan run" in line and "nothing was changed" in line
    assert {name: (proj / name).read_text() for name in files} == files
    assert not (proj / "checkpoints").exists() and not (proj / "train.lock").exists()


@pytest.mark.parametrize("option", ["--out", "--dataset"])
def test_empty_paths_are_refused(tmp_path, monkeypatch, option):
    """A and B: an empty --out or --dataset is not the current folder."""
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "pic.png")
    args = ["--out", "run"] if option == "--dataset" else []
    line = assert_one_line_error(run_main("train", *TR, *args, option, ""))
    assert f"{option} is empty" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pic.png"]
    with pytest.raises(UsageError, match="dataset is empty"):
        vg.train(dataset="", out=tmp_path / "x", epochs=1)


def test_sixteen_bit_float_and_transparent_pictures_keep_what_they_hold(tmp_path):
    """C: a 16-bit gradient keeps its levels; floats in [0, 1] are scaled; alpha goes over black; a float
    picture out of range is refused naming it."""
    gradient = (np.arange(256 * 4, dtype=np.uint16).reshape(16, 64) * 64)
    sixteen = picture_pixels(Image.fromarray(gradient), False, "g")
    assert len(np.unique(sixteen)) > 200 and sixteen.max() == round(gradient.max() / 257)
    floats = Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    assert floats.mode == "F" and picture_pixels(floats, False, "f").max() == 255
    assert len(np.unique(picture_pixels(floats, False, "f"))) == 64
    clear = Image.fromarray(np.dstack([np.full((8, 8, 3), 200, np.uint8), np.zeros((8, 8), np.uint8)]))
    assert clear.mode == "RGBA" and picture_pixels(clear, True, "c").max() == 0  # fully transparent: black
    with pytest.raises(DataError, match="bad.png.*F picture with values"):
        picture_pixels(Image.fromarray(np.full((4, 4), 300.0, np.float32)), False, "bad.png")
    folder = tmp_path / "pics"
    folder.mkdir()
    Image.fromarray(gradient).save(folder / "g16.png")
    loaded = load_images(str(folder))
    assert len(np.unique(loaded.images.numpy())) > 200
    clear.save(folder / "clear.png")  # mixed: colour now, with a note on transparency
    (folder / "g16.png").unlink()
    assert any("transparency" in note for note in load_images(str(folder)).notes)


class Items(torch.utils.data.Dataset):
    """A map-style Dataset of the given items, as a user's Dataset returns them."""

    def __init__(self, items: list):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_a_dataset_of_16_bit_and_float_pil_pictures_is_scaled():
    ramps = [np.linspace(0, 1, 64).reshape(8, 8) * (i + 1) / 4 for i in range(4)]
    for mode, picture in (("I;16", lambda v: Image.fromarray((v * 65535).astype(np.uint16))),
                          ("F", lambda v: Image.fromarray(v.astype(np.float32)))):
        images = load_images(Items([picture(v) for v in ramps])).images.numpy()
        assert images[3].max() == 255 and 0 < images[0].max() < 80 and len(np.unique(images)) > 40, mode


def test_hidden_folders_are_not_trained_on(tmp_path):
    """D: pictures in .ipynb_checkpoints/ are not a third class."""
    for name in ("cats", "dogs", ".ipynb_checkpoints"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.full((8, 8), 9, np.uint8)).save(tmp_path / name / "a.png")
    loaded = load_images(str(tmp_path))
    assert len(loaded.images) == 2 and sorted(loaded.labels.tolist()) == [0, 1]


def test_odd_dataset_items_and_damaged_pngs_are_one_line_data_errors(tmp_path):
    """E: (image, label, path) triples, a label of 2**70, a PNG with a damaged chunk."""
    image = np.zeros((8, 8), np.uint8)
    with pytest.raises(DataError, match="item 0 is a tuple of 3"):
        load_images(Items([(image, 1, "a.png")] * 3))
    with pytest.raises(DataError, match="beyond a 64-bit integer"):
        load_images(Items([(image, 2**70)] * 3))
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "ok.png")
    data = bytearray((tmp_path / "ok.png").read_bytes())
    data[data.index(b"IDAT") + 6] ^= 0xFF  # inside the compressed pixels: the chunk's CRC no longer matches
    (tmp_path / "bad.png").write_bytes(bytes(data))
    (tmp_path / "ok.png").unlink()
    line = assert_one_line_error(run_main("train", *TR, "--dataset", tmp_path, "--out", tmp_path / "run"))
    assert "bad.png" in line


@pytest.mark.parametrize("field, value", [("train", {"image_size": "abc"}), ("train", {"image_size": 0}),
                                          ("metrics", [1, 2]), ("train", "digits"), ("epochs", "ten")])
def test_an_edited_provenance_is_a_one_line_error(tmp_path, monkeypatch, field, value):
    """J: pretrained.json edited by hand: evaluate and explore --pretrained say so in one line."""
    import json
    import shutil

    from vanilla_gan.runs import shipped

    for name in ("pretrained.pt", "pretrained.json"):
        shutil.copy(shipped.shipped_path().parent / name, tmp_path / name)
    record = json.loads((tmp_path / "pretrained.json").read_text())
    record[field] = value
    (tmp_path / "pretrained.json").write_text(json.dumps(record))
    monkeypatch.setenv("VANILLA_GAN_PRETRAINED", str(tmp_path / "pretrained.pt"))
    for command in (["evaluate", "--pretrained", "-n", "1000"], ["explore", "--pretrained", "-o", tmp_path / "p.html"]):
        line = assert_one_line_error(run_main(*command))
        assert "provenance" in line and "damaged" in line


@pytest.mark.parametrize("linked", ["log", "run"])
def test_a_sweep_never_follows_a_link_out_of_its_folder(tmp_path, linked):
    """K: S/logs/default_seed_1.log or S/default linked outside: refused in one line, nothing written there."""
    from helpers import TINY, run_cli

    out, outside = tmp_path / "S", tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("mine\n")
    args = ["sweep", "--seeds", "1", *TINY, "--epochs", "1", "--no-report", "--jobs", "2", "--out", out]
    plan = run_cli(*args)  # a one-run sweep, finished; then the link, and a resume of a second seed
    assert plan.returncode == 0, plan.stderr[-400:]
    if linked == "log":
        (out / "logs").mkdir(exist_ok=True)
        for log in (out / "logs").iterdir():
            log.unlink()
        (out / "logs" / "default_seed_1.log").symlink_to(outside / "mine.txt")
        import shutil

        shutil.rmtree(next((out / "default").iterdir()))  # the run to train again on resume
    else:
        import shutil

        shutil.rmtree(out / "default")
        (out / "default").symlink_to(outside)
    line = assert_one_line_error(run_cli(*args, "--resume"), 2)
    assert "symbolic link out of" in line
    assert sorted(p.name for p in outside.iterdir()) == ["mine.txt"] and (outside / "mine.txt").read_text() == "mine\n"


def _npy_header(shape: tuple, descr: str = "|u1") -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_odd_numpy_files_are_refused_from_their_headers(tmp_path, monkeypatch):
    """E and F: an .npz member declaring 10^12 bytes, a pickled member, a negative shape, and a small .npz that
    inflates past the memory cap are refused before their data is read."""
    import io
    import zipfile

    monkeypatch.setenv("VANILLA_GAN_MAX_DATA_BYTES", "50000000")
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("images.npy", _npy_header((10**6, 1000, 1000)))
    with zipfile.ZipFile(tmp_path / "pickle.npz", "w") as archive:
        member = io.BytesIO()
        np.save(member, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        archive.writestr("images.npy", member.getvalue())
    (tmp_path / "negative.npy").write_bytes(_npy_header((-5, 28, 28)))
    np.savez_compressed(tmp_path / "bomb.npz", images=np.zeros((800, 1000, 28), np.uint8))  # 0.6 MB -> 22 MB
    monkeypatch.setenv("VANILLA_GAN_MAX_DATA_BYTES", "10000000")
    for name, words in (("huge.npz", "931.3 GiB"), ("pickle.npz", "Python objects"),
                        ("negative.npy", "cannot read it"), ("bomb.npz", "would need 21.4 MiB")):
        with pytest.raises(DataError, match=words):
            load_images(str(tmp_path / name))


FLAT_NETS = '''
import torch
from torch import nn


class FlatGenerator(nn.Module):
    """z (B, 8) -> (B, 256): flat output, for 16x16 pictures."""

    def __init__(self, latent_dim=8, pixels=256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 32), nn.ReLU(), nn.Linear(32, pixels), nn.Tanh())

    def forward(self, z):
        return self.net(z)


class WrongSize(FlatGenerator):
    def forward(self, z):  # the same weights, 100 values out
        return self.net(z)[:, :100]


class NaNGenerator(FlatGenerator):
    def forward(self, z):
        return self.net(z) * float("nan")
'''


def test_a_users_flat_generator_for_other_sizes_reaches_every_command(tmp_path, monkeypatch):
    """H: a flat-output G trained on 16x16 data samples, interpolates, exports and evaluates as 16x16; a G of the
    wrong size or one that returns NaN gets one line instead of a reshape error or black images."""
    import importlib

    (tmp_path / "flatnets.py").write_text(FLAT_NETS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    nets = importlib.import_module("flatnets")
    data = np.random.default_rng(0).integers(0, 256, (256, 16, 16), dtype=np.uint8)
    run = vg.train(dataset=data, out=tmp_path / "flat", seed=1, epochs=1, generator=nets.FlatGenerator(),
                   latent_dim=8, batch_size=32, eval_every=0, report=False)
    assert run.sample(4).shape == (4, 16, 16)
    own = ["--generator", "flatnets:FlatGenerator"]
    for command in (["sample", run.path, *own, "-n", "4", "-o", tmp_path / "s.npy"],
                    ["sample", run.path, *own, "--interpolate", "-n", "2", "-o", tmp_path / "w.gif"],
                    ["export", run.path, *own, "-o", tmp_path / "g.pt"]):
        done = run_main(*command)
        assert done.returncode == 0, (command, done.stderr)
    assert np.load(tmp_path / "s.npy").shape == (4, 16, 16)
    for command in ("sample", "export"):
        wrong = assert_one_line_error(run_main(command, run.path, "--generator", "flatnets:WrongSize", "-o",
                                               tmp_path / ("x.png" if command == "sample" else "x.pt")))
        assert "the run's images are 16x16 (256 values)" in wrong
    nan = assert_one_line_error(run_main("sample", run.path, "--generator", "flatnets:NaNGenerator", "-o",
                                         tmp_path / "y.png"))
    assert "NaN" in nan


@pytest.mark.parametrize("shape, count", [((1, 1), 64), ((2, 2), 64), ((8, 8), 3)])
def test_evaluate_and_report_take_tiny_images_and_tiny_data_sets(tmp_path, shape, count):
    """I: the two-sample test on 1x1 and 2x2 images (any size works); a 3-image run's evaluation says the test
    needs more real images, and its report draws."""
    np.save(tmp_path / "data.npy", np.random.default_rng(0).integers(0, 256, (count, *shape), dtype=np.uint8))
    run = tmp_path / "run"
    trained = run_main("train", "--dataset", tmp_path / "data.npy", "--epochs", "1", "--batch-size", "1",
                       "--eval-every", "0", "--no-report", "--out", run, "--seed", "1")
    assert trained.returncode == 0, trained.stderr
    evaluated = run_main("evaluate", run, "-n", "1000")
    assert evaluated.returncode == 0, evaluated.stderr
    assert ("Two-sample accuracy" in evaluated.stdout) == (count >= 40)
    assert ("needs 40 real images; the data set has 3" in evaluated.stdout) == (count < 40)
    reported = run_main("report", run)
    assert reported.returncode == 0, reported.stderr


class _Tuple(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(8, 784)

    def forward(self, z):
        return self.net(z).tanh(), None


class _Double(_Tuple):
    def forward(self, z):
        return self.net(z).tanh().double()


class _Constant(_Tuple):
    def forward(self, z):
        return torch.zeros(len(z), 784)


class _BatchNormG(_Tuple):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(784)

    def forward(self, z):
        return self.norm(self.net(z)).tanh()


class _PerSample:
    name = "per-sample"

    def d_loss(self, real, fake):
        return torch.nn.functional.softplus(-real) + torch.nn.functional.softplus(fake)  # no .mean()

    def g_loss(self, fake):
        return torch.nn.functional.softplus(-fake).mean()


class _Float(_PerSample):
    def d_loss(self, real, fake):
        return 0.5


class _NoGrad(_PerSample):
    def d_loss(self, real, fake):
        return torch.tensor(0.5)


@pytest.mark.parametrize("given, words", [
    ({"generator": torch.nn.Sequential(torch.nn.Linear(16, 784), torch.nn.Tanh())}, "failed: RuntimeError"),
    ({"generator": _Tuple()}, "returns a tuple"),
    ({"generator": _Double()}, "gives torch.float64 images"),
    ({"generator": lambda z: z}, "must be a torch.nn.Module"),
    ({"generator": _Constant()}, "does not depend on its weights"),
    ({"generator": _BatchNormG(), "batch_size": 1}, "in train mode (the run's batch size)"),
    ({"objective": _PerSample()}, "returns 8 values"),
    ({"objective": _Float()}, "returns a float"),
    ({"objective": _NoGrad()}, "with no gradient"),
])
def test_users_networks_and_objectives_are_checked_before_the_first_step(tmp_path, given, words):
    """G: each mistake is a UsageError saying what is wrong, before training (no run folder is left with a
    checkpoint)."""
    options = {"latent_dim": 8, "limit": 64, "epochs": 1, "eval_every": 0, "report": False, "batch_size": 8,
               "seed": 1, **given}
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        vg.train(out=tmp_path / "run", **options)
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


def test_more_threads_than_cpus_is_said(tmp_path):
    from vanilla_gan.training.threads import usable_cpus

    result = run_main("train", *TR, "--threads", str(usable_cpus() + 7), "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert f"--threads {usable_cpus() + 7} is more than the {usable_cpus()} CPU(s)" in result.stderr


def test_big_endian_arrays_load_as_their_numbers(tmp_path):
    values = np.random.default_rng(0).random((20, 8, 8))
    np.save(tmp_path / "be.npy", values.astype(">f4"))
    np.save(tmp_path / "le.npy", values.astype("<f4"))
    assert torch.equal(load_images(str(tmp_path / "be.npy")).images, load_images(str(tmp_path / "le.npy")).images)


def test_resume_refuses_a_folder_whose_config_is_not_ours(tmp_path):
    folder = tmp_path / "u"
    folder.mkdir()
    (folder / "config.json").write_text('{"seed": 1, "model": "resnet"}')
    line = assert_one_line_error(run_main("train", "--resume", "--out", folder, "--epochs", "1"))
    assert "not a run to resume" in line
    assert sorted(p.name for p in folder.iterdir()) == ["config.json"]  # no train.lock left either


def test_a_discriminator_ending_in_a_sigmoid_is_refused(tmp_path):
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 1), torch.nn.Sigmoid())
    with pytest.raises(UsageError, match="ends in nn.Sigmoid"):
        vg.train(out=tmp_path / "r", discriminator=d, epochs=1, limit=64, eval_every=0, report=False, batch_size=8)
