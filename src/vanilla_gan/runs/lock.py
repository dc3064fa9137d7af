"""One writer per run folder: an fcntl lock on FOLDER/train.lock, which the kernel releases when the process
dies, however it dies, so a stale lock never blocks anyone.

    lock = FolderLock(Path("runs/a"))
    lock.acquire()        # UsageError naming the process that holds it, at once (never waits)
    ...
    lock.release()

The file holds the holder's PID (for the message). It is never deleted while in use: a process that opened it
before a deletion would lock a file no longer in the folder. Should that happen anyway, the lock taken is
checked against the file in the folder (their inodes) and refused.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from vanilla_gan.errors import UsageError
from vanilla_gan.fileio import check_regular, describe_write_error

LOCK_NAME = "train.lock"


class FolderLock:
    def __init__(self, folder: Path):
        self.folder, self.path = Path(folder), Path(folder) / LOCK_NAME
        self.fd: int | None = None
        self.created_folder = False

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self) -> None:
        """Take the lock (creating the folder), or raise UsageError naming the process that holds it."""
        if self.fd is not None:
            return
        try:
            self.created_folder = not self.folder.exists()
            self.folder.mkdir(parents=True, exist_ok=True)
            # never through a link (it would write our PID into its target), never blocking on a FIFO
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as exc:
            raise UsageError(describe_write_error(self.path, exc)) from exc
        try:
            check_regular(self.path, os.fstat(fd))
        except UsageError:
            os.close(fd)
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(self.path).st_ino:  # the file was replaced meanwhile
                raise BlockingIOError
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            holder = f"process {holder}" if holder.isdigit() and holder.isascii() else "another process"  # no escapes
            os.close(fd)
            if holder == f"process {os.getpid()}":
                raise UsageError(f"{self.folder} is held by another Trainer or session of this process: let it "
                                 f"finish, or call its close(), first") from None
            raise UsageError(f"{self.folder} is being trained by {holder}: wait for it to finish or stop "
                             f"it; two processes must not write one run folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        """Release the lock; a folder that `acquire` created and that holds nothing else is removed."""
        if self.fd is None:
            return
        try:
            if self.created_folder and [p.name for p in self.folder.iterdir()] == [LOCK_NAME]:
                self.path.unlink()
                self.folder.rmdir()
        except OSError:
            pass  # the folder vanished, or something was written into it meanwhile: leave it be
        fcntl.flock(self.fd, fcntl.LOCK_UN)  # before close: a forked child shares the open file
        os.close(self.fd)
        self.fd = None
