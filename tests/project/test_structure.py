"""Issue 25: the shape of the code, checked. Read with ``ast``, nothing is imported or run.

- no module of ``provider/`` or ``emulator/`` over 450 lines, no class over 200 lines (from its
  ``class`` line to its last line), no import cycle, ``TYPE_CHECKING`` and function-level imports
  counted;
- ``provider.MODULES`` names every module of ``provider/``: the extension contract is code, and a
  module nobody listed is one a newcomer adding a resource kind would not know to look at;
- docs/extending.md ("Adding a resource kind") names at most five files, and every module that ``MODULES``
  says a new kind always edits.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

import provider

# One worker parses every module once (the trees are cached), instead of once per worker.
pytestmark = pytest.mark.xdist_group("structure")

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("provider", "emulator")
MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 200

# No allowances: every module, class and import of both packages keeps the limits. A violation a
# refactor in flight must carry goes here, commented, and an entry that no longer violates fails the
# test, to be removed.
ALLOWED_LONG_MODULES: set[str] = set()
ALLOWED_LONG_CLASSES: set[str] = set()
ALLOWED_CYCLES: set[frozenset[str]] = set()


def _files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the checked packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


FILES = _files()


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(FILES[module].read_text())


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The checked modules an import statement loads (``from . import x`` is module ``x`` when one exists)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = module if FILES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        package = ".".join(p for p in (base if node.level else "", node.module or "") if p)
        targets = [f"{package}.{alias.name}" if f"{package}.{alias.name}" in FILES else package for alias in node.names]
    return [target for target in targets if target in FILES and target != module]


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in FILES:
        nodes = ast.walk(_tree(module))
        graph[module] = {target for node in nodes if isinstance(node, (ast.Import, ast.ImportFrom))
                         for target in _imported(module, node)}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_provider_or_emulator_is_over_450_lines() -> None:
    long = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in FILES.values()}
    long = {name: lines for name, lines in long.items() if lines > MAX_MODULE_LINES}
    assert set(long) - ALLOWED_LONG_MODULES == set(), f"over {MAX_MODULE_LINES} lines: {long}"
    assert ALLOWED_LONG_MODULES - set(long) == set(), "no longer too long: remove from ALLOWED_LONG_MODULES"


def test_no_class_of_provider_or_emulator_is_over_200_lines() -> None:
    long = {}
    for module in FILES:
        for node in ast.walk(_tree(module)):
            if isinstance(node, ast.ClassDef) and (node.end_lineno or 0) - node.lineno + 1 > MAX_CLASS_LINES:
                long[f"{module}.{node.name}"] = (node.end_lineno or 0) - node.lineno + 1
    assert set(long) - ALLOWED_LONG_CLASSES == set(), f"over {MAX_CLASS_LINES} lines: {long}"
    assert ALLOWED_LONG_CLASSES - set(long) == set(), "no longer too long: remove from ALLOWED_LONG_CLASSES"


def test_no_import_cycle_counting_type_checking_and_function_level_imports() -> None:
    graph = _import_graph()
    assert "provider.errors" in graph["provider.failures"] and "provider.wording" in graph["provider.errors"]
    cycles = set(_cycles(graph))
    new = [sorted(cycle) for cycle in cycles - ALLOWED_CYCLES]
    assert new == [], f"import cycles: {new}; edges: " + "; ".join(
        f"{a} -> {b}" for cycle in new for a in cycle for b in sorted(graph[a] & set(cycle)))
    assert ALLOWED_CYCLES - cycles == set(), "no longer a cycle: remove from ALLOWED_CYCLES"


def test_the_cycle_finder_sees_a_cycle_through_a_type_checking_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [frozenset({"a", "b", "c"})]
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .graph import ApiRequest\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level)
    assert _imported("emulator.flows", node) == ["emulator.graph"]


def test_every_module_of_the_provider_package_is_named_in_its_module_table() -> None:
    modules = {name.removeprefix("provider.") for name in FILES if name.startswith("provider.")}
    missing = sorted(modules - set(provider.MODULES))
    assert missing == [], "add to MODULES in provider/__init__.py:\n" + "\n".join(
        f'    "{name}": Module("<what it owns>", "<what a new resource kind does there, or leave it out>"),'
        for name in missing)
    gone = sorted(set(provider.MODULES) - modules)
    assert gone == [], f"MODULES in provider/__init__.py names modules that do not exist: {gone}"


def _design_note() -> str:
    return (ROOT / "docs" / "extending.md").read_text()  # the README links to it


def test_the_design_note_places_a_new_resource_kind_in_at_most_five_files_the_module_table_agrees_with() -> None:
    rows = re.findall(r"^\| `([\w/.]+\.py)`( \(new\))? \|", _design_note(), re.M)
    assert 0 < len(rows) <= 5, rows
    for path, new in rows:
        assert (ROOT / path).exists() != bool(new), f"{path}: {'built already' if new else 'no such file'}"
    named = {path.removeprefix("provider/").removesuffix(".py").replace("/", ".") for path, new in rows
             if not new and path.startswith("provider/") and not path.endswith("__init__.py")}
    always = {name for name, module in provider.MODULES.items()
              if module.new_kind and not module.new_kind.startswith("if ")}
    assert named == always, "docs/extending.md and MODULES' new_kind column disagree"
