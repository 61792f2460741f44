"""Throttles: every rate-limit code makes a read wait the time Meta states, within a bound.

Code 3 (served as HTTP 500) is never retried; code 33 means the number is gone, under the same
confirmation rule as 100/33.
"""

from __future__ import annotations

import io
import json
import time

import pytest

from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT
from provider import errors
from provider.answers import error_from_response
from provider.client import GraphClient, RetryPolicy
from provider.config import ProviderConfig
from provider.errors import ERRORS_BY_CODE
from provider.executor import Executor
from provider.fleet import reset_process_state
from provider.declaration import Declaration
from provider.notices import Notices
from tests.graph_transport import FakeGraph, graph_error, graph_session, ok

THROTTLE_CODES = (4, 17, 32, 341, 613, 80007, 80008, 130429)
NUMBER = "106540352242922"
TOKEN = "EAAthrottle-test-token-3141"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def usage(regain_minutes: float) -> str:
    return json.dumps({"102290129340398": [{"type": "whatsapp_business_management", "call_count": 100,
                                            "total_cputime": 1, "total_time": 1,
                                            "estimated_time_to_regain_access": regain_minutes}]})


def scripted(*answers):
    """A transport that gives ``answers`` in order, then a healthy number forever."""
    queue = list(answers)

    def handler(request):
        if queue:
            return queue.pop(0)
        return ok({"id": NUMBER, "platform_type": "CLOUD_API", "code_verification_status": "VERIFIED"})
    return handler


def client_with(handler, sleeps, **policy) -> tuple[GraphClient, FakeGraph]:
    session, fake = graph_session(handler)
    config = ProviderConfig.parse({"access_token": TOKEN}, env={})
    return GraphClient(config, session=session, sleep=sleeps, retry=RetryPolicy(**policy)), fake


@pytest.mark.parametrize("code", THROTTLE_CODES)
def test_every_throttle_code_is_a_rate_limit_that_a_read_retries(code):
    # 80008 is the business account's own limit (AccountLimitReached, a RateLimited); the others are RateLimited
    assert ERRORS_BY_CODE[code] is (errors.AccountLimitReached if code == 80008 else errors.RateLimited)
    assert isinstance(error_from_response(400, {"error": {"code": code}}), errors.TransientError)
    sleeps = Sleeps()
    client, fake = client_with(scripted(graph_error(code, "(#%d) rate limited" % code)), sleeps)
    assert client.get_number(NUMBER).registered
    assert len(fake.requests) == 2 and len(sleeps) == 1


@pytest.mark.parametrize("code", THROTTLE_CODES)
def test_reads_hit_by_each_throttle_converge(emulator, code):
    for path in (f"/{REGISTERED_DEFAULT}", f"/{REGISTERED_DEFAULT}/settings"):
        emulator.fault("GET", path, code=code, count=1)
    reset_process_state()
    sleeps = Sleeps()
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
    client = GraphClient(config, sleep=sleeps, retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.05))
    try:
        outcome = Executor(client, notices=Notices(io.StringIO()), sleep=sleeps).converge(
            Declaration(REGISTERED_DEFAULT, "BR", pin=DEMO_PIN))
    finally:
        client.close()
        reset_process_state()
    assert outcome.live.region == "BR" and outcome.live.registered
    throttled = [c for c in emulator.calls() if c["code"] == code]
    assert len(throttled) == 2 and len(sleeps) >= 2, "both throttled reads waited, then went through"


def test_a_read_waits_as_long_as_retry_after_says_even_past_the_mutation_cap():
    sleeps = Sleeps()
    client, fake = client_with(scripted(graph_error(80008, "throttled", headers={"Retry-After": "45"})), sleeps,
                               max_retry_after=10)
    client.get_number(NUMBER)
    assert sleeps == [45.0] and len(fake.requests) == 2


def test_a_read_waits_the_estimated_time_to_regain_access():
    sleeps = Sleeps()
    answer = graph_error(80008, "throttled", headers={"X-Business-Use-Case-Usage": usage(0.5)})
    client, _ = client_with(scripted(answer), sleeps)
    client.get_number(NUMBER)
    assert sleeps == [30.0], "estimated_time_to_regain_access is in minutes"


