"""Exceptions that reach the user as one `error:` line (caught once, in cli.py), each with its exit status.

Raise `UsageError` for bad usage or input (exit status 2) and `VanillaGanError` for other failures
(exit status 1). The message is the whole line the user sees: say what is wrong and what to do. From
Python (`import vanilla_gan as vg`) the same types are raised, and exported as `vg.VanillaGanError`, ...
"""


class VanillaGanError(Exception):
    """A failure the user can act on; printed as `error: <message>`, exit status 1."""

    exit_code = 1


class UsageError(VanillaGanError):
    """Bad usage or bad input (an option, a data file, a checkpoint); exit status 2."""

    exit_code = 2


class DataError(UsageError):
    """A data file that is missing, truncated, corrupt or fails its checksum."""


class CheckpointError(UsageError):
    """A checkpoint that is missing, damaged or not a vanilla-gan checkpoint."""


class StorageError(VanillaGanError):
    """A file could not be written (disk full, I/O error, permissions, a vanished folder); exit status 1."""


class TrainingError(VanillaGanError):
    """Training failed: a loss turned NaN or infinite (the last good checkpoint is kept)."""


class Interrupted(VanillaGanError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint; the message says how to resume (exit 130)."""

    exit_code = 130
