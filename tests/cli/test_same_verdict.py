"""Issue 24, property: for any declaration, live number and context, what ``python -m provider plan --state``
says about a number is what the provider then does with it.

One example: a fresh emulator number in a generated live state; a stack file (and, when the number is
in state, a state export) declaring it; the clock, policy, windows and register history generated too.
The CLI's report (``cli.report.assess``, what plan/drift render) is compared with the provider class,
driven as the engine drives it in one process: Check, then Diff and Update for a number in state, or
Create for a new one. Both must agree on:

- refused at check (an invalid entry, a region outside allowedRegions) or not;
- the diff: changes exactly when the CLI reports drift or a live region outside the policy;
- preflight: the same rules refuse, in the same order; and when none does, the calls the CLI lists are
  the steps the provider applied.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from emulator.harness import Emulator
from emulator.seed import DEMO_PIN
from provider import schedule
from provider.cli.report import NumberReport, Scope, assess
from provider.errors import PreflightError
from provider.fleet import reset_process_state
from provider.inputs import from_stack_entry
from provider.ledger import CallLedger
from provider.lifecycle import SCHEMA_VERSION
from provider.resource import PhoneNumberStorageProvider
from provider.stackfile import load_stack, load_state
from tests.cli.support import state_export

WINDOW = "Sun 03:00-05:00 Europe/Berlin"
INSIDE = datetime(2026, 12, 13, 2, 30, tzinfo=timezone.utc)  # Sunday 03:30 in Berlin
OUTSIDE = datetime(2026, 12, 9, 12, 0, tzinfo=timezone.utc)  # Wednesday
STORAGE = {"DEFAULT": {"status": "DEFAULT"}, "NO_STORAGE": {"status": "NO_STORAGE_ENABLED"},
           **{code: {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": code} for code in ("BR", "IN")}}
_ids = count(1)


def _cli_verdict(project_dir: Path, stack_config: dict[str, Any], number_id: str, state: dict[str, Any] | None,
                 now: datetime) -> NumberReport:
    (project_dir / "stacks" / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": stack_config}))
    state_file = project_dir / "state.json"  # always given: the CLI then knows a create from an update
    state_file.write_text(json.dumps(state_export({number_id: state} if state is not None else {})))
    stack = load_stack("test", project_dir)
    report = assess(stack, stack.provider_config(), allowed_regions=_allowed(stack_config),
                    state=load_state(state_file), scope=Scope(removed=True), now=now)
    [number] = [n for n in report.numbers if n.number_id == number_id]
    return number


def _allowed(stack_config: dict[str, Any]) -> frozenset[str] | None:
    allowed = stack_config.get("whatsapp-local-storage:allowedRegions")
    return None if allowed is None else frozenset(allowed)


def _provider(stack_config: dict[str, Any]) -> PhoneNumberStorageProvider:
    """A fresh provider process, configured as the engine configures it (structured values as JSON text)."""
    reset_process_state()
    provider = PhoneNumberStorageProvider()
    config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in stack_config.items()}
    provider.configure(ConfigureRequest(Config(config, "whatsapp-local-storage")))
    return provider


def weighted(common: Any, rare: Any) -> st.SearchStrategy[Any]:
    """``common`` three times as often as ``rare``: most examples get past check and preflight's first rules."""
    return st.sampled_from([common, common, common, rare])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    region=st.sampled_from(["DEFAULT", "BR", "IN"]),
    pin=weighted(DEMO_PIN, None),
    enforce_pin=st.booleans(),
    allow_cutover=st.booleans(),
    own_windows=st.sampled_from([None, [], [WINDOW]]),
    stack_windows=st.sampled_from([None, [WINDOW]]),
    now=st.sampled_from([INSIDE, OUTSIDE]),
    allowed=st.sampled_from([None, None, ["BR", "IN"], ["BR", "IN", "DEFAULT"]]),
    live_storage=st.sampled_from(sorted(STORAGE)),
    live_registered=st.booleans(),
    verified=weighted(True, False),
    biz_app=weighted(False, True),
    in_state=st.booleans(),
    calls_in_state=st.sampled_from([0, 9, 10]),
)
# Always, whatever the random draw: the create gate, a cutover outside its window, a spent budget.
@example(region="IN", pin=DEMO_PIN, enforce_pin=False, allow_cutover=False, own_windows=None, stack_windows=None,
         now=OUTSIDE, allowed=None, live_storage="BR", live_registered=True, verified=True, biz_app=False,
         in_state=False, calls_in_state=0)
