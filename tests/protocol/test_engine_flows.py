"""The Pulumi engine's real flows (docs/engine.md, "Flows", and "Process scoping: one process is not
one command"), each asserting what docs/contract.md, "Behaviour" promises the user.

Through ``tests/engine.py``: a refresh and the update or destroy that follows share one provider
process when the config is unchanged; a rename is a Create and a Delete in one process; an
``on_error`` hook re-sends a failed call for the same URN to the same process; refresh and destroy
use the config saved in state. None of these is "a second resource" for the number.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from emulator.harness import start_emulator
from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.calllog import budget_used, max_overlap, offline_intervals, post_edges
from tests.engine import Call, Engine, Options
from tests.protocol.support import succeeded
from tests.reliability_report import engine_config, registered, storage_of

NOT_DISABLED = "not disabled"
SECOND_RESOURCE = "two resources in this stack declare the same phone number"
NUMBERS_KEY = "whatsapp-local-storage:phoneNumbers"


def res(number: str, region: str, **extra) -> dict:
    return {"phone_number_id": number, "region": region, "pin": DEMO_PIN, **extra}


def stack_file(eng: Engine, entries: dict) -> dict:
    """The stack program (``__main__.py``) over ``phoneNumbers`` entries: the map goes into the
    stack config, which the engine hands the provider, and each entry is a resource named by its
    ``name`` or its phone number ID."""
    eng.config[NUMBERS_KEY] = json.dumps(entries)
    return {entry.get("name", number): res(number, entry["region"],
                                           **({"on_delete": entry["onDelete"]} if "onDelete" in entry else {}))
            for number, entry in entries.items()}


def adopt(eng: Engine, program: dict) -> None:
    """Set the scene: an `up --skip-preview` that must adopt with zero mutating calls."""
    steps = eng.up(program, skip_preview=True)
    succeeded(steps)
    assert all(s.outputs["applied_steps"] == [] for s in steps.values())


def one_process(eng: Engine, *calls: tuple[str, str]) -> int:
    """The one process that served the last of each of ``calls`` ((method, resource) pairs): the
    update or destroy deployment, after the preview's own process."""
    last = {(c.method, c.name): c.process for c in eng.calls}
    assert set(calls) <= set(last), f"missing calls: {set(calls) - set(last)}"
    served = {last[call] for call in calls}
    assert len(served) == 1, f"{calls} ran in processes {served}: {eng.calls}"
    return served.pop()


# --- the number's own refresh is not another resource (destroy --refresh, up --refresh) ------------


@pytest.mark.parametrize("kind", ["code", "stack file"])
def test_destroy_refresh_of_a_declared_number_makes_no_call_and_says_why(emulator, kind):
    """A Delete cannot tell `destroy` from `destroy --target`: with the numbers in code it cannot
    know whether another resource still declares the number, and the stack config it was given
    (the one saved in state) still lists it. on_delete: disable makes no call and says so."""
    eng = Engine(engine_config(emulator))
    program = {"n": res(REGISTERED_BR, "BR", on_delete="disable")}
    if kind == "stack file":
        program = stack_file(eng, {REGISTERED_BR: {"name": "n", "region": "BR", "onDelete": "disable"}})
    adopt(eng, program)
    emulator.clear_calls()

    steps = eng.destroy(refresh=True)

    succeeded(steps)
    one_process(eng, ("Read", "n"), ("Delete", "n"))
    assert eng.state == {}
    assert NOT_DISABLED in eng.last_stderr and "declare region DEFAULT and run `pulumi up`" in eng.last_stderr
    why = "declared in code" if kind == "code" else f'still declares it (phoneNumbers["{REGISTERED_BR}"]'
    assert why in eng.last_stderr
    assert post_edges(emulator.calls()) == []
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR" and registered(emulator.number(REGISTERED_BR))


