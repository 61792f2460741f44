"""Recoveries the fault matrix does not pin, through the engine protocol (issue 17).

Each test fails when its recovery is deleted from ``provider/runner.py``:

- 133000 on register ("a previous deregistration is incomplete"): deregister once more, then
  register (``_registration_call``);
- the offline deadline on register retries: a retry that would wait past it is not sent, the
  number is reported offline at once (``_registration_call``);
- the breaker re-check once a cutover slot is acquired: a number that passed preflight and
  waited for the slot while another cutover failed is refused, and never goes offline (``run``).
"""

from __future__ import annotations

import io
from collections import Counter

import pytest

from emulator.seed import DEMO_PIN, REGISTERED_BR
from provider.client import GraphClient
from provider.config import ProviderConfig
from provider.executor import Executor
from provider.failures import ConvergeFailed
from provider.fleet import reset_process_state
from provider.declaration import Declaration
from provider.notices import Notices
from tests.calllog import call_kind
from tests.engine import Engine
from tests.reliability_report import engine_config, registered, storage_of


def _engine(emu, max_cutovers: int = 1) -> Engine:
    return Engine(engine_config(emu, max_cutovers=max_cutovers), continue_on_error=True, skip_preview=True)


def _posts(calls: list[dict], number: str) -> Counter:
    return Counter(k for k in (call_kind(c, number) for c in calls if c["path"].startswith(f"/{number}/"))
                   if k.startswith("POST"))


def _adopted(emulator) -> Engine:
    eng = _engine(emulator)
    step = eng.up({"n": {"phone_number_id": REGISTERED_BR, "region": "BR", "pin": DEMO_PIN}})["n"]
    assert step.error is None and step.outputs["applied_steps"] == []
    emulator.clear_calls()
    return eng


def test_register_answering_133000_deregisters_once_more_then_registers_with_the_declared_storage(emulator):
    """Meta's 133000: the number is half registered, "deregister again". Emulated as a register
    that took effect yet answered 133000 (``apply``), so the extra deregister finds a registered
    number, and (the documented behaviour) clears its storage: the settings call is made again
    before register, or the number would go online with storage nobody declared (DEFAULT)."""
    eng = _adopted(emulator)
    emulator.fault("POST", f"/{REGISTERED_BR}/register", code=133000, apply=True)  # once

    step = eng.up({"n": {"phone_number_id": REGISTERED_BR, "region": "IN", "pin": DEMO_PIN}})["n"]

    assert step.error is None, step.error and step.error.last_line
    record = emulator.number(REGISTERED_BR)
    assert registered(record) and storage_of(record) == "IN"
    assert _posts(emulator.calls(), REGISTERED_BR) == Counter(
        {"POST deregister": 2, "POST settings": 2, "POST register": 2})
    assert len(step.outputs["registration_calls"]) == 4, "the extra deregister counts against the budget"
    assert "previous deregistration is incomplete: deregistering again" in eng.last_stderr


def test_a_register_retry_that_would_wait_past_the_offline_deadline_is_not_sent(emulator):
    """Meta says "retry in 60 s" (Retry-After) while the number is offline: waiting would pass the
    offline deadline (60 s), so the runner neither waits nor retries, and says the number is
    offline at once. In process (``Executor``), so that the wait it must not make is observed
    through its ``sleep`` rather than timed: the engine's provider process would really sleep."""
    emulator.fault("POST", f"/{REGISTERED_BR}/register", status=503, code=133004, retry_after=60)
    waits: list[float] = []
    reset_process_state()
    client = GraphClient(ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url,
                                               "api_version": "v25.0"}))
    executor = Executor(client, notices=Notices(io.StringIO()), sleep=waits.append, offline_deadline=60.0)
    try:
        with pytest.raises(ConvergeFailed) as caught:
            executor.converge(Declaration(REGISTERED_BR, "IN", pin=DEMO_PIN))
    finally:
        client.close()
        reset_process_state()

    assert waits == [], "no wait that ends past the offline deadline"
    assert caught.value.step == "register" and caught.value.offline and "NOT registered" in str(caught.value)
    assert _posts(emulator.calls(), REGISTERED_BR)["POST register"] == 1, "no retry past the deadline"
    assert not registered(emulator.number(REGISTERED_BR))


def test_a_number_that_waited_for_a_cutover_slot_is_refused_when_the_cutover_holding_it_failed(emulator):
    """One slot. A's cutover holds it and fails slowly (register: PIN mismatch after 1.5 s). B is
    read while A is still in flight, so B passes preflight (the breaker is closed then) and waits
    for the slot; once it has the slot, the breaker is open: B is refused and never deregistered."""
    first, waiting = "300000000000001", "300000000000002"
    for number in (first, waiting):
        emulator.add_number(id=number, pin=DEMO_PIN)
    emulator.fault("GET", f"/{waiting}", delay_ms=300)  # A takes the slot first
    emulator.fault("POST", f"/{first}/register", code=133005, delay_ms=1500)
    program = {name: {"phone_number_id": number, "region": "BR", "pin": DEMO_PIN, "allow_cutover_on_create": True}
               for name, number in (("a", first), ("b", waiting))}
    eng = _engine(emulator, max_cutovers=1)

    steps = eng.up(program, parallel=2)

    calls = emulator.calls()
    failed = next(c for c in calls if c["path"] == f"/{first}/register")
    read = next(c for c in calls if c["path"] == f"/{waiting}" and c["method"] == "GET")
    assert failed["code"] == 133005
    assert read["finished"] < failed["finished"], "B passed preflight before A's cutover failed"
    assert f"whatsapp {waiting}: waiting for a cutover slot" in eng.last_stderr, "B really waited"
    assert "NOT registered" in steps["a"].failure.last_line
    assert steps["b"].op == "error" and "another cutover failed in this run" in steps["b"].failure.last_line
    assert _posts(calls, waiting) == Counter(), "the waiting number never went offline"
    assert registered(emulator.number(waiting))