def test_past_the_bound_the_error_says_when_meta_accepts_calls_again():
    sleeps = Sleeps()
    answer = graph_error(80008, "(#80008) There have been too many calls to this WhatsApp Business account",
                         headers={"X-Business-Use-Case-Usage": usage(5)})
    client, fake = client_with(scripted(answer), sleeps, max_throttle_wait=60)
    before = time.time()
    with pytest.raises(errors.RateLimited) as caught:
        client.get_number(NUMBER)
    assert sleeps == [] and len(fake.requests) == 1, "a wait past the bound is not started"
    expected = time.strftime("%Y-%m-%d %H:%M", time.gmtime(before + 300))
    assert f"Meta accepts calls again at {expected}" in str(caught.value) and "UTC" in str(caught.value)
    assert caught.value.retry_after == 300


def test_the_bound_is_on_the_total_wait():
    sleeps = Sleeps()
    throttled = graph_error(4, "throttled", headers={"Retry-After": "40"})
    client, fake = client_with(scripted(throttled, throttled), sleeps, max_throttle_wait=60)
    with pytest.raises(errors.RateLimited, match="Meta accepts calls again at"):
        client.get_number(NUMBER)
    assert sleeps == [40.0] and len(fake.requests) == 2


def test_a_throttled_mutation_keeps_todays_rules():
    sleeps = Sleeps()
    client, fake = client_with(scripted(graph_error(80008, "throttled", headers={"Retry-After": "45"})), sleeps,
                               max_retry_after=10)
    client.set_storage(NUMBER, "BR")
    assert sleeps == [10.0] and len(fake.requests) == 2, "idempotent settings: retried, Retry-After capped"
    client, fake = client_with(scripted(graph_error(80008, "throttled")), Sleeps())
    with pytest.raises(errors.RateLimited):
        client.register(NUMBER, DEMO_PIN)
    assert len(fake.requests) == 1, "register is never retried by the client"


def test_code_3_is_never_retried_despite_http_500():
    sleeps = Sleeps()
    client, fake = client_with(scripted(graph_error(3, "(#3) Application does not have the capability",
                                                    status=500)), sleeps)
    with pytest.raises(errors.CapabilityMissing) as caught:
        client.get_number(NUMBER)
    assert isinstance(caught.value, errors.UserActionRequired) and len(fake.requests) == 1 and sleeps == []


def test_code_33_is_a_deleted_number_under_the_object_not_found_rule_only_with_subcode_33(emulator):
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
    client = GraphClient(config, sleep=Sleeps())
    emulator.fault("GET", f"/{REGISTERED_BR}", code=33, subcode=33,
                   message="The business phone number has been deleted.", count=1)
    with pytest.raises(errors.ObjectNotFound) as caught:
        client.get_number(REGISTERED_BR)
    assert isinstance(caught.value, errors.NumberDeleted) and caught.value.code == 33
    assert len(emulator.calls()) == 1, "never retried"
    # without Meta's subcode 33 it is never an ObjectNotFound, so it can never confirm a deletion
    emulator.fault("GET", f"/{REGISTERED_BR}", code=33, message="The business phone number has been deleted.",
                   count=1)
    with pytest.raises(errors.UnconfirmedMissingObject):
        client.get_number(REGISTERED_BR)
    assert len(emulator.calls()) == 2, "never retried"


@pytest.mark.parametrize("listed", [True, False])
def test_code_33_on_refresh_marks_the_number_gone_only_when_its_business_account_confirms(emulator, listed):
    from emulator.seed import DEMO_WABA_ID
    from tests.engine import Engine
    from tests.reliability_report import engine_config

    eng = Engine(engine_config(emulator))
    program = {"n": {"phone_number_id": REGISTERED_BR, "region": "BR", "pin": DEMO_PIN, "waba_id": DEMO_WABA_ID}}
    assert eng.up(program)["n"].error is None
    if not listed:
        emulator.delete_number(REGISTERED_BR)
    # with Meta's subcode 33 (without it nothing is ever marked deleted: tests/protocol/test_provider_engine.py)
    # on the node and its settings: with its wabaId, a refresh takes the node from the account's listing
    emulator.fault("GET", f"/{REGISTERED_BR}*", code=33, subcode=33,
                   message="The business phone number has been deleted.", count=10)
    step = eng.refresh()["n"]
    if listed:
        assert step.op == "error" and f"cannot see number {REGISTERED_BR}" in step.failure.last_line
        assert "n" in eng.state, "Meta's word alone never removes a resource"
    else:
        assert step.op == "deleted" and "n" not in eng.state and "no longer exists" in eng.last_stderr