@example(region="IN", pin=DEMO_PIN, enforce_pin=True, allow_cutover=False, own_windows=None, stack_windows=[WINDOW],
         now=OUTSIDE, allowed=None, live_storage="BR", live_registered=True, verified=True, biz_app=False,
         in_state=True, calls_in_state=0)
@example(region="IN", pin=DEMO_PIN, enforce_pin=False, allow_cutover=False, own_windows=[WINDOW], stack_windows=None,
         now=INSIDE, allowed=None, live_storage="DEFAULT", live_registered=True, verified=True, biz_app=False,
         in_state=True, calls_in_state=9)
def test_the_clis_verdict_for_a_number_is_the_resources_diff_and_preflight_verdict(
        project_dir: Path, emulator: Emulator, region: str, pin: str | None, enforce_pin: bool, allow_cutover: bool,
        own_windows: list[str] | None, stack_windows: list[str] | None, now: datetime, allowed: list[str] | None,
        live_storage: str, live_registered: bool, verified: bool, biz_app: bool, in_state: bool,
        calls_in_state: int) -> None:
    number_id = f"4{next(_ids):014d}"
    emulator.add_number(id=number_id, pin=DEMO_PIN, platform_type="CLOUD_API" if live_registered else "NOT_APPLICABLE",
                        code_verification_status="VERIFIED" if verified else "NOT_VERIFIED", is_on_biz_app=biz_app,
                        settings={"storage_configuration": STORAGE[live_storage]})
    entry: dict[str, Any] = {"region": region, "enforcePin": enforce_pin, "allowCutoverOnCreate": allow_cutover}
    entry.update({key: value for key, value in (("pin", pin), ("cutoverWindows", own_windows)) if value is not None})
    stack_config: dict[str, Any] = {
        "whatsapp:graphApiUrl": emulator.url, "whatsapp:accessToken": emulator.token, "whatsapp:apiVersion": "v25.0",
        "whatsapp-local-storage:phoneNumbers": {number_id: entry},
        **({"whatsapp-local-storage:allowedRegions": allowed} if allowed is not None else {}),
        **({"whatsapp-local-storage:cutoverWindows": stack_windows} if stack_windows is not None else {}),
    }
    # As the stack program declares the resource: its inputs, with the stack's windows when it has none.
    declaration, _failures = from_stack_entry(number_id, entry, today=now.date())
    if declaration is not None and declaration.cutover_windows is None and stack_windows is not None:
        declaration = declaration.with_windows(schedule.normalised(stack_windows, today=now.date()))
    inputs = declaration.as_inputs() if declaration is not None else {"phone_number_id": number_id, **entry}
    history = CallLedger.of([now - timedelta(hours=hour) for hour in range(1, calls_in_state + 1)]).serialise()
    managed = STORAGE[live_storage]["status"] != "NO_STORAGE_ENABLED"
    state = None if not in_state or declaration is None else {
        **declaration.echoes(), **({"region": live_storage} if managed else {}), "registered": live_registered,
        "storage_status": "UNKNOWN", "applied_steps": [], "registration_calls": history,
        "schema_version": SCHEMA_VERSION}

    with mock.patch.dict(os.environ, {"WHATSAPP_TEST_NOW": now.strftime("%Y-%m-%dT%H:%M:%SZ")}):
        cli = _cli_verdict(project_dir, stack_config, number_id, state, now)
        provider = _provider(stack_config)
        try:
            checked = provider.check({}, inputs)
            refused_at_check = bool(checked.failures)
            assert refused_at_check == (cli.invalid or cli.policy_blocks_declaration), (cli.error, checked.failures)
            if refused_at_check:
                event("check")
                return
            props = dict(checked.inputs or {})
            if state is not None:
                diff = provider.diff(number_id, state, props)
                assert bool(diff.changes) == (cli.drifted or cli.live_complies_with_policy is False), cli.plan
            try:
                outcome = provider.update(number_id, state, props) if state is not None else provider.create(props)
                event("ran")
            except PreflightError as refused:
                event("refused " + ",".join(sorted(getattr(p, "rule").value for p in refused.problems)))
                rules = [getattr(problem, "rule", None) for problem in refused.problems]
                assert rules == [p.rule for p in cli.problems], (rules, cli.problems)
                return
            assert cli.problems == [] and cli.plan is not None
            assert (outcome.outs or {})["applied_steps"] == cli.plan.steps
        finally:
            reset_process_state()