def test_up_refresh_disables_a_number_that_left_the_stack_config(emulator):
    eng = Engine(engine_config(emulator))
    adopt(eng, stack_file(eng, {REGISTERED_DEFAULT: {"region": "DEFAULT"},
                                REGISTERED_BR: {"region": "BR", "onDelete": "disable"}}))
    emulator.clear_calls()

    steps = eng.up(stack_file(eng, {REGISTERED_DEFAULT: {"region": "DEFAULT"}}), refresh=True)

    succeeded(steps)
    assert steps[REGISTERED_BR].op == "delete"
    # the stack config changed, so the update runs in a process of its own after the refresh
    # (providers/registry.go `Same`), and the removed entry's Delete runs there
    one_process(eng, ("Check", REGISTERED_DEFAULT), ("Delete", REGISTERED_BR))
    assert REGISTERED_BR not in eng.state
    assert NOT_DISABLED not in eng.last_stderr
    assert post_edges(emulator.calls(), REGISTERED_BR) == ["deregister", "settings", "register"]
    assert storage_of(emulator.number(REGISTERED_BR)) == "DEFAULT"


def test_a_code_declared_number_that_left_the_program_is_not_disabled(emulator):
    """The same removal with the numbers in code: the provider cannot tell it from a targeted
    update that hides the resource still declaring the number, so it makes no call."""
    eng = Engine(engine_config(emulator))
    adopt(eng, {"keep": res(REGISTERED_DEFAULT, "DEFAULT"), "gone": res(REGISTERED_BR, "BR", on_delete="disable")})
    emulator.clear_calls()

    steps = eng.up({"keep": res(REGISTERED_DEFAULT, "DEFAULT")}, refresh=True)

    succeeded(steps)
    assert steps["gone"].op == "delete" and "gone" not in eng.state
    assert NOT_DISABLED in eng.last_stderr and "declared in code" in eng.last_stderr
    assert post_edges(emulator.calls()) == []
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR"


def test_up_refresh_replacing_a_number_disables_the_old_one(emulator):
    """Only a new phone_number_id replaces (a stack entry's ``name`` moved to another number):
    the old number's Delete comes at the end, and the stack config no longer lists it."""
    eng = Engine(engine_config(emulator))
    adopt(eng, stack_file(eng, {REGISTERED_BR: {"name": "n", "region": "BR", "onDelete": "disable"}}))
    emulator.clear_calls()

    steps = eng.up(stack_file(eng, {REGISTERED_DEFAULT: {"name": "n", "region": "DEFAULT", "onDelete": "disable"}}),
                   refresh=True, parallel=1)

    succeeded(steps)
    assert steps["n"].op == "replace"
    proc = one_process(eng, ("Check", "n"), ("Delete", "n"))
    methods = [c.method for c in eng.calls if c.process in (proc - 1, proc)]
    assert methods == ["Read", "Diff", "Check", "Diff", "Check", "Create", "Delete"], "re-Check, then create first"
    assert storage_of(emulator.number(REGISTERED_BR)) == "DEFAULT", "the number that left was disabled"
    assert storage_of(emulator.number(REGISTERED_DEFAULT)) == "DEFAULT" and registered(emulator.number(REGISTERED_DEFAULT))


# --- renames --------------------------------------------------------------------------------------


def test_up_refresh_after_a_rename_without_alias_creates_the_new_resource(emulator):
    eng = Engine(engine_config(emulator))
    adopt(eng, {"old": res(REGISTERED_BR, "BR", on_delete="disable")})
    emulator.clear_calls()

    steps = eng.up({"new": res(REGISTERED_BR, "BR", on_delete="disable")}, refresh=True)

    assert SECOND_RESOURCE not in (steps["new"].error.last_line if steps["new"].error else "")
    succeeded(steps)
    assert steps["new"].op == "create" and steps["old"].op == "delete"
    one_process(eng, ("Read", "old"), ("Create", "new"), ("Delete", "old"))
    assert list(eng.state) == ["new"]
    assert post_edges(emulator.calls()) == [], "the new resource adopted it; the old one's delete left it alone"
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR", "the number keeps the region still declared"


def test_a_rename_without_alias_keeps_the_region_the_new_resource_declares(emulator):
    eng = Engine(engine_config(emulator))
    adopt(eng, {"old": res(REGISTERED_BR, "BR", on_delete="disable")})
    emulator.clear_calls()

    steps = eng.up({"new": res(REGISTERED_BR, "BR")})

    succeeded(steps)
    update = one_process(eng, ("Create", "new"), ("Delete", "old"))
    assert [c.method for c in eng.calls if c.process == update] == ["Check", "Create", "Delete"]
    assert post_edges(emulator.calls()) == []
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR"


