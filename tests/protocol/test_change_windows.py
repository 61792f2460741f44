"""Change windows (docs/contract.md, "Change windows and blackouts"; issue 21) through the engine protocol.

The provider process is ``python -m pulumi.dynamic``, so its clock is set the one way the provider
offers: ``WHATSAPP_TEST_NOW`` in the CLI's environment, here ``@FILE`` so that a test moves the
clock between two commands, or in the middle of one. No test sleeps until a window.

Dates: 2026-12-09 is a Wednesday; Europe/Berlin is on CET (UTC+1) in December, so the window
``Sun 03:00-05:00 Europe/Berlin`` is 02:00-04:00 UTC on Sunday 2026-12-13.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable

from emulator import server as emulator_server
from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.calllog import number_of, post_edges, posts
from tests.engine import Engine
from tests.reliability_report import engine_config, registered, storage_of

WINDOW = "Sun 03:00-05:00 Europe/Berlin"
WEDNESDAY_NOON = "2026-12-09T12:00:00Z"
INSIDE = "2026-12-13T02:30:00Z"
NEXT_OPENING = "2026-12-13T02:00:00Z (Sun 2026-12-13 03:00 CET, Europe/Berlin)"
WINDOWS_KEY = "whatsapp-local-storage:cutoverWindows"


def res(number: str, region: str, **extra: Any) -> dict[str, Any]:
    return {"phone_number_id": number, "region": region, "pin": DEMO_PIN, **extra}


class Clock:
    """The clock file ``WHATSAPP_TEST_NOW=@FILE`` points the provider process at."""

    def __init__(self, path: Path, instant: str) -> None:
        self.path = path
        self.set(instant)

    def set(self, instant: str) -> None:
        self.path.write_text(instant + "\n")

    @property
    def env(self) -> dict[str, str]:
        return {"WHATSAPP_TEST_NOW": f"@{self.path}"}


def engine(emulator, clock: Clock, windows: list[str] | None = None, **config: Any) -> Engine:
    settings = engine_config(emulator, **config)
    if windows is not None:
        settings[WINDOWS_KEY] = json.dumps(windows)  # structured stack config reaches Configure as JSON text
    return Engine(settings, env=clock.env)


def adopted(eng: Engine, program: dict[str, dict[str, Any]]) -> None:
    steps = eng.up(program, skip_preview=True)
    assert all(s.error is None for s in steps.values()), {n: s.error for n, s in steps.items()}
    assert all(s.outputs["applied_steps"] == [] for s in steps.values())


def test_a_cutover_outside_its_window_is_refused_with_zero_calls_and_names_the_next_opening(emulator, tmp_path):
    clock = Clock(tmp_path / "now", WEDNESDAY_NOON)
    eng = engine(emulator, clock, [WINDOW])
    adopted(eng, {"n": res(REGISTERED_BR, "BR")})  # adopting takes nothing offline: any time
    emulator.clear_calls()

    steps = eng.up({"n": res(REGISTERED_BR, "IN")})

    error = steps["n"].error
    assert error is not None, "a cutover on a Wednesday noon, outside Sunday's window"
    assert "no call was made" in error.last_line and "outside its change windows" in error.last_line
    assert f"the next opening is {NEXT_OPENING}" in error.last_line
    assert WINDOW in error.last_line and "no cutover may start now (2026-12-09T12:00:00Z)" in error.last_line
    assert post_edges(emulator.calls()) == []
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR" and registered(emulator.number(REGISTERED_BR))

    clock.set(INSIDE)  # the same run, on Sunday inside the window: it converges
    steps = eng.up({"n": res(REGISTERED_BR, "IN")})

    assert steps["n"].error is None, steps["n"].error and steps["n"].error.details
    assert steps["n"].outputs["applied_steps"] == ["deregister", "settings", "register"]
    assert post_edges(emulator.calls()) == ["deregister", "settings", "register"]
    assert storage_of(emulator.number(REGISTERED_BR)) == "IN"


def test_plans_that_take_no_number_offline_run_outside_the_window(emulator, tmp_path):
    clock = Clock(tmp_path / "now", WEDNESDAY_NOON)
    eng = engine(emulator, clock, [WINDOW])

    steps = eng.up({"fresh": res(UNREGISTERED, "BR"), "adopt": res(REGISTERED_DEFAULT, "DEFAULT")})

    assert {n: s.error for n, s in steps.items() if s.error} == {}
    assert steps["fresh"].outputs["applied_steps"] == ["settings", "register"], "not registered: never offline"
    assert steps["adopt"].outputs["applied_steps"] == []


def test_a_numbers_own_windows_win_over_the_stacks(emulator, tmp_path):
    clock = Clock(tmp_path / "now", WEDNESDAY_NOON)
    eng = engine(emulator, clock, [WINDOW])
    adopted(eng, {"n": res(REGISTERED_BR, "BR")})
    emulator.clear_calls()

    steps = eng.up({"n": res(REGISTERED_BR, "IN", cutover_windows=["Wed 11:30-14:00 UTC"])}, skip_preview=True)

    assert steps["n"].error is None, steps["n"].error and steps["n"].error.details
    assert post_edges(emulator.calls()) == ["deregister", "settings", "register"]
    assert steps["n"].outputs["cutover_windows"] == ["Wed 11:30-14:00 UTC"]


def test_destroy_with_on_delete_disable_waits_for_the_window_too(emulator, tmp_path):
    """destroy runs no program: the windows come from the resource's stored outputs. (The saved
    stack config's phoneNumbers does not list the number, else on_delete: disable makes no call.)"""
    clock = Clock(tmp_path / "now", WEDNESDAY_NOON)
    eng = engine(emulator, clock)
    eng.config["whatsapp-local-storage:phoneNumbers"] = "{}"
    adopted(eng, {"n": res(REGISTERED_BR, "BR", on_delete="disable", cutover_windows=[WINDOW])})
    emulator.clear_calls()

    steps = eng.destroy()

    assert steps["n"].error is not None and NEXT_OPENING in steps["n"].error.last_line
    assert post_edges(emulator.calls()) == []


