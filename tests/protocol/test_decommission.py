"""Decommission on purpose (issue 27, item 3): ``WHATSAPP_DISABLE_ON_DELETE`` through the engine.

A plain ``pulumi destroy`` runs on the configuration saved in state, which still lists the numbers,
so ``on_delete: disable`` alone makes no call. The consent of the person running the command,
in the command's environment, names the numbers that go; every preflight rule still applies, and a
consented disable that preflight refuses fails its Delete, so the resource stays in state.
"""

from __future__ import annotations

import json

from emulator.seed import REGISTERED_BR, REGISTERED_DEFAULT
from tests.calllog import post_edges
from tests.protocol.test_change_windows import INSIDE, WEDNESDAY_NOON, WINDOW, Clock, engine, res
from tests.engine import Engine
from tests.reliability_report import InProcessProvider, engine_config, registered, storage_of

NUMBERS_KEY = "whatsapp-local-storage:phoneNumbers"
CONSENT = "WHATSAPP_DISABLE_ON_DELETE"
BR_STORAGE = {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "BR"}}


def test_consent_makes_a_plain_destroy_disable_exactly_the_named_number_and_only_inside_its_window(emulator, tmp_path):
    emulator.patch(REGISTERED_DEFAULT, settings=BR_STORAGE)  # two numbers in BR
    clock = Clock(tmp_path / "now", WEDNESDAY_NOON)
    eng = engine(emulator, clock, [WINDOW])
    eng.skip_preview = True
    program = {n: res(n, "BR", on_delete="disable", cutover_windows=[WINDOW]) for n in (REGISTERED_BR, REGISTERED_DEFAULT)}
    eng.config[NUMBERS_KEY] = json.dumps({n: {"region": "BR"} for n in program})
    assert all(s.error is None for s in eng.up(program).values())
    emulator.clear_calls()

    eng.env[CONSENT] = REGISTERED_BR  # outside the window: the consented disable is refused, zero calls
    steps = eng.destroy(parallel=1)
    error = steps[REGISTERED_BR].error
    assert error is not None and "no call was made" in error.last_line and "outside its change windows" in error.last_line
    assert post_edges(emulator.calls()) == []
    assert REGISTERED_BR in eng.state, "never dropped undisabled"
    stderr = eng.last_stderr

    clock.set(INSIDE)
    steps = eng.destroy(parallel=1)
    assert all(s.error is None for s in steps.values()), {n: s.error for n, s in steps.items()}
    assert eng.state == {}
    assert post_edges(emulator.calls(), REGISTERED_BR) == ["deregister", "settings", "register"]
    assert storage_of(emulator.number(REGISTERED_BR)) == "DEFAULT" and registered(emulator.number(REGISTERED_BR))
    assert post_edges(emulator.calls(), REGISTERED_DEFAULT) == [], "not named: retained, no call"
    assert storage_of(emulator.number(REGISTERED_DEFAULT)) == "BR"
    assert f"{REGISTERED_DEFAULT}: not disabled, no call made" in stderr + eng.last_stderr
    assert f"{CONSENT}=" in stderr + eng.last_stderr, "the no-call message names the variable"


def test_a_consent_that_is_not_a_list_of_ids_fails_the_delete_naming_the_variable(emulator, monkeypatch):
    # the provider in this process (the sequence is the engine's): it reads this process's environment
    eng = Engine(engine_config(emulator), blob="in-process", provider=InProcessProvider, skip_preview=True)
    eng.config[NUMBERS_KEY] = json.dumps({REGISTERED_BR: {"region": "BR"}})
    assert eng.up({"n": res(REGISTERED_BR, "BR", on_delete="disable")})["n"].error is None
    emulator.clear_calls()

    monkeypatch.setenv(CONSENT, "*")
    error = eng.destroy()["n"].error
    assert error is not None and CONSENT in error.last_line and "no wildcard" in error.last_line
    assert post_edges(emulator.calls()) == [] and "n" in eng.state


def test_a_freeze_merged_since_the_last_up_holds_a_consented_destroy_that_runs_the_program(emulator, tmp_path):
    """The README's decommission command adds --run-program: a plain destroy runs on the configuration
    the last up saved, which has no freeze merged since; with the program run, the freeze holds."""
    from tests.protocol.test_blackouts import BLACKOUTS_KEY, FREEZE, IN_FREEZE

    clock = Clock(tmp_path / "now", IN_FREEZE)  # inside the window and inside the freeze
    eng = engine(emulator, clock, [WINDOW])
    eng.skip_preview = True
    program = {REGISTERED_BR: res(REGISTERED_BR, "BR", on_delete="disable", cutover_windows=[WINDOW])}
    eng.config[NUMBERS_KEY] = json.dumps({REGISTERED_BR: {"region": "BR"}})
    assert eng.up(program)[REGISTERED_BR].error is None
    emulator.clear_calls()

    eng.config[BLACKOUTS_KEY] = json.dumps([FREEZE])  # merged after that up
    eng.env[CONSENT] = REGISTERED_BR
    error = eng.destroy(run_program=True, program=program, parallel=1)[REGISTERED_BR].error
    assert error is not None and 'blackout "year-end freeze"' in error.last_line, error
    assert post_edges(emulator.calls()) == [] and REGISTERED_BR in eng.state
