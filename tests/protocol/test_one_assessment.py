"""Issue 24: the resource's diff, create, update and delete each decide through the one assessment,
as the engine drives them (``tests/engine.py`` with the provider class in this process, so that the
assessment can be watched)."""

from __future__ import annotations

import json

import pytest

from emulator.harness import Emulator
from emulator.seed import DEMO_PIN, REGISTERED_BR
from tests.assessed import record_assessments
from tests.reliability_report import engine_config, in_process_engine, registered, storage_of


def test_the_resources_diff_create_update_and_delete_each_go_through_the_one_assessment(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_assessments(monkeypatch)
    # an empty phoneNumbers map: the stack no longer declares the number, so on_delete: disable applies
    eng = in_process_engine({**engine_config(emulator), "whatsapp-local-storage:phoneNumbers": json.dumps({})})
    number = {"phone_number_id": REGISTERED_BR, "region": "BR", "pin": DEMO_PIN, "on_delete": "disable"}

    assert eng.up({"n": number})["n"].op == "create"
    assert "resource.create" in seen.callers
    seen.clear()
    assert eng.up({"n": {**number, "region": "IN"}})["n"].op == "update"
    assert {"resource.diff", "resource.update"} <= seen.callers
    seen.clear()
    assert eng.destroy()["n"].op == "delete"
    assert seen.callers == {"resource.delete"}
    assert len(seen.calls) >= 2, "the verdict before reading, then the disable's own assessment"
    record = emulator.number(REGISTERED_BR)
    assert registered(record) and storage_of(record) == "DEFAULT", "the delete disabled it as assessed"
