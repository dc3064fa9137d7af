"""Writing files so that a crash never leaves half of one: the one way this package writes a file.

    atomic_write(path, b"...")                         # bytes
    atomic_write(path, lambda f: torch.save(obj, f))   # or a function that writes to a binary file object
    append_text(path, "lines\n")                     # appended, flushed and fsynced

`atomic_write` writes `NAME.tmp-PID` beside `path`, fsyncs it, renames it over `path` and fsyncs the folder
(a rename is durable only once its folder is), so `path` is always either the old file or the new one.
Temporary files are named by TEMP_MARK, which `.gitignore` and the run folder's clean-up know.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_MARK = ".tmp-"


def temp_path(path: Path) -> Path:
    """The temporary name this process writes `path` under."""
    return path.with_name(f"{path.name}{TEMP_MARK}{os.getpid()}")


def atomic_write(path: Path | str, data: bytes | Callable[[BinaryIO], object], durable: bool = True) -> Path:
    """Write `data` (bytes, or a function writing to a binary file) to `path` atomically; returns `path`.

    `durable=False` skips the fsyncs, for caches that may be lost in a crash.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                data(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            fsync_folder(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def append_text(path: Path, text: str) -> None:
    """Append `text` (ending in a newline: one is added if not) to `path`, durably, before returning."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")
        f.flush()
        os.fsync(f.fileno())


def fsync_folder(folder: Path) -> None:
    """Make the renames and new files in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
