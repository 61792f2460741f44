"""The provider, driven by the engine (tests/engine.py), converges against an emulator that answers
storage statuses and regions in lower case (`--lowercase-statuses`), as Meta's Settings reference
and OpenAPI spec show them (issue 30, item 4): a number adopted as it is, one changed and read
back, and then nothing left to do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.harness import Emulator, start_emulator
from emulator.seed import DEMO_PIN, REGISTERED_BR, UNREGISTERED
from tests.calllog import post_edges
from tests.engine import Engine
from tests.protocol.support import live_storage, succeeded


@pytest.fixture(scope="module")
def lower() -> Iterator[Emulator]:
    with start_emulator(lowercase_statuses=True) as emu:
        yield emu


def program(region_br: str, region_unregistered: str) -> dict[str, dict[str, Any]]:
    return {"br": {"phone_number_id": REGISTERED_BR, "region": region_br, "pin": DEMO_PIN},
            "new": {"phone_number_id": UNREGISTERED, "region": region_unregistered, "pin": DEMO_PIN}}


def test_the_provider_converges_through_the_engine_when_meta_answers_lower_case(lower: Emulator) -> None:
    eng = Engine({"whatsapp:accessToken": lower.token, "whatsapp:graphApiUrl": lower.url,
                  "whatsapp:apiVersion": "v25.0"})
    # one number already where it is declared ("in_country_storage_enabled"/"br" on the wire), one
    # that needs settings and register, each read back in lower case
    steps = eng.up(program("BR", "IN"), skip_preview=True)
    succeeded(steps)
    assert (steps["br"].op, steps["br"].outputs["applied_steps"]) == ("create", [])
    assert steps["br"].outputs["region"] == "BR"
    assert steps["br"].outputs["storage_status"] == "IN_COUNTRY_STORAGE_ENABLED"
    assert steps["new"].outputs["applied_steps"] == ["settings", "register"]
    assert steps["new"].outputs["region"] == "IN" and steps["new"].outputs["registered"] is True
    assert post_edges(lower.calls()) == ["settings", "register"]
    assert live_storage(lower, UNREGISTERED) == "IN"
    read = [c for c in lower.calls() if c["method"] == "GET" and c["path"] == f"/{REGISTERED_BR}/settings"]
    assert read, "the provider read the lower-case settings"

    # converged: a refresh finds nothing changed and makes no mutating call
    lower.clear_calls()
    assert {name: s.op for name, s in eng.refresh(preview_only=True).items()} == {"br": "same", "new": "same"}
    assert post_edges(lower.calls()) == []
