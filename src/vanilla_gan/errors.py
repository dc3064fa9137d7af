"""Exceptions that reach the user as one `error:` line (caught once, in cli.py).

Raise `UsageError` for bad usage or input (exit status 2) and `VanillaGanError` for other failures
(exit status 1). The message is the whole line the user sees: say what is wrong and what to do.
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
