"""Property (issue 5): from any live state to any desired state, in both API flows and both emulator
modes, running the plan on the emulator yields the desired state, with the shortest plan.

In-process (``Executor`` + ``reset_process_state()``) against the session emulators, so that each
example takes a few milliseconds. Every example gets a freshly added number, so examples never
share a register budget or a call log.
"""

from __future__ import annotations

import io
import itertools
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.seed import DEMO_PIN, REGIONS
from provider.client import GraphClient
from provider.config import ProviderConfig
from provider.executor import Executor
from provider.fleet import reset_process_state
from provider.declaration import Declaration
from provider.notices import Notices
from tests.calllog import call_kind
from tests.reliability_report import registered, storage_of

DEFAULT = "DEFAULT"
STORAGES = (DEFAULT, *REGIONS)
_ids = itertools.count(1)


def minimal_length(registered_now: bool, live: str, desired: str, settings_flow: bool) -> int:
    """The fewest mutating calls that leave the number registered with ``desired``.

    Storage changes only while unregistered, so a registered number that differs must go offline
    (deregister) and come back (register); v21+ changes storage with a settings call in between,
    v20 passes the region to register.
    """
    if registered_now and live == desired:
        return 0
    if settings_flow:
        if registered_now:
            return 3
        return 1 if live == desired else 2
    return 2 if registered_now else 1


def _record(storage: str) -> dict:
    if storage == DEFAULT:
        return {"storage_configuration": {"status": "DEFAULT"}}
    return {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": storage}}


@pytest.fixture(scope="module")
def emulators(_emulator_server, _emulator_keeps_storage_server):
    for emu in (_emulator_server, _emulator_keeps_storage_server):
        emu.reset("demo")
    yield {"clears storage": _emulator_server, "keeps storage": _emulator_keeps_storage_server}
    for emu in (_emulator_server, _emulator_keeps_storage_server):
        emu.reset("demo")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    is_registered=st.booleans(),
    live=st.sampled_from(STORAGES),
    desired=st.sampled_from(STORAGES),
    version=st.sampled_from(["v25.0", "v20.0"]),
    mode=st.sampled_from(["clears storage", "keeps storage"]),
    has_pin=st.booleans(),
    lower_case_answer=st.booleans(),
)
def test_any_live_state_converges_to_any_desired_state_with_the_shortest_plan(
        emulators, is_registered, live, desired, version, mode, has_pin, lower_case_answer):
    emu = emulators[mode]
    number = f"3{next(_ids):014d}"
    settings_record = _record(live)
    if lower_case_answer:  # Meta's reference pages show these values in lower case too
        conf = settings_record["storage_configuration"]
        settings_record["storage_configuration"] = {k: v.lower() for k, v in conf.items()}
    emu.add_number(id=number, platform_type="CLOUD_API" if is_registered else "NOT_APPLICABLE",
                   pin=DEMO_PIN if has_pin else None, settings=settings_record)

    reset_process_state()
    config = ProviderConfig.parse({"access_token": emu.token, "graph_api_url": emu.url, "api_version": version})
    client = GraphClient(config)
    executor = Executor(client, notices=Notices(io.StringIO()))
    try:
        outcome = executor.converge(Declaration(number, desired, pin=DEMO_PIN))
    finally:
        client.close()
        reset_process_state()

    record = emu.number(number)
    assert registered(record), "the number ends registered"
    assert storage_of(record) == desired, f"storage {storage_of(record)}, declared {desired}"
    assert outcome.live.registered and outcome.live.region == desired, "the read-back agrees"

    assert outcome.plan is not None  # converge planned, then read back
    shortest = minimal_length(is_registered, live, desired, config.settings_flow)
    assert len(outcome.plan.calls) == shortest, outcome.plan.describe()
    assert outcome.applied_steps == outcome.plan.steps
    sent = Counter(call_kind(c, number) for c in emu.calls()
                   if c["path"].startswith(f"/{number}") and c["method"] == "POST")
    assert sum(sent.values()) == shortest, f"exactly the planned calls reach Meta: {sent}"
    if not config.settings_flow:
        assert "POST settings" not in sent, "v20 changes storage through register"
    if outcome.plan.in_sync:
        assert outcome.registration_calls == []
    else:
        assert len(outcome.registration_calls) == sent["POST register"] + sent["POST deregister"]


@pytest.mark.parametrize("registered_now,live,desired,flow,expected", [
    (True, "BR", "BR", True, 0), (True, DEFAULT, "BR", True, 3), (False, DEFAULT, "BR", True, 2),
    (False, "BR", "BR", True, 1), (True, "BR", "BR", False, 0), (True, "BR", "IN", False, 2),
    (False, "BR", DEFAULT, False, 1),
])
def test_the_minimal_table(registered_now, live, desired, flow, expected):
    assert minimal_length(registered_now, live, desired, flow) == expected
