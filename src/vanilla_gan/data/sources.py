"""The one loader of training images, whatever the user has: every path (train, the API, Trainer, sweep,
torchrun, evaluate, report) goes through `load_images`.

    data = load_images("digits")                     # the names: digits, mnist, fashion-mnist (data/__init__.py)
    data = load_images("path/to/idx-folder")         # a folder with train-images-idx3-ubyte[.gz]
    data = load_images("path/to/pictures")           # a folder of PNG/JPEG/BMP, searched recursively
    data = load_images("faces.npy", image_size=32)   # a .npy or .npz file, resized to 32x32
    data = load_images(array)                        # a numpy array or torch tensor (data/arrays.py)
    data = load_images(dataset)                      # a torch Dataset of images or (image, label) pairs
    data.images, data.labels, data.description, data.notes

Images come back as a uint8 tensor (N, H, W) grey or (N, H, W, 3) colour (data/arrays.py says what an array may
hold). A folder of pictures: its files sorted by path; when every picture lies one folder down, those folders'
names are the classes (labels 0.. in sorted order). Pictures of different sizes need `image_size` (every picture
resized to it), else a DataError naming two sizes; grey and colour pictures together are all made colour, and a
note says so. A picture above MAX_IMAGE_PIXELS pixels (a decompression bomb, or simply too large) is refused
before it is decoded. Before anything is decoded, the images' memory is checked (data/arrays.check_memory).
The names and IDX folders give exactly what `load_dataset` gives (the default digits are unchanged).
"""

from __future__ import annotations

import math
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from vanilla_gan.data import DATASET_NAMES, load_dataset
from vanilla_gan.data.arrays import (
    ALPHA_MODES,
    GREY_MODES,
    as_images,
    check_image_shape,
    check_memory,
    picture_pixels,
    resize,
    resize_one,
    shape_words,
)
from vanilla_gan.data.idx import describe
from vanilla_gan.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MAX_IMAGE_PIXELS = 64 * 1024 * 1024  # width x height of one picture file: beyond it, refused before decoding
IN_MEMORY = "in-memory"  # how config.json names data given in Python (an array, a tensor, a Dataset)


@dataclass
class LoadedImages:
    images: torch.Tensor  # uint8 (N, H, W) or (N, H, W, 3)
    labels: torch.Tensor | None  # (N,) or None
    description: str  # what config.json records as the data set: a name, an absolute path, or "in-memory ..."
    kind: str = "name"  # name, idx (a folder of IDX files), pictures, file (.npy/.npz) or memory
    notes: list[str] = field(default_factory=list)  # what was assumed or converted, for the user

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])


def load_images(source: object, image_size: int | None = None, cache_dir: Path | None = None) -> LoadedImages:
    """The training images of `source` (see the module docstring), resized to image_size x image_size if given."""
    if isinstance(source, (np.ndarray, torch.Tensor)):
        images, notes = as_images(source, "dataset (an array)")
        loaded = LoadedImages(images, None, in_memory_name(images), "memory", notes)
    elif isinstance(source, torch.utils.data.Dataset):
        loaded = _from_dataset(source)
    elif isinstance(source, (str, os.PathLike)) and not isinstance(source, bytes):
        loaded = _from_path(os.fspath(source), image_size, cache_dir)
    else:
        raise DataError(f"dataset must be digits, mnist, fashion-mnist, a path (a folder of images or IDX files, a "
                        f".npy or .npz file), a numpy array, a torch tensor or a torch Dataset, got a "
                        f"{type(source).__name__}")
    if image_size is not None:
        loaded.images = resize(loaded.images, image_size)
    check_image_shape(loaded.shape, loaded.description)
    return loaded


def in_memory_name(images: torch.Tensor) -> str:
    """config.json's name for images given in Python: 'in-memory uint8 (500, 20, 20)'."""
    return f"{IN_MEMORY} uint8 {tuple(images.shape)}"


def _from_path(text: str, image_size: int | None, cache_dir: Path | None) -> LoadedImages:
    if text in DATASET_NAMES:
        images, labels = load_dataset(text, cache_dir)
        return LoadedImages(images, labels, text)
    if text.startswith(IN_MEMORY):
        raise DataError(f"the run was trained on images given in Python ({text}); they are not on disk: pass "
                        f"them again (dataset=...), or save them with numpy.save and use the .npy file")
    path = Path(text).expanduser()
    if path.is_file() and path.suffix.lower() in (".npy", ".npz"):
        return _from_array_file(path)
    if path.is_dir() and not _has_idx(path):
        return _from_folder(path, image_size)
    images, labels = load_dataset(text, cache_dir)  # an IDX folder, or the errors for a missing one or a bad name
    return LoadedImages(images, labels, text, "idx")