def test_a_rename_with_an_alias_is_an_update_under_the_new_name_and_no_delete(emulator):
    eng = Engine(engine_config(emulator))
    adopt(eng, {"old": res(REGISTERED_BR, "BR", on_delete="disable")})
    emulator.clear_calls()

    steps = eng.up({"new": res(REGISTERED_BR, "IN", on_delete="disable")}, options={"new": Options(aliases=("old",))})

    succeeded(steps)
    assert steps["new"].op == "update" and "old" not in steps
    assert {c.method for c in eng.calls} == {"Check", "Diff", "Update"}
    assert all(c.name == "new" for c in eng.calls)
    assert list(eng.state) == ["new"]
    assert post_edges(emulator.calls()) == ["deregister", "settings", "register"]
    assert storage_of(emulator.number(REGISTERED_BR)) == "IN"


# --- replacements ---------------------------------------------------------------------------------


def test_delete_before_replace_disables_the_old_number_before_creating_the_new(emulator):
    eng = Engine(engine_config(emulator))
    adopt(eng, stack_file(eng, {REGISTERED_BR: {"name": "n", "region": "BR", "onDelete": "disable"}}))
    emulator.clear_calls()

    steps = eng.up(stack_file(eng, {REGISTERED_DEFAULT: {"name": "n", "region": "DEFAULT"}}),
                   options={"n": Options(delete_before_replace=True)}, skip_preview=True)

    succeeded(steps)
    assert [c.method for c in eng.calls] == ["Check", "Diff", "Check", "Delete", "Create"]
    assert storage_of(emulator.number(REGISTERED_BR)) == "DEFAULT"


def test_a_replaced_resource_is_deleted_only_once_nothing_failed(emulator):
    eng = Engine(engine_config(emulator))
    adopt(eng, stack_file(eng, {REGISTERED_BR: {"name": "n", "region": "BR", "onDelete": "disable"},
                                REGISTERED_DEFAULT: {"name": "x", "region": "DEFAULT"}}))
    emulator.fault("POST", f"/{REGISTERED_DEFAULT}/deregister", code=131009)
    program = stack_file(eng, {UNREGISTERED: {"name": "n", "region": "IN", "onDelete": "disable"},
                               REGISTERED_DEFAULT: {"name": "x", "region": "BR"}})

    steps = eng.up(program, skip_preview=True)

    assert steps["n"].op == "replace" and steps["x"].op == "error"
    assert "Delete" not in {c.method for c in eng.calls}, "no delete after a failed step"
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR"
    assert [name for name, _ in eng.pending_deletes] == ["n"]

    steps = eng.up(program)

    succeeded(steps)
    assert ("Delete", "n") in {(c.method, c.name) for c in eng.calls}
    assert eng.pending_deletes == []
    assert storage_of(emulator.number(REGISTERED_BR)) == "DEFAULT", "the old number is disabled at last"
    assert storage_of(emulator.number(UNREGISTERED)) == "IN"


# --- Read's inputs are valid inputs in every live state -------------------------------------------

LIVE_STATES: dict[str, dict[str, Any]] = {
    "no storage": {"settings": {"storage_configuration": {"status": "NO_STORAGE_ENABLED", "retention_minutes": 60}}},
    "unknown storage": {"settings": {"storage_configuration": {"status": "SOMETHING_META_ADDED"}}},
    "unregistered": {"platform_type": "NOT_APPLICABLE", "status": "DISCONNECTED"},
}


@pytest.mark.parametrize("live", LIVE_STATES, ids=list(LIVE_STATES))
def test_refresh_keeps_working_in_every_live_state_and_drift_stays_visible(emulator, live):
    eng = Engine(engine_config(emulator))
    adopt(eng, {"n": res(REGISTERED_BR, "BR")})
    emulator.patch(REGISTERED_BR, **LIVE_STATES[live])

    first = eng.refresh(skip_preview=True)["n"]
    assert first.error is None, first.error.details
    assert first.op == "drift"
    for attempt in range(2):  # what Read stored comes back as news to the next refresh's Diff
        again = eng.refresh(skip_preview=True)["n"]
        assert again.error is None, f"refresh {attempt + 2}: {again.error.last_line}"
    assert eng.state["n"].inputs.get("region") == "BR", "Read keeps the declared region where none is managed"
    drift = eng.refresh(preview_only=True)["n"]
    assert drift.error is None and drift.op == "drift", "refresh --preview-only --expect-no-changes must fail"

    step = eng.up({"n": res(REGISTERED_BR, "BR")}, refresh=True)["n"]
    assert not (step.error and "region" in step.error.last_line and "required" in step.error.last_line), \
        step.error.details
    assert step.error is None or step.error.method in ("Update", "Create"), step.error.details


