"""The engine flows in which a provider process sees only part of the deployment (issue 18):
``--target``/``--exclude``, RefreshV2 (``--run-program``), pending entries, a program that declares
no number, ``on_error`` by CLI version, ``import_``, and the register budget across entries.

Every test drives ``python -m pulumi.dynamic`` through ``tests/engine.py`` at the engine's default
``--parallel`` (8) unless it is about order.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from emulator.harness import start_emulator
from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.calllog import post_edges
from tests.engine import Engine, Options, ResourceState
from tests.protocol.support import succeeded
from tests.reliability_report import engine_config, registered, storage_of

NUMBERS_KEY = "whatsapp-local-storage:phoneNumbers"
NOT_DISABLED = "not disabled, no call made"


def res(number: str, region: str, **extra) -> dict:
    return {"phone_number_id": number, "region": region, "pin": DEMO_PIN, **extra}


def stack_file(eng: Engine, entries: dict) -> dict:
    """The stack program (``__main__.py``): ``phoneNumbers`` goes into the stack config the engine
    hands the provider, and each entry is a resource named by its ``name`` or its number ID."""
    eng.config[NUMBERS_KEY] = json.dumps(entries)
    return {entry.get("name", number): res(number, entry["region"],
                                           **({"on_delete": entry["onDelete"]} if "onDelete" in entry else {}))
            for number, entry in entries.items()}


def program_of(kind: str, eng: Engine, name: str, number: str, region: str, **extra) -> dict:
    """One number declared by a resource called ``name``, in a stack-file program or in code."""
    if kind == "stack file":
        on_delete = {"onDelete": extra["on_delete"]} if "on_delete" in extra else {}
        return stack_file(eng, {number: {"name": name, "region": region, **on_delete}})
    return {name: res(number, region, **extra)}


def last_process(eng: Engine) -> list[tuple[str, str]]:
    """The calls of the command's last process (the update, refresh or destroy, after its preview)."""
    last = len(eng.processes) - 1
    return [(c.method, c.name) for c in eng.calls if c.process == last]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- --target / --exclude ------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["target", "exclude"])
@pytest.mark.parametrize("kind", ["stack file", "code"])
def test_a_targeted_rename_never_disables_the_number_the_new_name_declares(emulator, kind, scope):
    """Issue 18's reproduction: rename X to Y without an alias, `up --target Y`, then
    `up --target X` (or `--exclude Y`): a fresh process gets a single Delete(X) with
    on_delete: disable while Y still declares BR. It must make no mutating call."""
    eng = Engine(engine_config(emulator))
    succeeded(eng.up(program_of(kind, eng, "x", REGISTERED_BR, "BR", on_delete="disable")))
    renamed = program_of(kind, eng, "y", REGISTERED_BR, "BR", on_delete="disable")

    first = eng.up(renamed, target=["y"])
    succeeded(first)
    assert first["y"].op == "create" and "x" not in first, "an untargeted entry is not deleted"
    assert set(eng.state) == {"x", "y"}
    emulator.clear_calls()

    steps = eng.up(renamed, target=["x"]) if scope == "target" else eng.up(renamed, exclude=["y"])

    succeeded(steps)
    assert steps["x"].op == "delete" and steps["y"].op == "same"
    assert last_process(eng) == [("Delete", "x")], "Y gets a stub Check: the process sees only the Delete"
    assert post_edges(emulator.calls()) == []
    assert NOT_DISABLED in eng.last_stderr
    number = emulator.number(REGISTERED_BR)
    assert storage_of(number) == "BR" and registered(number)
    assert list(eng.state) == ["y"]

    succeeded(eng.up(renamed))
    assert post_edges(emulator.calls()) == [], "nothing to cut back"


def test_untargeted_resources_get_no_call_and_new_ones_are_skipped(emulator):
    eng = Engine(engine_config(emulator))
    succeeded(eng.up({"a": res(REGISTERED_BR, "BR"), "b": res(REGISTERED_DEFAULT, "DEFAULT")}))
    emulator.clear_calls()

    steps = eng.up({"a": res(REGISTERED_BR, "IN"), "b": res(REGISTERED_DEFAULT, "BR"), "c": res(UNREGISTERED, "BR")},
                   exclude=["a", "c"])

    succeeded(steps)
    assert (steps["a"].op, steps["b"].op, steps["c"].op) == ("same", "update", "skipped")
    assert {c.name for c in eng.calls} == {"b"}
    assert "c" not in eng.state and eng.state["a"].inputs["region"] == "BR", "the stub keeps the old inputs"
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR" and storage_of(emulator.number(REGISTERED_DEFAULT)) == "BR"
    assert emulator.number(UNREGISTERED)["platform_type"] != "CLOUD_API"