def _has_idx(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"))


# ---------------------------------------------------------------------------------------------------------
# .npy and .npz files


def _from_array_file(path: Path) -> LoadedImages:
    """A .npy (the images) or .npz (key `images`, or its only array; `labels` if present)."""
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)  # the header only, until it is read
            labels = None
        else:
            with np.load(path, allow_pickle=False) as npz:
                keys = list(npz.keys())
                key = "images" if "images" in keys else keys[0] if len(keys) == 1 else None
                if key is None:
                    raise DataError(f"{path}: holds {', '.join(keys[:8]) or 'no arrays'}; name the images "
                                    f"'images' (and the labels 'labels'): numpy.savez(path, images=..., labels=...)")
                for member in (key, "labels") if "labels" in keys else (key,):  # headers first: memory, pickles
                    check_memory(_member_bytes(path, member), f"{path} ({member})")
                array, labels = npz[key], npz["labels"] if "labels" in keys else None
    except (OSError, ValueError, EOFError, KeyError, SyntaxError, OverflowError, AttributeError) as exc:
        raise DataError(f"{path}: cannot read it as a numpy file ({describe(exc)})") from exc
    if array.dtype.hasobject or any(side < 0 for side in array.shape):
        raise DataError(f"{path}: holds {array.dtype} {array.shape}, not images of numbers")
    converted = 0 if array.dtype == np.uint8 else array.size  # as_images writes a uint8 copy of other types
    check_memory(array.size * array.dtype.itemsize + converted, str(path))
    if isinstance(array, np.memmap):  # a .npy's header was checked: now read it (a copy of the map would count twice)
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{path}: cannot read it as a numpy file ({describe(exc)})") from exc
    images, notes = as_images(array, str(path))
    if labels is not None and (labels.ndim != 1 or len(labels) != len(images) or labels.dtype.kind not in "iu"):
        raise DataError(f"{path}: labels are {labels.dtype} {labels.shape}, expected whole numbers ({len(images)},)")
    return LoadedImages(images, None if labels is None else torch.from_numpy(labels.astype(np.int64)),
                        str(path.absolute()), "file", notes)


def _member_bytes(path: Path, key: str) -> int:
    """The bytes an .npz member holds once read, from its .npy header alone (nothing is decompressed); a member
    of Python objects (a pickle) or of a negative shape is a DataError."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(member)
    if dtype.hasobject or any(side < 0 for side in shape):
        raise DataError(f"{path}: {key} holds {dtype} {shape} (Python objects or a negative size), not numbers")
    count = math.prod(shape)
    return count * dtype.itemsize + (0 if dtype == np.uint8 else count)


# ---------------------------------------------------------------------------------------------------------
# A folder of pictures


def _from_folder(folder: Path, image_size: int | None) -> LoadedImages:
    files = sorted(p for p in folder.rglob("*") if p.is_file()  # hidden files and folders (.ipynb_checkpoints)
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    pictures = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    where = str(folder)
    if not pictures:
        others = f" ({len(files)} other files, e.g. {files[0].name})" if files else " (it is empty)"
        raise DataError(f"{where}: no PNG, JPEG or BMP pictures and no train-images-idx3-ubyte[.gz]{others}")
    sizes, colour, transparent = {}, False, 0
    for path in pictures:  # the headers only: sizes, modes, pixel limits, memory, before any decoding
        with _open(path) as picture:
            sizes.setdefault(picture.size, path)
            colour = colour or picture.mode not in GREY_MODES
            transparent += picture.mode in ALPHA_MODES or "transparency" in picture.info
    if len(sizes) > 1 and image_size is None:
        (a, path_a), (b, path_b) = list(sizes.items())[:2]
        path_a, path_b = path_a.relative_to(folder), path_b.relative_to(folder)
        raise DataError(f"{where}: pictures differ in size ({path_a} is {a[0]}x{a[1]}, {path_b} is "
                        f"{b[0]}x{b[1]}): pass --image-size=N to resize them all to NxN")
    width, height = next(iter(sizes)) if image_size is None else (image_size, image_size)
    channels = 3 if colour else 1
    check_memory(len(pictures) * width * height * channels, where)
    check_image_shape((height, width, 3) if colour else (height, width), where)
    images = np.empty((len(pictures), height, width, 3) if colour else (len(pictures), height, width), np.uint8)
    converted = 0
    for i, path in enumerate(pictures):
        with _open(path) as picture:
            converted += colour and picture.mode in GREY_MODES
            try:
                pixels = picture_pixels(picture, colour, str(path))
            except (OSError, ValueError, SyntaxError) as exc:  # Pillow: SyntaxError for a broken PNG chunk
                raise DataError(f"{path}: cannot decode it ({describe(exc)}); remove it or replace it") from exc
        images[i] = resize_one(pixels, image_size) if image_size is not None else pixels
    notes = [f"{where}: {converted} grey pictures among colour ones were made colour"] if converted else []
    if transparent:
        notes.append(f"{where}: {transparent} pictures have transparency: composited over black")
    labels = _folder_labels(folder, pictures)
    return LoadedImages(torch.from_numpy(images), labels, str(folder.absolute()), "pictures", notes)


def _open(path: Path) -> Image.Image:
    """Open a picture lazily (header only), refusing one above MAX_IMAGE_PIXELS before it is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{path}: too many pixels to be a training picture ({describe(exc)}); remove it") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: not a picture Pillow can read ({describe(exc)}); remove it or replace it") from exc
    if picture.width * picture.height > MAX_IMAGE_PIXELS:
        picture.close()
        raise DataError(f"{path}: {picture.width}x{picture.height} pixels is above the limit of {MAX_IMAGE_PIXELS:,} "
                        f"(a decompression bomb, or far too large to train on); remove it or shrink it")
    return picture


