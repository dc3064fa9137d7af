"""Writing files so that a crash never leaves half of one: how this package writes its files (run folders,
checkpoints, caches, exports, samples; `data.idx.write_idx` and TensorBoard's own event files excepted).

    atomic_write(path, b"...")                         # bytes
    atomic_write(path, lambda f: torch.save(obj, f))   # or a function that writes to a binary file object
    append_text(path, "lines\n")                     # appended, flushed and fsynced

`atomic_write` writes `NAME.tmp-PID` beside `path`, fsyncs it, renames it over `path` and fsyncs the folder
(a rename is durable only once its folder is), so `path` is always either the old file or the new one. It
does not create `path`'s folder: whoever owns the folder does (a run folder that vanished is an error, not
a new folder). A failed write (a full disk, an I/O error, a folder that is gone) removes its temporary file
and raises StorageError: one line naming the file and saying what to do.

For tests, `VANILLA_GAN_FAULT=NAME:MOMENT:N:ACTION` acts at the N-th write of a file named NAME (a glob) when
it reaches MOMENT: `partial` (half of it written: the temporary file, or an appended line), `written` (the
temporary file complete, before the rename) or `renamed` (before the folder's fsync). ACTION is `kill`
(SIGKILL this process), `pause` (stop it with SIGSTOP) or an errno name raised as OSError (`ENOSPC`, `EIO`).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from vanilla_gan.errors import StorageError

TEMP_MARK = ".tmp-"


def temp_path(path: Path) -> Path:
    """The temporary name this process writes `path` under."""
    return path.with_name(f"{path.name}{TEMP_MARK}{os.getpid()}")


def atomic_write(path: Path | str, data: bytes | Callable[[BinaryIO], object], durable: bool = True) -> Path:
    """Write `data` (bytes, or a function writing to a binary file) to `path` atomically; returns `path`.

    `durable=False` skips the fsyncs, for caches that may be lost in a crash.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                half = len(data) // 2
                f.write(data[:half])
                _fault(path, "partial", f)
                f.write(data[half:])
            else:
                data(f)
                _fault(path, "partial", f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        _fault(path, "written")
        os.replace(tmp, path)
        _fault(path, "renamed")
        if durable:
            fsync_folder(path.parent)
    except OSError as exc:
        _remove(tmp)
        raise StorageError(describe_write_error(path, exc)) from exc
    except BaseException:
        _remove(tmp)
        raise
    return path


def append_text(path: Path, text: str) -> None:
    """Append `text` (ending in a newline: one is added if not) to `path`, durably, before returning (a new
    file's folder is fsynced too, so the file itself survives a power loss)."""
    text = text if text.endswith("\n") else text + "\n"
    try:
        new = not path.exists()
        with open(path, "a", encoding="utf-8") as f:
            f.write(text[:len(text) // 2])
            _fault(path, "partial", f)
            f.write(text[len(text) // 2:])
            f.flush()
            os.fsync(f.fileno())
        if new:
            fsync_folder(path.parent)
    except OSError as exc:
        raise StorageError(describe_write_error(path, exc)) from exc


def make_folder(folder: Path) -> Path:
    """`folder` and its parents (for an output the user named), or StorageError saying why not."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(describe_write_error(Path(folder), exc)) from exc
    return Path(folder)


def fsync_folder(folder: Path) -> None:
    """Make the renames and new files in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def describe_write_error(path: Path, exc: OSError) -> str:
    """One line: which file, what went wrong, what to do."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        what = "the disk is full (no space left on the device); free some space"
    elif code == errno.ENOENT:
        what = f"its folder {path.parent} does not exist (any more)"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = f"{exc.strerror or 'not allowed'}: choose a folder you can write to"
    elif code == errno.EIO:
        what = "an input/output error (the disk may be failing)"
    else:
        what = exc.strerror or str(exc)
    return f"cannot write {path}: {what}; nothing else was changed, so the command can be run again"


def remove_stale_temps(*folders: Path) -> list[Path]:
    """Delete the temporary files (NAME.tmp-PID) in `folders` (not below them) whose writer process is gone."""
    removed = []
    for tmp in [p for folder in folders if Path(folder).is_dir() for p in Path(folder).glob(f"*{TEMP_MARK}*")]:
        pid = tmp.name.rsplit(TEMP_MARK, 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            _remove(tmp)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


# ----------------------------------------------------------------------------- the test-only fault hook

def _parse_fault(text: str | None) -> tuple[str, str, int, str] | None:
    try:
        name, moment, nth, action = (text or "").rsplit(":", 3)
        return name, moment, int(nth), action
    except ValueError:
        return None  # unset (or not of the test hook's form): no fault


_FAULT = _parse_fault(os.environ.get("VANILLA_GAN_FAULT"))
_fault_count = 0


def _fault(path: Path, moment: str, file: BinaryIO | None = None) -> None:
    """Act as VANILLA_GAN_FAULT says when `path` reaches `moment` (tests only; nothing happens without it)."""
    global _fault_count
    if _FAULT is None:
        return
    name, at, nth, action = _FAULT
    if at != moment or not fnmatch.fnmatch(path.name, name):
        return
    _fault_count += 1
    if _fault_count != nth:
        return
    if file is not None:
        file.flush()
        os.fsync(file.fileno())
    if action in ("kill", "pause"):
        os.kill(os.getpid(), signal.SIGKILL if action == "kill" else signal.SIGSTOP)
        return
    code = getattr(errno, action)
    raise OSError(code, os.strerror(code), str(path))