def test_targeted_refresh_and_destroy_touch_only_the_targets(emulator):
    eng = Engine(engine_config(emulator))
    succeeded(eng.up({"a": res(REGISTERED_BR, "BR"), "b": res(REGISTERED_DEFAULT, "DEFAULT")}))

    # an untargeted entry marked for deletion (a replacement whose delete did not run) is left alone too
    eng.pending_deletes.append(("p", ResourceState(UNREGISTERED, res(UNREGISTERED, "BR"), {})))

    succeeded(eng.refresh(target=["a"]))
    assert {c.name for c in eng.calls} == {"a"}

    succeeded(eng.destroy(target=["a"], refresh=True))
    assert {c.name for c in eng.calls} == {"a"}
    assert list(eng.state) == ["b"] and [name for name, _ in eng.pending_deletes] == ["p"]


def test_an_untargeted_aliased_resource_moves_to_its_new_name_without_a_delete(emulator):
    """``up --target o`` with ``y`` aliased to ``x``: the untargeted stub step keeps the entry under its
    new name only, so the next full ``up`` sends no Delete(x) for the number ``y`` manages."""
    eng = Engine(engine_config(emulator))
    succeeded(eng.up({"x": res(REGISTERED_BR, "BR"), "o": res(REGISTERED_DEFAULT, "DEFAULT")}))
    program = {"y": res(REGISTERED_BR, "BR"), "o": res(REGISTERED_DEFAULT, "DEFAULT")}
    aliased = {"y": Options(aliases=("x",))}

    succeeded(eng.up(program, options=aliased, target=["o"]))
    assert sorted(eng.state) == ["o", "y"]
    succeeded(eng.up(program, options=aliased))
    assert not any(c.method == "Delete" for c in eng.calls)


# --- --run-program (RefreshV2) ---------------------------------------------------------------------


def test_refresh_run_program_reads_program_resources_as_they_register_then_the_rest_and_saves_config(emulator):
    eng = Engine(engine_config(emulator))
    succeeded(eng.up({"a": res(REGISTERED_BR, "BR"), "b": res(REGISTERED_DEFAULT, "DEFAULT"),
               "c": res(UNREGISTERED, "BR")}, parallel=1))
    eng.config["whatsapp:maxConcurrentCutovers"] = "2"

    steps = eng.refresh(run_program=True, program={"c": res(UNREGISTERED, "BR"), "a": res(REGISTERED_BR, "BR")},
                        parallel=1)

    succeeded(steps)
    assert last_process(eng) == [("Read", "c"), ("Diff", "c"), ("Read", "a"), ("Diff", "a"),
                                 ("Read", "b"), ("Diff", "b")], "no Check; the entry left the program last"
    assert all(p.config == eng.config for p in eng.processes), "the current config, in preview and refresh"
    assert eng.saved_config == eng.config, "refresh --run-program saves the configuration"


def test_up_refresh_run_program_interleaves_read_and_update_per_resource(emulator):
    eng = Engine(engine_config(emulator))
    succeeded(eng.up({"a": res(REGISTERED_BR, "BR"), "b": res(REGISTERED_DEFAULT, "DEFAULT"),
               "gone": res(UNREGISTERED, "BR")}))

    steps = eng.up({"a": res(REGISTERED_BR, "BR", pin="654321"), "b": res(REGISTERED_DEFAULT, "DEFAULT")},
                   refresh=True, run_program=True, parallel=1, skip_preview=True)

    succeeded(steps)
    calls = last_process(eng)
    assert len(eng.processes) == 1, "no up-front refresh process"
    assert [m for m, n in calls if n == "a"] == ["Read", "Diff", "Check", "Diff", "Update"]
    assert [m for m, n in calls if n == "b"] == ["Read", "Diff", "Check", "Diff"]
    assert [m for m, n in calls if n == "gone"] == ["Delete"], "a removed resource is deleted without a refresh"
    assert calls.index(("Check", "a")) < calls.index(("Read", "b")), "each resource refreshes as it registers"


# --- pending entries -------------------------------------------------------------------------------


