"""docs/reference.md cannot drift from the code (issue 31, item 2): its Argument reference is
checked against the inputs' schema (``provider/declaration.py``), its Attribute reference against
the resource's outputs, and its configuration tables against every configuration key and
``WHATSAPP_*`` variable the code names."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

from provider import config, declaration
from provider.declaration import ECHO, INPUT_KEYS, OUTPUT_ONLY_KEYS, SECRET_KEYS, STACK_SPELLING, Declaration
from provider.resource import PhoneNumberStorage, PhoneNumberStorageArgs

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference.md"
CODE = [*sorted((ROOT / "provider").rglob("*.py")), ROOT / "__main__.py"]


def _rows(heading: str) -> dict[str, list[str]]:
    """The rows of the table under ``heading`` (until the next heading), by their first cell's name."""
    text = REFERENCE.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    section = re.split(r"\n#{2,3} ", text[start + len(heading) + 2:], maxsplit=1)[0]
    rows = {}
    for line in section.splitlines():
        if match := re.match(r"\| `([^`]+)` \|", line):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            assert match.group(1) not in rows, f"{match.group(1)} documented twice under {heading}"
            rows[match.group(1)] = cells
    return rows


def _literals(pattern: str) -> set[str]:
    return {m for path in CODE for m in re.findall(pattern, path.read_text(encoding="utf-8"))}


def _type(annotation: str) -> str:
    if "bool" in annotation:
        return "bool"
    if "tuple" in annotation:
        return "list of maps" if "Mapping" in annotation else "list of strings"
    return "string"


def test_the_argument_reference_documents_every_input_as_the_schema_declares_it() -> None:
    rows = _rows("## Argument reference")
    assert list(rows) == list(INPUT_KEYS), "document each input of Declaration, in its order"
    assert list(inspect.signature(PhoneNumberStorageArgs).parameters) == list(INPUT_KEYS)
    for field in dataclasses.fields(Declaration):
        _, stack, kind, required, default, secret, _on_change, description = rows[field.name]
        assert stack == (f"`{STACK_SPELLING[field.name]}`" if field.name in STACK_SPELLING else "(the entry's key)")
        assert kind == _type(str(field.type)), field.name
        assert secret == ("yes" if field.name in SECRET_KEYS else "no"), field.name
        if field.default is dataclasses.MISSING:
            assert (required, default) == ("required", "—"), field.name
        else:
            assert required != "required", field.name
            if isinstance(field.default, bool):
                assert default == f"`{str(field.default).lower()}`", field.name
            elif field.default is None:
                assert default == "none" or default.startswith("the stack's"), field.name
            else:
                assert default == f"`{field.default}`", field.name
        assert description, field.name
    assert rows["on_delete"][-1].count("`retain`") and rows["on_delete"][-1].count("`disable`")
    assert declaration.ON_DELETE == ("retain", "disable")


def test_the_attribute_reference_documents_every_output_and_only_those() -> None:
    rows = _rows("## Attribute reference")
    outputs = {*ECHO.values(), *OUTPUT_ONLY_KEYS, "region"}
    assert set(rows) == outputs
    assert set(PhoneNumberStorage.__annotations__) == outputs
    assert "declared_region" in rows["region"][-1] and "live" in rows["region"][-1]


def test_every_configuration_key_and_environment_variable_the_code_names_is_documented() -> None:
    stack = _rows("### Stack configuration")
    env_only = _rows("### Environment only")
    keys = _literals(r"[\"'](whatsapp(?:-local-storage)?:[A-Za-z]+)[\"']")
    assert set(stack) == keys
    variables = _literals(r"[\"'](WHATSAPP_[A-Z_]+)[\"']")
    documented = {cell.strip("`") for cells in stack.values() for cell in cells[1:2] if cell != "—"} | set(env_only)
    assert documented == variables
    for setting, (key, variable) in config.KEYS.items():
        assert stack[key][1] == f"`{variable}`", setting
    assert stack["whatsapp:graphApiUrl"][2] == f"`{config.DEFAULT_GRAPH_API_URL}`"
    assert stack["whatsapp:apiVersion"][2] == f"`{config.DEFAULT_API_VERSION}`"
    assert stack["whatsapp:maxConcurrentCutovers"][2] == f"`{config.ProviderConfig.__dataclass_fields__['max_concurrent_cutovers'].default}`"
    assert config.ALLOW_HOST_VAR in env_only
