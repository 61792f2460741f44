"""Blackouts and an empty window list through the engine protocol (issue 26, items 1 and 5).

The clock is the provider process's (``WHATSAPP_TEST_NOW=@FILE``), moved between commands. Dates:
2026-12-13 is a Sunday; Europe/Berlin is UTC+1 in December, so ``Sun 03:00-05:00 Europe/Berlin``
is 02:00-04:00 UTC. The blackout below holds 03:00-03:45 Berlin time (02:00-02:45 UTC) of that
Sunday: inside the window, a cutover must wait for its end.
"""

from __future__ import annotations

import json
from typing import Any

from emulator.seed import REGISTERED_BR, UNREGISTERED
from tests.calllog import post_edges
from tests.engine import Engine
from tests.protocol.test_change_windows import WINDOW, Clock, adopted, engine, res
from tests.reliability_report import InProcessProvider, engine_config, registered, storage_of

BLACKOUTS_KEY = "whatsapp-local-storage:cutoverBlackouts"
FREEZE = {"from": "2026-12-13T03:00", "to": "2026-12-13T03:45", "zone": "Europe/Berlin", "reason": "year-end freeze"}
IN_FREEZE, AFTER_FREEZE = "2026-12-13T02:30:00Z", "2026-12-13T02:50:00Z"


def quick(eng: Engine) -> Engine:
    """--skip-preview: these tests are about the provider's own rules in Update (a preview adds a process)."""
    eng.skip_preview = True
    return eng


def with_stack_blackouts(eng: Engine, blackouts: list[dict[str, str]]) -> Engine:
    eng.config[BLACKOUTS_KEY] = json.dumps(blackouts)  # structured stack config reaches Configure as JSON text
    return eng


def test_a_stack_blackout_refuses_a_cutover_inside_its_window_with_zero_calls_and_lifts_at_its_end(emulator, tmp_path):
    """The resource is declared in code (no cutover_blackouts input): the stack's blackouts reach
    the provider through configure, and beat the open window."""
    clock = Clock(tmp_path / "now", IN_FREEZE)
    eng = quick(with_stack_blackouts(engine(emulator, clock, [WINDOW]), [FREEZE]))
    adopted(eng, {"n": res(REGISTERED_BR, "BR")})
    emulator.clear_calls()

    error = eng.up({"n": res(REGISTERED_BR, "IN")})["n"].error

    assert error is not None, "inside the window, but inside the blackout"
    line = error.last_line
    assert "no call was made" in line and 'blackout "year-end freeze"' in line
    assert "lasts until 2026-12-13T02:45:00Z" in line, line
    assert post_edges(emulator.calls()) == []
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR" and registered(emulator.number(REGISTERED_BR))

    clock.set(AFTER_FREEZE)  # the same plan after the blackout, still inside the window: it runs
    steps = eng.up({"n": res(REGISTERED_BR, "IN")})
    assert steps["n"].error is None, steps["n"].error
    assert steps["n"].outputs["applied_steps"] == ["deregister", "settings", "register"]


def in_process(emulator: Any, monkeypatch: Any) -> Engine:
    """The engine's sequences with the provider in this process (its clock from this environment):
    for rules already shown through ``python -m pulumi.dynamic`` above."""
    monkeypatch.setenv("WHATSAPP_TEST_NOW", IN_FREEZE)
    return Engine(engine_config(emulator), blob="in-process", provider=InProcessProvider, skip_preview=True)


def test_a_numbers_own_blackout_adds_to_no_windows_and_a_plan_that_stays_online_still_runs(emulator, monkeypatch):
    eng = in_process(emulator, monkeypatch)  # no windows: any time but the blackout
    adopted(eng, {"n": res(REGISTERED_BR, "BR")})
    emulator.clear_calls()

    online = eng.up({"n": res(REGISTERED_BR, "BR"), "u": res(UNREGISTERED, "BR", cutover_blackouts=[FREEZE])})
    assert online["u"].error is None, "settings and register of an offline number take nothing offline"
    assert post_edges(emulator.calls(), UNREGISTERED) == ["settings", "register"]

    steps = eng.up({"n": res(REGISTERED_BR, "IN", cutover_blackouts=[FREEZE]),
                    "u": res(UNREGISTERED, "BR", cutover_blackouts=[FREEZE])})
    assert steps["n"].error is not None and 'blackout "year-end freeze"' in steps["n"].error.last_line
    assert post_edges(emulator.calls(), REGISTERED_BR) == []


def test_a_malformed_stack_blackout_fails_check_naming_the_setting(emulator, monkeypatch):
    eng = with_stack_blackouts(in_process(emulator, monkeypatch), [{**FREEZE, "zone": "EST"}])

    steps = eng.check({"n": res(REGISTERED_BR, "BR")})

    error = steps["n"].error
    assert error is not None and "cutover_blackouts" in str(error.details) and BLACKOUTS_KEY in str(error.details)
    assert "America/New_York" in str(error.details)


