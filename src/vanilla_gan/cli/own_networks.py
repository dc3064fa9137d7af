"""Rebuilding a user's own network on the command line: `--generator MODULE:CLASS`.

    G = import_network("mynets:SmallGenerator")   # imports mynets, builds SmallGenerator() with no arguments

A run trained with its own generator records the class's path in its checkpoint (`checkpoint.class_name`).
The command line never imports what a checkpoint names by itself (a run folder may come from a stranger):
the user names the class with `--generator`, and its weights are loaded into the instance built here.
"""

from __future__ import annotations

import importlib
import sys

from torch import nn

from vanilla_gan.errors import UsageError


def import_network(spec: str, option: str = "--generator") -> nn.Module:
    """An instance of the nn.Module class `spec` names: "package.module:Class" (or "package.module.Class"),
    built with no arguments. The current folder is searched first, as `python -m` does."""
    module_name, _, qualname = spec.partition(":") if ":" in spec else spec.rpartition(".")
    if not module_name or not qualname:
        raise UsageError(f"{option} {spec}: name a class as MODULE:CLASS, e.g. {option} mynets:SmallGenerator")
    if module_name == "__main__":
        raise UsageError(f"{option} {spec}: a class defined in a script or notebook (__main__) cannot be imported; "
                         f"move it into a module file (e.g. mynets.py) and pass {option} mynets:{qualname}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        target = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"{option} {spec}: cannot import it ({exc}); run from the folder that holds the module, "
                         f"or add that folder to PYTHONPATH") from None
    if not (isinstance(target, type) and issubclass(target, nn.Module)):
        raise UsageError(f"{option} {spec}: names {type(target).__name__} {qualname!r}, not a torch.nn.Module class")
    try:
        return target()
    except TypeError as exc:
        raise UsageError(f"{option} {spec}: {qualname}() cannot be built with no arguments ({exc}); give its "
                         f"arguments defaults, or load the run from Python with vanilla_gan.load(RUN, "
                         f"generator={qualname}(...))") from None