def test_a_window_that_opens_in_a_skipped_hour_fails_check_naming_the_fix(emulator, tmp_path):
    clock = Clock(tmp_path / "now", WEDNESDAY_NOON)
    eng = engine(emulator, clock, ["Sun 02:30-04:00 Europe/Berlin"])

    steps = eng.check({"n": res(REGISTERED_BR, "BR")})

    error = steps["n"].error
    assert error is not None
    assert WINDOWS_KEY in error.details and "clocks skip" in error.details
    assert "2027-03-28" in error.details and "Open it at 03:00 or later" in error.details


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait for an event of the run (never for a time): fail after a generous deadline."""
    deadline = time.monotonic() + 120
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_an_up_whose_window_ends_during_the_first_cutover_starts_no_second_one(emulator, tmp_path, monkeypatch):
    """maxConcurrentCutovers=1, two numbers on two engine workers. The first cutover starts inside
    the window; while it runs (its deregister held at the emulator) the second waits for the slot,
    and the window closes. The second must not start: the window is checked when a cutover really
    starts, not only at preflight."""
    clock = Clock(tmp_path / "now", "2026-12-13T03:59:00Z")  # one minute before the window closes
    eng = engine(emulator, clock, [WINDOW], max_cutovers=1)
    adopted(eng, {"a": res(REGISTERED_BR, "BR"), "b": res(REGISTERED_DEFAULT, "DEFAULT")})
    emulator.clear_calls()

    first: list[str] = []
    arrived, release = threading.Event(), threading.Event()
    original = emulator_server.Handler._api

    def holding(handler, url, raw):
        if handler.command == "POST" and url.path.endswith("/deregister") and not first:
            first.append(url.path.split("/")[-2])
            arrived.set()
            release.wait(timeout=120)
        return original(handler, url, raw)

    monkeypatch.setattr(emulator_server.Handler, "_api", holding)
    result: dict[str, Any] = {}
    run = threading.Thread(target=lambda: result.update(eng.up(
        {"a": res(REGISTERED_BR, "IN"), "b": res(REGISTERED_DEFAULT, "IN")}, parallel=2, skip_preview=True)))
    run.start()
    try:
        _wait_for(arrived.is_set, "the first cutover's deregister")
        _wait_for(lambda: "waiting for a cutover slot" in eng.processes[-1].stderr,
                  "the second cutover to wait for the slot")
        clock.set("2026-12-13T04:00:00Z")  # 05:00 CET: the window has closed
    finally:
        release.set()
        run.join(timeout=240)

    names = {REGISTERED_BR: "a", REGISTERED_DEFAULT: "b"}
    started, second = names[first[0]], names[next(n for n in names if n != first[0])]
    assert result[started].error is None, result[started].error and result[started].error.details
    assert result[started].outputs["applied_steps"] == ["deregister", "settings", "register"], "it finishes"
    refused = result[second].error
    assert refused is not None and "no call was made" in refused.last_line
    assert "closed while it waited for a cutover slot" in refused.last_line
    assert "the next opening is 2026-12-20T02:00:00Z" in refused.last_line
    assert {number_of(c) for c in posts(emulator.calls())} == {first[0]}
    other = next(n for n in names if n != first[0])
    assert registered(emulator.number(other)), "the second number never went offline"
