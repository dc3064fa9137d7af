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
import json
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from vanilla_gan.errors import StorageError, UsageError

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
        # O_NOFOLLOW: a link planted at the temporary name is never written through
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644), "wb") as f:
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
        new = not os.path.lexists(path)
        # never through a link, never blocking on a FIFO (O_NONBLOCK), and only into a regular file
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            check_regular(path, os.fstat(fd))
            f.write(text[:len(text) // 2])
            _fault(path, "partial", f)
            f.write(text[len(text) // 2:])
            f.flush()
            os.fsync(f.fileno())
        if new:
            fsync_folder(path.parent)
    except OSError as exc:
        raise StorageError(describe_write_error(path, exc)) from exc


def check_regular(path: Path | str, status: os.stat_result) -> None:
    """UsageError unless `status` (of `path`) is a regular file: a FIFO or a device would block or never end."""
    if not stat.S_ISREG(status.st_mode):
        raise UsageError(f"{path} is {kind_of(status.st_mode)}, not a regular file: remove it (vanilla-gan writes "
                         f"only regular files there)")


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def read_bounded(path: Path | str, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them (UsageError for more, or for a FIFO or a
    device: neither can block (O_NONBLOCK) or fill the memory)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        status = os.fstat(fd)
        check_regular(path, status)
        if status.st_size > limit:
            raise UsageError(f"{path} is {status.st_size:,} bytes, more than such a file ever holds "
                             f"({limit:,}): it is damaged or not this package's")
        data = f.read(limit + 1)
    if len(data) > limit:  # grew meanwhile
        raise UsageError(f"{path} holds more than {limit:,} bytes: it is damaged or not this package's")
    return data


def parse_json(text: str | bytes) -> object:
    """json.loads whose every failure, deep nesting (RecursionError) included, is a ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None


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
    elif code == errno.ELOOP:
        what = "it is a symbolic link, which vanilla-gan never writes through: remove it"
    elif code == errno.ENXIO:
        what = "it is a FIFO or a device, not a regular file: remove it"
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
