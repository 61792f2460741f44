"""docs/extending.md, the design note for a second resource kind (issue 25 item 2), names every
module that ``provider.MODULES`` says a new kind touches only in some case ("if ..."); the modules
it always touches are checked by tests/project/test_structure.py."""

from __future__ import annotations

from pathlib import Path

from provider import MODULES

ROOT = Path(__file__).resolve().parents[2]
NOTE = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")


def _path(module: str) -> str:
    parts = Path("provider", *module.split("."))
    return f"{parts}/__init__.py" if (ROOT / parts).is_dir() else f"{parts}.py"


def test_every_module_a_new_kind_touches_only_if_needed_is_named_under_only_if_needed() -> None:
    conditional = NOTE.split("**Only if needed**", 1)[1].split("\n\n", 1)[0]
    cases = {module: entry.new_kind for module, entry in MODULES.items() if entry.new_kind.startswith("if ")}
    assert cases, "MODULES names no conditional module: drop this paragraph and this test"
    missing = {module: case for module, case in cases.items() if f"`{_path(module)}`" not in conditional}
    assert missing == {}