def test_a_pending_delete_is_read_by_every_refresh_and_deleted_by_destroy(emulator):
    eng = Engine(engine_config(emulator))
    succeeded(eng.up({"n": res(REGISTERED_BR, "BR"), "x": res(REGISTERED_DEFAULT, "DEFAULT")}))
    emulator.fault("POST", f"/{REGISTERED_DEFAULT}/deregister", code=131009)
    steps = eng.up({"n": res(UNREGISTERED, "IN"), "x": res(REGISTERED_DEFAULT, "BR")}, skip_preview=True)
    assert steps["n"].op == "replace" and steps["x"].op == "error"
    assert [name for name, _ in eng.pending_deletes] == ["n"], "the replaced entry stays, marked delete: true"

    succeeded(eng.refresh())
    assert sorted(c.method for c in eng.calls if c.name == "n" and c.process == 1) == ["Diff", "Diff", "Read", "Read"]
    assert eng.pending_deletes[0][1].id == REGISTERED_BR and eng.state["n"].id == UNREGISTERED

    steps = eng.destroy()
    succeeded(steps)
    assert [c.method for c in eng.calls if c.name == "n"] == ["Delete", "Delete"]
    assert eng.state == {} and eng.pending_deletes == []


def test_a_pending_replacement_is_not_read_or_deleted_again(emulator):
    eng = Engine(engine_config(emulator))
    succeeded(eng.up({"n": res(REGISTERED_BR, "BR")}))
    emulator.fault("GET", f"/{UNREGISTERED}/settings", code=131009)  # the new number's create fails
    dbr = {"n": Options(delete_before_replace=True)}
    program = {"n": res(UNREGISTERED, "IN")}

    steps = eng.up(program, options=dbr, skip_preview=True)

    assert steps["n"].op == "error" and steps["n"].failure.method == "Create"
    replaced = eng.state["n"]  # a local, so mypy does not carry this narrowing past the next up
    assert replaced.pending_replacement and replaced.id == REGISTERED_BR
    succeeded(eng.refresh())
    assert not [c for c in eng.calls if c.name == "n"], "a pendingReplacement entry is not refreshed"

    succeeded(eng.up(program, options=dbr, skip_preview=True))
    assert [c.method for c in eng.calls] == ["Check", "Diff", "Check", "Create"], "replaced without a second Delete"
    assert not eng.state["n"].pending_replacement and eng.state["n"].id == UNREGISTERED


# --- a program that declares no number; token rotation ----------------------------------------------

OLD_TOKEN, NEW_TOKEN, NEWER_TOKEN = "EAAscope-old-token-1111", "EAAscope-new-token-2222", "EAAscope-newer-33"


@pytest.fixture
def rotating():
    emu = start_emulator(seed="demo", tokens=(OLD_TOKEN, NEW_TOKEN, NEWER_TOKEN))
    yield emu
    emu.stop()


def _rotate(eng: Engine, emu, old: str = OLD_TOKEN, new: str = NEW_TOKEN) -> None:
    """Meta revokes the old token; the stack config names the new one."""
    eng.config["whatsapp:accessToken"] = new
    state = emu._server.state
    with state.lock:
        state.tokens = tuple(t for t in state.tokens if t != old)


def test_shrinking_and_empty_programs_survive_a_token_rotation(rotating):
    """A program that still declares a number registers the provider with the current config, so
    its Deletes use the new token; a program that declares none runs its Deletes on the config
    saved in state, and saves nothing, yet cannot be stranded: that config lists every number it
    deletes, so on_delete: disable makes no call there."""
    eng = Engine(engine_config(rotating, token=OLD_TOKEN))
    succeeded(eng.up(stack_file(eng, {REGISTERED_BR: {"region": "BR", "onDelete": "disable"},
                               REGISTERED_DEFAULT: {"region": "DEFAULT", "onDelete": "disable"}})))
    _rotate(eng, rotating)
    rotating.clear_calls()

    succeeded(eng.up(stack_file(eng, {REGISTERED_DEFAULT: {"region": "DEFAULT", "onDelete": "disable"}})))

    assert post_edges(rotating.calls(), REGISTERED_BR) == ["deregister", "settings", "register"], \
        "the shrinking program's Delete ran on the current config, which no longer lists the number"
    assert eng.saved_config is not None  # saved by the up above
    assert eng.saved_config["whatsapp:accessToken"] == NEW_TOKEN
    _rotate(eng, rotating, NEW_TOKEN, NEWER_TOKEN)
    saved = dict(eng.saved_config)
    rotating.clear_calls()

    steps = eng.up(stack_file(eng, {}))

    succeeded(steps)
    assert steps[REGISTERED_DEFAULT].op == "delete" and eng.state == {}
    assert eng.saved_config == saved, "a program with no dynamic resource saves nothing"
    assert all(p.config == saved for p in eng.processes), "its Deletes run on the saved config"
    assert NOT_DISABLED in eng.last_stderr and f'phoneNumbers["{REGISTERED_DEFAULT}"]' in eng.last_stderr
    assert post_edges(rotating.calls()) == []


