"""The code's shape: no import circle among the lab's modules, and modules of one concern stay small."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("config", "worker", "producer")
#: One concern per module: a module past this many lines is doing two things.
MAX_LINES = 300


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _top_level_imports(path: Path, known: set[str]) -> set[str]:
    """Project modules imported when ``path`` is imported (module level only; imports inside functions are lazy)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(name for name in names if name in known)
    return found


def test_no_import_circle() -> None:
    modules = _modules()
    graph = {name: _top_level_imports(path, set(modules)) - {name} for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dependency in sorted(graph[name]):
            if state.get(dependency) == 1:
                cycle = [*stack[stack.index(dependency) :], dependency]
                raise AssertionError("import circle: " + " → ".join(cycle))
            if dependency not in state:
                visit(dependency)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_modules_stay_small() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    too_big = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_big, f"modules over {MAX_LINES} lines: {too_big}"