# --- retries for the same URN in one process ------------------------------------------------------


def test_an_on_error_retry_of_a_create_is_the_same_resource(emulator):
    eng = Engine(engine_config(emulator))
    emulator.fault("GET", f"/{UNREGISTERED}/settings", code=131009)  # the first attempt fails before any change

    steps = eng.up({"n": res(UNREGISTERED, "BR")}, options={"n": Options(on_error_retries=3)}, skip_preview=True)

    succeeded(steps)
    assert [c.method for c in eng.calls if c.method == "Create"] == ["Create", "Create"]
    one_process(eng, ("Create", "n"))
    assert post_edges(emulator.calls()) == ["settings", "register"]
    assert storage_of(emulator.number(UNREGISTERED)) == "BR" and registered(emulator.number(UNREGISTERED))


def test_on_error_retries_never_burn_the_register_budget_blindly(emulator):
    eng = Engine(engine_config(emulator))
    adopt(eng, {"n": res(REGISTERED_BR, "BR")})
    emulator.patch(REGISTERED_BR, pin="654321")  # the PIN changed in WhatsApp Manager: register fails
    emulator.clear_calls()

    steps = eng.up({"n": res(REGISTERED_BR, "IN")}, options={"n": Options(on_error_retries=99)}, skip_preview=True)

    assert steps["n"].op == "error" and "Do NOT re-run automatically" in steps["n"].failure.last_line
    assert len([c for c in eng.calls if c.method == "Update"]) == 100, "the hook asked the engine 99 more times"
    calls = emulator.calls()
    assert post_edges(calls).count("register") == 1, "a PIN mismatch is never retried inside the process"
    assert budget_used(calls, REGISTERED_BR) <= 2
    assert not any(c.get("code") == 133016 for c in calls), "Meta never blocked the number"


# --- a killed provider process ---------------------------------------------------------------------


def test_a_process_killed_mid_cutover_leaves_a_number_the_next_up_finishes(emulator):
    """A CI runner's timeout kills the provider process while settings is in flight."""
    eng = Engine(engine_config(emulator))
    adopt(eng, {"n": res(REGISTERED_BR, "BR")})
    emulator.clear_calls()
    emulator.fault("POST", f"/{REGISTERED_BR}/settings", delay_ms=1500)
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(eng.up({"n": res(REGISTERED_BR, "IN")}, skip_preview=True)))
    run.start()
    deadline = time.monotonic() + 30
    while not post_edges(emulator.calls()) and time.monotonic() < deadline:  # the deregister is answered
        time.sleep(0.05)
    time.sleep(0.3)  # settings is in flight
    eng.processes[-1].kill()
    run.join(timeout=60)
    assert result["n"].op == "error"
    time.sleep(2.0)  # the emulator answers the orphaned settings call (to nobody) after its delay
    left = post_edges(emulator.calls())
    assert left[0] == "deregister" and "register" not in left, left
    assert not registered(emulator.number(REGISTERED_BR)), "the kill left the number offline"
    still_needed = ["register"] if storage_of(emulator.number(REGISTERED_BR)) == "IN" else ["settings", "register"]
    emulator.clear_calls()

    steps = eng.up({"n": res(REGISTERED_BR, "IN")})

    succeeded(steps)
    assert post_edges(emulator.calls()) == still_needed, "only the calls still needed"
    assert storage_of(emulator.number(REGISTERED_BR)) == "IN" and registered(emulator.number(REGISTERED_BR))


# --- configuration: refresh and destroy use what the last up saved ---------------------------------

OLD_TOKEN, NEW_TOKEN = "EAAflows-old-token-1111", "EAAflows-new-token-2222"


@pytest.fixture
def rotating():
    emu = start_emulator(seed="demo", tokens=(OLD_TOKEN, NEW_TOKEN))
    yield emu
    emu.stop()


def _revoke(emu, token: str) -> None:
    state = emu._server.state  # Meta revokes a token: the in-process emulator stops accepting it
    with state.lock:
        state.tokens = tuple(t for t in state.tokens if t != token)


