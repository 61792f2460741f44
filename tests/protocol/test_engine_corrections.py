"""The engine imitation, corrected a third time (issue 27, item 6), each rule read in pulumi/pulumi's
``pkg/resource/deploy`` (1b59498): the call sequences ``tests/engine.py`` sends for them.

- ``refresh --run-program`` (RefreshV2): a program resource is refreshed as it registers, which
  marks its URN operated on (``step_generator.go`` ``isOperatedOn``), so a pending delete of the
  same name gets no Read; the entries the program dropped are refreshed by ``GenerateRefreshes``
  in ``deployment_executor.go`` ``performPostSteps``, after the program finished.
- ``destroy --refresh --run-program``: ``engine/destroy.go`` sets DestroyProgram, not
  RefreshProgram, so ``deployment_executor.go`` refreshes before iterating the source, with the
  provider of the saved config; the program then registers the default provider with the current
  config (a new process when it changed: ``providers/registry.go`` ``Same``) for the deletes.
"""

from __future__ import annotations

from typing import Any

from emulator.seed import REGISTERED_BR, REGISTERED_DEFAULT
from tests.engine import Engine, ResourceState
from tests.protocol.test_change_windows import res
from tests.reliability_report import InProcessProvider, engine_config


class Provider(InProcessProvider):
    """The provider in this process (these tests are about the engine's sequence), with its config."""

    def __init__(self, config: dict[str, str], env: dict[str, str]) -> None:
        super().__init__(config, env)
        self.config = dict(config)

    def close(self) -> None:
        close: Any = getattr(super(), "close", None)
        if close is not None:
            close()


def engine(emulator: Any) -> Engine:
    return Engine(engine_config(emulator), skip_preview=True, provider=Provider)


def test_refresh_run_program_reads_no_pending_delete_the_program_registered_and_dropped_entries_last(emulator) -> None:
    eng = engine(emulator)
    program = {"kept": res(REGISTERED_BR, "BR"), "dropped": res(REGISTERED_DEFAULT, "DEFAULT")}
    assert all(s.error is None for s in eng.up(program).values())
    old = eng.state["kept"]
    eng.pending_deletes = [("kept", ResourceState(old.id, dict(old.inputs), dict(old.outputs)))]

    steps = eng.refresh(run_program=True, program={"kept": program["kept"]})

    assert "kept (pending delete)" not in steps, "the program registered `kept`: its pending delete is not read"
    assert [c.method for c in eng.calls if c.name == "kept"] == ["Read", "Diff"]
    assert [(c.method, c.name) for c in eng.calls] == [("Read", "kept"), ("Diff", "kept"),
                                                        ("Read", "dropped"), ("Diff", "dropped")]
    assert len(eng.pending_deletes) == 1, "still pending: neither read nor deleted"


def test_destroy_refresh_run_program_refreshes_on_the_saved_config_then_deletes_on_the_current_one(emulator) -> None:
    eng = engine(emulator)
    program = {"n": res(REGISTERED_BR, "BR")}
    assert all(s.error is None for s in eng.up(program).values())
    saved = dict(eng.saved_config or {})
    eng.config["whatsapp:maxConcurrentCutovers"] = "2"  # the stack config changed since it was saved

    steps = eng.destroy(refresh=True, run_program=True, program=program)

    assert steps["n"].op == "delete" and eng.state == {}
    [read] = [c for c in eng.calls if c.method == "Read"]
    [delete] = [c for c in eng.calls if c.method == "Delete"]
    assert eng.processes[read.process].config == saved
    assert eng.processes[delete.process].config == eng.config and delete.process != read.process
    assert eng.saved_config == eng.config
