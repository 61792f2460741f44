"""Issue 25.4: the type check of the tests cannot quietly regress into a check of nothing.

``scripts/test`` runs mypy once, on ``[tool.mypy]`` in pyproject.toml: ``--strict`` for the package and
the emulator, every body of the tests checked. An error is fixed in the code (or, where a test passes
a wrong type on purpose, ignored on that line with its code named), never switched off for a module or
an error code; an import mypy cannot read is skipped only for a named third-party package that really
ships no type hints. Read from the files; mypy itself runs in ``scripts/test``, before pytest.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("provider", "emulator", "tests")
# mypy reads the first of these it finds, before pyproject.toml: one would silently replace [tool.mypy]
OTHER_CONFIG_FILES = ("mypy.ini", ".mypy.ini", "setup.cfg")
# Switches that stop errors from being reported, by module or by kind
SILENCING = ("ignore_errors", "disable_error_code", "follow_imports")


def _config() -> dict[str, Any]:
    mypy: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    return mypy


def _overrides() -> list[dict[str, Any]]:
    overrides: list[dict[str, Any]] = _config().get("overrides", [])
    return overrides


def _modules(override: dict[str, Any]) -> list[str]:
    module = override["module"]
    return [module] if isinstance(module, str) else list(module)


def test_one_configuration_checks_the_package_strictly_and_the_tests_too() -> None:
    config = _config()
    assert config.get("strict") is True
    assert {"provider", "emulator", "tests"} <= set(config["files"])
    present = [name for name in OTHER_CONFIG_FILES
               if (ROOT / name).exists() and re.search(r"^\[mypy", (ROOT / name).read_text(), re.M)]
    assert present == [], f"{present} would replace [tool.mypy] in pyproject.toml"
    runs = [line for line in (ROOT / "scripts" / "test").read_text().splitlines() if "-m mypy" in line]
    assert runs and all(re.fullmatch(r"\S*python -m mypy(\s+--\S+)*", line.strip()) for line in runs), \
        f"scripts/test runs mypy on [tool.mypy]'s files, not on a narrower list: {runs}"
    assert not any("--config-file" in line or "--ignore" in line for line in runs), runs


def test_no_module_and_no_error_code_is_switched_off() -> None:
    for scope in [_config(), *_overrides()]:
        switched = [key for key in SILENCING if key in scope]
        assert switched == [], f"{scope.get('module', '[tool.mypy]')}: {switched}: fix the code instead"


def test_the_package_is_never_relaxed_and_the_tests_bodies_are_always_checked() -> None:
    for override in _overrides():
        first_party = [m for m in _modules(override) if m.split(".")[0] in ("provider", "emulator")]
        assert first_party == [], f"{first_party}: the package and the emulator stay --strict"
        if any(m.split(".")[0] == "tests" for m in _modules(override)):
            assert override.get("check_untyped_defs") is True, "every test body is type-checked"
    assert "check_untyped_defs" not in _config() or _config()["check_untyped_defs"] is True


def test_missing_imports_are_ignored_only_for_named_packages_that_ship_no_type_hints() -> None:
    assert "ignore_missing_imports" not in _config(), "never for every package"
    ignored = [override for override in _overrides() if override.get("ignore_missing_imports")]
    assert ignored, "the grpc, protobuf, dill and tzdata overrides are read"
    for override in ignored:
        for module in _modules(override):
            package = module.removesuffix(".*")
            assert re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", package), f"{module}: name the package"
            assert package.split(".")[0] not in FIRST_PARTY, f"{module}: our own code is typed"
            spec = importlib.util.find_spec(package)
            assert spec is not None and spec.submodule_search_locations, f"{package}: not an installed package"
            typed = [place for place in spec.submodule_search_locations if (Path(place) / "py.typed").exists()]
            assert typed == [], f"{package} ships type hints now: remove its ignore_missing_imports override"


def test_each_ignored_package_says_why_it_is_untyped() -> None:
    blocks = re.split(r"^\[\[tool\.mypy\.overrides\]\]\n", (ROOT / "pyproject.toml").read_text(), flags=re.M)[1:]
    for block in blocks:
        block = block.split("\n[", 1)[0]
        if re.search(r"^ignore_missing_imports\s*=\s*true", block, re.M):
            assert re.search(r"^#\s*\S", block, re.M), f"say why this package has no type hints:\n{block}"


def test_every_type_ignore_in_the_tests_names_its_error_code() -> None:
    """A bare type-ignore comment hides every error of its line, those of a later edit too."""
    bare = [f"{path.relative_to(ROOT)}:{number}"
            for path in sorted((ROOT / "tests").rglob("*.py"))
            for number, line in enumerate(path.read_text().splitlines(), 1)
            if re.search(r"#\s*type:\s*ignore(?!\[)", line)]
    assert bare == []