def test_refresh_and_destroy_use_the_saved_token_until_an_up_succeeds(rotating):
    eng = Engine(engine_config(rotating, token=OLD_TOKEN))
    adopt(eng, {"n": res(REGISTERED_BR, "BR", on_delete="disable")})
    eng.config["whatsapp:accessToken"] = "EAAflows-mistyped-token"  # rotated in the stack config

    succeeded(eng.refresh())
    program_refresh = eng.refresh(run_program=True)["n"]
    assert "190" in program_refresh.failure.last_line, "--run-program uses the current config"

    eng.config["whatsapp:accessToken"] = NEW_TOKEN
    _revoke(rotating, OLD_TOKEN)
    stale = eng.refresh()["n"]
    assert stale.error is not None
    assert "pulumi up" in stale.error.last_line or "--run-program" in stale.error.last_line, stale.error.last_line
    succeeded(eng.refresh(run_program=True))

    succeeded(eng.up({"n": res(REGISTERED_BR, "BR", on_delete="disable")}))
    assert eng.saved_config is not None  # saved by the up above
    assert eng.saved_config["whatsapp:accessToken"] == NEW_TOKEN
    succeeded(eng.destroy(refresh=True))  # its Read works: the destroy runs on the saved new token
    assert eng.state == {}


def test_the_provider_process_inherits_the_cli_environment(emulator):
    config = {k: v for k, v in engine_config(emulator).items() if k != "whatsapp:accessToken"}
    eng = Engine(config, env={"WHATSAPP_ACCESS_TOKEN": emulator.token})
    steps = eng.up({"n": res(UNREGISTERED, "BR")})
    succeeded(steps)
    assert storage_of(emulator.number(UNREGISTERED)) == "BR"


def test_up_refresh_reuses_the_refresh_process_only_while_the_config_is_unchanged(emulator):
    eng = Engine(engine_config(emulator))
    adopt(eng, {"n": res(REGISTERED_BR, "BR")})
    succeeded(eng.up({"n": res(REGISTERED_BR, "BR", pin="654321")}, refresh=True, skip_preview=True))
    one_process(eng, ("Read", "n"), ("Update", "n"))

    eng.config["whatsapp:maxConcurrentCutovers"] = "2"
    succeeded(eng.up({"n": res(REGISTERED_BR, "BR")}, refresh=True, skip_preview=True))
    assert len(eng.processes) == 2
    assert [c for c in eng.calls if c.method == "Read"] == [Call("Read", "n", 0)]
    assert {c.process for c in eng.calls if c.method == "Check"} == {1}, "the program's steps use the new config"


# --- processes and workers ------------------------------------------------------------------------


def test_up_previews_in_its_own_process_and_updates_in_a_fresh_one(emulator):
    eng = Engine(engine_config(emulator))
    adopt(eng, {"n": res(REGISTERED_BR, "BR")})
    emulator.clear_calls()

    succeeded(eng.up({"n": res(REGISTERED_BR, "IN")}))

    assert len(eng.processes) == 2
    assert [(c.method, c.process) for c in eng.calls] == [("Check", 0), ("Diff", 0), ("Check", 1), ("Diff", 1),
                                                          ("Update", 1)]
    reads = [c["path"] for c in emulator.calls() if c["method"] == "GET"]
    assert reads.count(f"/{REGISTERED_BR}/settings") >= 2, "the update reads the number again: no read crosses"
    assert post_edges(emulator.calls()) == ["deregister", "settings", "register"]


def test_more_engine_workers_than_provider_threads_still_converge_one_cutover_at_a_time(emulator):
    """8 workers against the provider's 4 gRPC threads, with one cutover slot: creates waiting for
    the slot hold threads, and the other resources' calls queue behind them without deadlock."""
    fleet = [f"30000000000{i:04d}" for i in range(6)]
    for number in fleet:
        emulator.add_number(id=number, pin=DEMO_PIN)
    eng = Engine(engine_config(emulator, max_cutovers=1))
    program = {f"n{i}": res(number, "BR", allow_cutover_on_create=True) for i, number in enumerate(fleet)}

    steps = eng.up(program, parallel=8, skip_preview=True)

    succeeded(steps)
    calls = emulator.calls()
    assert max_overlap(offline_intervals(calls)) == 1
    assert all(storage_of(emulator.number(n)) == "BR" and registered(emulator.number(n)) for n in fleet)
