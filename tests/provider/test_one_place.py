"""Issue 24: one decision, one place, read from the code itself (its syntax trees, not its behaviour).

- the plan and preflight are made by ``provider/assessment.py`` only;
- registration timestamps are parsed and formatted by ``provider/ledger.py`` only (the test clock and
  the windows keep their own instants), and a ``registration_calls`` value read from state or outputs
  goes straight into the ledger;
- the process's memory (``fleet.current()``) is reached by the engine adapter only;
- the pure modules import nothing that reads the environment, prints or holds process state.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "provider").rglob("*.py"), ROOT / "__main__.py"])
PURE = ("declaration", "inputs", "schedule", "windows", "planner", "safety", "lifecycle", "ledger", "compliance",
        "regions")
ISO = "%Y-%m-%dT%H:%M:%SZ"


@lru_cache(maxsize=1)
def _modules() -> dict[str, ast.Module]:
    return {path.relative_to(ROOT).as_posix(): ast.parse(path.read_text(encoding="utf-8")) for path in SOURCES}


def _called(tree: ast.AST, name: str) -> bool:
    """``name(...)`` or ``anything.name(...)`` is called somewhere in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == name) or (isinstance(func, ast.Attribute)
                                                                     and func.attr == name):
                return True
    return False


def _where(name: str) -> set[str]:
    return {module for module, tree in _modules().items() if _called(tree, name)}


def test_the_plan_and_preflight_are_made_in_the_assessment_only() -> None:
    planned = {module for module, tree in _modules().items() for node in ast.walk(tree)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "plan"
               and isinstance(node.func.value, ast.Name) and node.func.value.id == "planner"}
    assert planned == {"provider/assessment.py"}
    assert _where("preflight") == {"provider/assessment.py"}
    imported = {module for module, tree in _modules().items() for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("planner")
                and any(alias.name == "plan" for alias in node.names)}
    assert imported == set(), "planner.plan is called by its module name, so that the rule above sees every call"
    assert _where("on_delete") == {"provider/assessment.py"}, "the on-delete verdict is taken in one place"


# Modules that read or write instants that are not registration timestamps, and which ones.
OTHER_INSTANTS = {
    "provider/clock.py",  # the test clock's instant (WHATSAPP_TEST_NOW)
    "provider/zones.py",  # how a window's or a blackout's instant is shown
    "provider/blackouts.py",  # a blackout's local wall times
    "provider/wording.py",  # when Meta accepts calls again, as a person reads it
}


def test_registration_timestamps_are_parsed_and_formatted_by_the_ledger_only() -> None:
    texts = {module for module, tree in _modules().items() for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and node.value == ISO}
    assert "provider/ledger.py" in texts and texts <= {"provider/ledger.py", *OTHER_INSTANTS}
    for method in ("strptime", "strftime"):
        assert _where(method) <= {"provider/ledger.py", *OTHER_INSTANTS}, method


def _ledger_functions() -> set[str]:
    tree = _modules()["provider/ledger.py"]
    names = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    return names | {"format_time"}  # safety re-exports format_instant under its old name for the renderers


def test_a_registration_calls_value_read_from_state_goes_straight_into_the_ledger() -> None:
    ledger = _ledger_functions()
    found: list[tuple[str, str]] = []
    for module, tree in _modules().items():
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            reads_it = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                        and node.args and isinstance(node.args[0], ast.Constant)
                        and node.args[0].value == "registration_calls")
            if not reads_it:
                continue
            holder = parents.get(node)
            while isinstance(holder, (ast.BoolOp, ast.Tuple, ast.List)):
                holder = parents.get(holder)
            callee = holder.func if isinstance(holder, ast.Call) else None
            name = callee.attr if isinstance(callee, ast.Attribute) else callee.id if isinstance(callee, ast.Name) else ""
            if name not in ledger:
                found.append((module, ast.unparse(holder or node)))
    assert found == [], found


def test_the_process_memory_is_reached_by_the_engine_adapter_only() -> None:
    assert _where("current") == {"provider/resource.py"}
    assert _where("reset_process_state") == set()
    importers = {module for module, tree in _modules().items() for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("fleet")}
    assert importers == {"provider/resource.py"}


def test_the_pure_modules_import_no_process_state_environment_or_printing() -> None:
    impure = {"os", "sys", "fleet", "memory", "notices", "clock", "client", "executor", "runner", "requests"}
    for name in PURE:
        tree = _modules()[f"provider/{name}.py"]
        imported = {alias.name.split(".")[-1] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {(node.module or "").split(".")[-1] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module is None
                     for alias in node.names}
        assert not imported & impure, (name, imported & impure)
        assert not _called(tree, "print"), name


WINDOWS_CORE = ("windows", "blackouts", "gate")  # zones too, but --version names its database


def test_windows_are_reached_through_the_schedule_only() -> None:
    """The one spot where windows (and, next, blackouts through the gate) meet the assessment."""
    users = {module for module, tree in _modules().items() for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom)
             and ((node.module or "").split(".")[-1] in WINDOWS_CORE
                  or any(alias.name in WINDOWS_CORE for alias in node.names))}
    core = {f"provider/{name}.py" for name in WINDOWS_CORE}
    assert users - core == {"provider/schedule.py"}
