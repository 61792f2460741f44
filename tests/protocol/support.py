"""Helpers the engine-protocol tests share, each with one meaning.

``live_storage`` and ``is_registered`` read the emulator's record of a number (by ID);
``tests/reliability_report`` has ``storage_of``/``registered`` for a record already fetched.
``succeeded`` asserts that the named steps of an ``Engine`` command ended without an error.
"""

from __future__ import annotations

from typing import Any

from emulator.harness import Emulator


def live_storage(emu: Emulator, number_id: str) -> str | None:
    """The number's storage in the emulator: its region, else its storage status."""
    conf = emu.number(number_id)["settings"].get("storage_configuration") or {}
    return conf.get("data_localization_region") or conf.get("status")


def is_registered(emu: Emulator, number_id: str) -> bool:
    return bool(emu.number(number_id)["platform_type"] == "CLOUD_API")


def succeeded(steps: dict[str, Any], *names: str) -> None:
    """Every named step (every step when none is named) ended without an error."""
    for name in names or tuple(steps):
        error = steps[name].error
        assert error is None, f"{name}: {error.details if error else ''}"