def _folder_labels(folder: Path, pictures: list[Path]) -> torch.Tensor | None:
    """Class labels from the first folder level when every picture lies exactly one folder down, else None."""
    parts = [p.relative_to(folder).parts for p in pictures]
    if any(len(part) != 2 for part in parts):
        return None
    classes = sorted({part[0] for part in parts})
    index = {name: i for i, name in enumerate(classes)}
    return torch.tensor([index[part[0]] for part in parts], dtype=torch.int64)


# ---------------------------------------------------------------------------------------------------------
# A torch Dataset


def _from_dataset(dataset: torch.utils.data.Dataset) -> LoadedImages:
    """Every item of a map-style Dataset: an image, or (image, label); images as arrays/tensors/PIL pictures."""
    try:
        count = len(dataset)
    except TypeError:
        raise DataError("dataset (a torch Dataset) has no len(): give a map-style Dataset") from None
    if count == 0:
        raise DataError("dataset (a torch Dataset) holds no items")
    images, labels = [], []
    for i in range(count):
        item = dataset[i]
        if isinstance(item, (tuple, list)) and len(item) != 2:
            raise DataError(f"dataset (a torch Dataset): item {i} is a {type(item).__name__} of {len(item)}; give "
                            f"an image, or an (image, label) pair")
        image, label = (item[0], item[1]) if isinstance(item, (tuple, list)) else (item, None)
        if isinstance(image, Image.Image):
            image = picture_pixels(image, image.mode not in GREY_MODES, f"dataset (a torch Dataset) item {i}")
        array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[2] not in (1, 3):
            array = array.transpose(1, 2, 0)  # torchvision's ToTensor gives (C, H, W)
        if images and array.shape != images[0].shape:
            raise DataError(f"dataset (a torch Dataset): item {i} is {array.shape} but item 0 is {images[0].shape}; "
                            f"give images of one size (resize them in the Dataset's transform)")
        if i == 0:
            check_memory(count * array.size, "dataset (a torch Dataset)")
        images.append(array)
        labels.append(label)
    stacked, notes = as_images(np.stack(images), "dataset (a torch Dataset)")
    known = all(isinstance(v, (int, np.integer)) or (isinstance(v, torch.Tensor) and v.numel() == 1)
                for v in labels)
    if known and any(not -2**63 <= int(v) < 2**63 for v in labels):
        raise DataError("dataset (a torch Dataset): a label is beyond a 64-bit integer; give class numbers")
    label_tensor = torch.tensor([int(v) for v in labels], dtype=torch.int64) if known else None
    return LoadedImages(stacked, label_tensor, in_memory_name(stacked), "memory", notes)


__all__ = ["LoadedImages", "load_images", "in_memory_name", "shape_words", "IN_MEMORY", "MAX_IMAGE_PIXELS"]
