"""The package's imports flow one way: errors/config -> data, the GAN -> the run folder -> training -> evaluation ->
reporting -> the Python API -> the command line. Parses every module's imports (function-local ones too) and
fails on a cycle, on an import of a higher layer, on a module no layer names, and on a function-local import of
the package's own modules (the usual way to hide a cycle). Run: python -m pytest tests/test_imports.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import vanilla_gan

PACKAGE = Path(vanilla_gan.__file__).parent

# Lowest first. A module may import modules of its own layer or below, never above; names ending in ".*"
# cover a subpackage. "vanilla_gan" is the package's __init__ (the public API), at the top.
LAYERS = [
    ["_version", "errors", "runs.schema", "fileio", "gan", "training", "runs", "evaluation", "api"],
    ["config"],
    ["data", "data.idx", "data.download", "data.arrays", "data.sources", "data.images", "gan.models", "gan.sampling",
     "gan.algorithm", "training.distributed", "training.process", "runs.checkpoint", "runs.shipped", "runs.lock",
     "cli.own_networks"],
    ["runs.runfolder", "runs.runlog", "runs.rundir"],
    ["training.optim", "training.cudagraph", "training.placement", "training.progress", "training.threads",
     "training.trainstate", "training.callbacks", "training.trainer"],
    ["evaluation.twosample", "evaluation.memorisation", "evaluation.classifier", "evaluation.metrics",
     "evaluation.evaluator"],
    ["report", "report.*", "runs.export"],
    ["api.run", "api.pretrained", "api.session", "api.train", "cli.common", "cli.options", "cli.sweep_plan"],
    ["cli", "cli.*", "__main__", "vanilla_gan"],
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "vanilla_gan"


def is_module(name: str) -> bool:
    """Whether vanilla_gan.`name` is a module or subpackage (not a name defined in one)."""
    where = PACKAGE.joinpath(*name.split("."))
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def imports(path: Path) -> tuple[set[str], list[str]]:
    """(the package's modules that `path` imports, the function-local ones as 'line N: module')."""
    tree = ast.parse(path.read_text(), str(path))
    local_lines = {node.lineno for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))}
    found, local = set(), []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from vanilla_gan.data import download`: a submodule; `from vanilla_gan.data import load_dataset`: data
            targets = [f"{node.module}.{alias.name}" if is_module(f"{node.module}.{alias.name}".partition(".")[2])
                       else node.module for alias in node.names]
        for target in targets:
            if target != "vanilla_gan" and not target.startswith("vanilla_gan."):
                continue
            name = target[len("vanilla_gan."):] if target != "vanilla_gan" else "vanilla_gan"
            found.add(name)
            if node.lineno in local_lines:
                local.append(f"line {node.lineno}: {name}")
    return found, local


def layer_of(name: str) -> int:
    for i, layer in enumerate(LAYERS):
        if name in layer or any(p.endswith(".*") and name.startswith(p[:-1]) for p in layer):
            return i
    raise AssertionError(f"vanilla_gan.{name} is in no layer: add it to LAYERS in tests/test_imports.py")


def graph() -> dict[str, set[str]]:
    """Each module's imports of the package's modules; fails on a function-local one."""
    edges = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        found, local = imports(path)
        assert not local, f"{path}: function-local imports of the package ({local}); import at the top"
        edges[name] = found - {name}
    return edges


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return [f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
            for a, targets in edges.items() for b in sorted(targets) if layer_of(b) > layer_of(a)]


def cycles(edges: dict[str, set[str]]) -> list[str]:
    """Every import cycle found by a depth-first search, as 'a -> b -> a'."""
    state: dict[str, str] = {}
    found = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(" -> ".join([*path[path.index(nxt):], node, nxt] if nxt in path else [node, nxt]))
            elif nxt not in state:
                visit(nxt, [*path, node])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    return found


def test_every_module_is_in_a_layer_and_imports_nothing_above_it():
    assert upward_imports(graph()) == []


def test_there_is_no_import_cycle():
    assert cycles(graph()) == []


def test_the_guard_catches_a_cycle_an_upward_import_and_a_hidden_import(tmp_path, monkeypatch):
    """The checks above can fail: a made-up package with all three faults is caught."""
    fake = tmp_path / "vanilla_gan"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "config.py").write_text("from vanilla_gan import cli\n")  # upward
    (fake / "cli.py").write_text("import vanilla_gan.config\n\ndef f():\n    from vanilla_gan import errors\n")
    (fake / "errors.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    edges = {module_name(p): imports(p)[0] for p in fake.rglob("*.py")}
    assert edges["config"] == {"cli"} and edges["cli"] == {"config", "errors"}
    assert upward_imports(edges) == ["config (layer 1) imports cli (layer 8)"]
    assert cycles(edges) == ["cli -> config -> cli"]
    assert imports(fake / "cli.py")[1] == ["line 4: errors"]