@pytest.mark.parametrize("command", ["refresh", "destroy"])
def test_a_rotated_token_has_a_way_through_refresh_and_destroy_with_run_program(rotating, command):
    eng = Engine(engine_config(rotating, token=OLD_TOKEN))
    program = {"n": res(REGISTERED_BR, "BR")}
    succeeded(eng.up(program))
    _rotate(eng, rotating)

    stale = getattr(eng, command)(refresh=True) if command == "destroy" else eng.refresh()
    error = stale["n"].error
    assert error is not None and error.method == "Read"
    assert f"`pulumi {command} --run-program`" in error.last_line, error.last_line
    assert "n" in eng.state

    if command == "refresh":
        succeeded(eng.refresh(run_program=True, program=program))
        assert eng.saved_config is not None  # saved by the refresh above
        assert eng.saved_config["whatsapp:accessToken"] == NEW_TOKEN
        succeeded(eng.refresh())  # the saved config works from now on
        succeeded(eng.destroy(refresh=True))
    else:
        # destroy --refresh --run-program refreshes on the saved config first (the engine's order):
        # the stale token fails there; destroy --run-program alone is the way through
        again = eng.destroy(refresh=True, run_program=True, program=program)
        assert again["n"].error is not None and "not `destroy --refresh --run-program`" in again["n"].error.last_line
        succeeded(eng.destroy(run_program=True, program=program))
    assert eng.state == {}


# --- on_error by CLI version; import_ ------------------------------------------------------------


@pytest.mark.parametrize("cli, attempts", [((3, 243), 1), ((3, 244), 3)])
def test_on_error_retries_a_create_on_any_error_only_from_cli_3_244(emulator, cli, attempts):
    eng = Engine(engine_config(emulator), cli_version=cli, skip_preview=True)
    for _ in range(3):
        emulator.fault("GET", f"/{UNREGISTERED}/settings", code=131009)

    steps = eng.up({"n": res(UNREGISTERED, "BR")}, options={"n": Options(on_error_retries=2)})

    assert steps["n"].op == "error"
    assert [c.method for c in eng.calls].count("Create") == attempts
    assert post_edges(emulator.calls()) == []


@pytest.mark.parametrize("run_program, attempts", [(False, 1), (True, 3)])
def test_destroy_registers_an_on_error_hook_only_with_run_program(emulator, run_program, attempts):
    eng = Engine(engine_config(emulator), skip_preview=True)
    program = {"n": res(REGISTERED_BR, "BR", on_delete="disable")}
    succeeded(eng.up(stack_file(eng, {REGISTERED_DEFAULT: {"region": "DEFAULT"}}) | program))  # n is not in
    # phoneNumbers (a resource declared in code beside the stack's map): its Delete disables
    for _ in range(3):
        emulator.fault("GET", f"/{REGISTERED_BR}/settings", code=131009)

    steps = eng.destroy(run_program=run_program, options={"n": Options(on_error_retries=2)}, parallel=1)

    assert steps["n"].op == "error"
    assert [c.name for c in eng.calls if c.method == "Delete"].count("n") == attempts


def test_import_fails_in_the_servicer_before_any_graph_call(emulator):
    eng = Engine(engine_config(emulator))

    step = eng.import_("n", REGISTERED_BR)

    assert step.op == "error" and step.failure.method == "Read"
    assert "KeyError" in step.failure.details and "__provider" in step.failure.details
    assert emulator.calls() == []


# --- the register budget across entries -------------------------------------------------------------


def test_a_create_counts_the_calls_the_old_entry_of_a_rename_carried(emulator):
    """`up --refresh` after a rename without alias: the refresh Reads the old entry, whose state
    holds 9 calls of the last 72 hours; the new resource's Create needs 2 more: refused."""
    eng = Engine(engine_config(emulator), skip_preview=True)
    succeeded(eng.up({"old": res(REGISTERED_BR, "BR")}))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    eng.state["old"].outputs["registration_calls"] = [iso(now - timedelta(hours=h)) for h in range(1, 10)]
    emulator.clear_calls()

    steps = eng.up({"new": res(REGISTERED_BR, "IN", allow_cutover_on_create=True)}, refresh=True)

    error = steps["new"].error
    assert error is not None and error.method == "Create"
    assert "made 9 in the last 72 hours" in error.last_line, error.last_line
    assert post_edges(emulator.calls()) == []
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR"
