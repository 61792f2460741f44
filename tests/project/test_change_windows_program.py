"""The stack program and change windows: each resource gets its number's windows (its own, else the
stack's) as its ``cutover_windows`` input, and malformed windows stop the program before any resource."""

from __future__ import annotations

import json

from emulator.seed import REGISTERED_BR, REGISTERED_DEFAULT
from tests.project.program import numbers_config, run_program

WINDOWS_KEY = "whatsapp-local-storage:cutoverWindows"


def test_each_resource_gets_its_own_windows_else_the_stacks_as_an_input():
    config = {**numbers_config({
        REGISTERED_BR: {"region": "BR"},
        REGISTERED_DEFAULT: {"region": "DEFAULT", "cutoverWindows": ["wed 23:00-01:00 Asia/Kolkata"]},
    }), WINDOWS_KEY: json.dumps(["Sun 03:00-05:00 Europe/Berlin"])}

    result = run_program(config)

    assert result["error"] is None
    windows = {r["name"]: r["inputs"].get("cutover_windows") for r in result["resources"]}
    assert windows == {REGISTERED_BR: ["Sun 03:00-05:00 Europe/Berlin"],
                       REGISTERED_DEFAULT: ["Wed 23:00-01:00 Asia/Kolkata"]}
    unset = run_program(numbers_config({REGISTERED_BR: {"region": "BR"}}))
    assert "cutover_windows" not in unset["resources"][0]["inputs"], "no windows: cutovers at any time"


def test_malformed_windows_stop_the_program_before_any_resource_with_every_problem():
    config = {**numbers_config({REGISTERED_BR: {"region": "BR", "cutoverWindows": ["Sun 03:00-05:00 Mars/Base"]}}),
              WINDOWS_KEY: json.dumps(["Sun 02:00-04:00 Europe/Berlin"])}

    result = run_program(config)

    assert result["resources"] == []
    message = result["error"]["message"]
    assert "cutoverWindows[0]: Sun 02:00-04:00 Europe/Berlin opens at a time the clocks skip" in message
    assert f'phoneNumbers["{REGISTERED_BR}"].cutover_windows' in message and "'Mars/Base' is not an IANA" in message


BLACKOUTS_KEY = "whatsapp-local-storage:cutoverBlackouts"
FREEZE = {"from": "2026-11-27T00:00", "to": "2026-11-30T00:00", "zone": "America/New_York", "reason": "Black Friday freeze"}
OWN = {"from": "2026-12-24T00:00", "to": "2026-12-27T00:00", "zone": "Asia/Kolkata", "reason": "branch closing"}


def test_each_resource_gets_the_stacks_blackouts_and_its_own_as_an_input():
    config = {**numbers_config({
        REGISTERED_BR: {"region": "BR"},
        REGISTERED_DEFAULT: {"region": "DEFAULT", "cutoverBlackouts": [{**OWN, "reason": "  branch closing "}]},
    }), BLACKOUTS_KEY: json.dumps([FREEZE])}

    result = run_program(config)

    assert result["error"] is None
    blackouts = {r["name"]: r["inputs"].get("cutover_blackouts") for r in result["resources"]}
    assert blackouts == {REGISTERED_BR: [FREEZE], REGISTERED_DEFAULT: [FREEZE, OWN]}


def test_a_malformed_stack_blackout_stops_the_program_naming_it():
    config = {**numbers_config({REGISTERED_BR: {"region": "BR"}}), BLACKOUTS_KEY: json.dumps([{**FREEZE, "zone": "EST"}])}

    result = run_program(config)

    assert result["resources"] == []
    assert "cutoverBlackouts[0].zone" in result["error"]["message"]
