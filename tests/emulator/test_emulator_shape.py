"""The emulator's shape (issue 25): no module over 450 lines, no class over 200, and no import
cycle among its modules, `TYPE_CHECKING` imports included (a type-only cycle still ties two
modules together: neither can be read, moved or tested without the other)."""

from __future__ import annotations

import ast
from pathlib import Path

EMULATOR = Path(__file__).resolve().parents[2] / "emulator"
MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 200


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(), str(path)) for path in sorted(EMULATOR.glob("*.py"))}


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The emulator modules `name` imports anywhere in its source, `if TYPE_CHECKING:` blocks included."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1:
                targets = [base] if base else [alias.name for alias in node.names]
            elif node.level == 0 and base.startswith("emulator."):
                targets = [base.split(".")[1]]
            elif node.level == 0 and base == "emulator":
                targets = [alias.name for alias in node.names]
            else:
                continue
            found.update(t.split(".")[0] for t in targets)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("emulator."))
    return (found & known) - {name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_no_emulator_module_is_longer_than_450_lines() -> None:
    long = {p.name: n for p in EMULATOR.glob("*.py") if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_emulator_class_is_longer_than_200_lines() -> None:
    long = {f"{name}.{node.name}": (node.end_lineno or node.lineno) - node.lineno + 1
            for name, tree in _modules().items() for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_CLASS_LINES}
    assert long == {}


def test_the_emulators_modules_import_each_other_without_a_cycle_type_only_imports_included() -> None:
    modules = _modules()
    graph = {name: _imports(name, tree, set(modules)) for name, tree in modules.items()}
    assert "request" in graph["graph"] and "request" in graph["flows"]  # the checker sees both kinds
    assert _cycle(graph) is None


def test_the_cycle_check_finds_a_type_only_cycle() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import X\n")
    back = ast.parse("from .a import Y\n")
    graph = {"a": _imports("a", tree, {"a", "b"}), "b": _imports("b", back, {"a", "b"})}
    assert _cycle(graph) == ["a", "b", "a"]
