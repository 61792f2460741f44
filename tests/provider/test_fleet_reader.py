"""The reader's rules on how old a read may be, and the client's one wait at Meta's hourly limit.

The clock of the process's memory is moved, never slept on; Meta's answers come from the
emulator or a scripted transport, and calls are counted from what was sent.
"""

from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from emulator.harness import Emulator
from emulator.seed import DEMO_WABA_ID, REGISTERED_BR
from provider import errors, memory
from provider.client import GraphClient
from provider.config import ProviderConfig
from provider.memory import LISTING_PAGE, ReadCache
from provider.notices import Notices
from provider.reads import LiveReader
from tests.graph_transport import Answer, graph_error, graph_session, ok

NUMBER = "106540352242922"


class Clock:
    """``memory``'s monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(memory, "time", SimpleNamespace(monotonic=moved.monotonic, time=time.time))
    return moved


@pytest.fixture
def reader(emulator: Emulator) -> Iterator[tuple[LiveReader, Emulator]]:
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
    client = GraphClient(config, notices=Notices(io.StringIO()))
    yield LiveReader(client, target="emulator", api="emulator/v21.0", cache=ReadCache()), emulator
    client.close()


def paths(emulator: Emulator) -> list[str]:
    calls = [c["path"] for c in emulator.calls()]
    emulator.clear_calls()
    return calls


def test_a_diff_never_uses_a_node_or_storage_read_older_than_the_read_caches_bound(
        reader: tuple[LiveReader, Emulator], clock: Clock) -> None:
    read, emulator = reader
    listing, settings = f"/{DEMO_WABA_ID}/phone_numbers", f"/{REGISTERED_BR}/settings"
    read.read_one(REGISTERED_BR, waba_id=DEMO_WABA_ID, any_listing=True)  # a refresh's Read
    assert sorted(paths(emulator)) == sorted([listing, settings])
    clock.offset += 3
    read.read_one(REGISTERED_BR, waba_id=DEMO_WABA_ID)  # its Diff, 3 s later: the same read
    assert paths(emulator) == []
    clock.offset += 3
    read.read_one(REGISTERED_BR, waba_id=DEMO_WABA_ID, any_listing=True)  # another Read: the process's listing
    assert paths(emulator) == [settings]
    # a Diff: that listing (one page) is 6 s old, the settings are not: one call lists the account again
    read.read_one(REGISTERED_BR, waba_id=DEMO_WABA_ID)
    assert paths(emulator) == [listing]


def test_a_diff_never_fetches_a_listing_of_several_pages_again_for_one_node(
        reader: tuple[LiveReader, Emulator], clock: Clock) -> None:
    """Fetching every page of a large account again for one Diff's node (a 10-page account over 5
    Diffs: 50 counted calls where 5 node reads do) cost more than the node read."""
    read, emulator = reader
    for i in range(LISTING_PAGE):  # the demo account's 6 numbers and these: two pages
        emulator.add_number(id=f"1065403522{i:05d}", waba_id=DEMO_WABA_ID)
    read.read_one(REGISTERED_BR, waba_id=DEMO_WABA_ID, any_listing=True)  # a refresh's Read: both pages
    assert paths(emulator).count(f"/{DEMO_WABA_ID}/phone_numbers") == 2
    clock.offset += 6
    read.read_one(REGISTERED_BR, waba_id=DEMO_WABA_ID)  # its Diff, 6 s later: the node, not two pages
    assert sorted(paths(emulator)) == [f"/{REGISTERED_BR}", f"/{REGISTERED_BR}/settings"]


def test_after_a_change_the_number_is_read_from_its_node_not_from_an_earlier_listing(
        reader: tuple[LiveReader, Emulator]) -> None:
    read, emulator = reader
    read.read_one(REGISTERED_BR, waba_id=DEMO_WABA_ID, any_listing=True)
    paths(emulator)
    read.forget(REGISTERED_BR)  # a mutating call was made
    read.read_one(REGISTERED_BR, waba_id=DEMO_WABA_ID, any_listing=True)
    assert sorted(paths(emulator)) == sorted([f"/{REGISTERED_BR}", f"/{REGISTERED_BR}/settings"])


def usage(regain_minutes: float) -> str:
    return json.dumps({DEMO_WABA_ID: [{"type": "whatsapp_business_management", "call_count": 100,
                                       "total_cputime": 100, "total_time": 100,
                                       "estimated_time_to_regain_access": regain_minutes}]})


def limited(regain_minutes: float) -> Answer:
    """Meta's 80008, with the business account's usage header stating the wait."""
    status, body, _ = graph_error(80008, "(#80008) There have been too many calls to this WhatsApp Business account")
    return status, body, {"X-Business-Use-Case-Usage": usage(regain_minutes)}


def scripted_client(answers: list[Answer]) -> tuple[GraphClient, Any, list[float], io.StringIO]:
    def handler(_request: Any) -> Answer:
        return answers.pop(0) if answers else ok({"id": NUMBER, "platform_type": "CLOUD_API",
                                                 "code_verification_status": "VERIFIED"})
    session, fake = graph_session(handler)
    sleeps: list[float] = []
    err = io.StringIO()
    client = GraphClient(ProviderConfig.parse({"access_token": "EAAlimit-test-token-2718"}, env={}),
                         session=session, sleep=sleeps.append, notices=Notices(err))
    return client, fake, sleeps, err


def test_an_80008_whose_access_returns_within_a_minute_is_waited_for_once_and_said() -> None:
    client, fake, sleeps, err = scripted_client([limited(1)])
    assert client.get_number(NUMBER).registered
    assert sleeps == [60.0] and len(fake.requests) == 2
    assert f"business account {DEMO_WABA_ID} reached Meta's hourly limit for reading numbers; access returns " \
           "within a minute: waiting 60 s, once" in err.getvalue()
    client, fake, sleeps, err = scripted_client([limited(1), limited(1)])
    with pytest.raises(errors.AccountLimitReached) as caught:
        client.get_number(NUMBER)
    assert sleeps == [60.0] and len(fake.requests) == 2, "waited for once, never twice"
    assert caught.value.waba_id == DEMO_WABA_ID and f"business account {DEMO_WABA_ID}" in str(caught.value)


def test_an_80008_whose_access_returns_later_is_not_waited_for() -> None:
    client, fake, sleeps, _ = scripted_client([limited(2)])
    with pytest.raises(errors.AccountLimitReached, match=r"in about 2 minutes"):
        client.get_number(NUMBER)
    assert sleeps == [] and len(fake.requests) == 1


def test_each_number_of_a_stopped_account_gets_its_own_error_without_the_others_frames() -> None:
    """One stored 80008 raised for every number of a limited account grew one traceback with every
    raise (Pulumi prints it in full per resource): each reader gets a fresh copy, the same message."""
    from provider.errors import AccountLimitReached
    from provider.memory import AccountLimits

    limits = AccountLimits()
    try:
        raise AccountLimitReached("too many calls", code=80008)
    except AccountLimitReached as caught:
        limits.stop(DEMO_WABA_ID, caught)
    first, second = limits.stopped(DEMO_WABA_ID), limits.stopped(DEMO_WABA_ID)
    assert first is not None and second is not None and first is not second
    assert first.__traceback__ is None and str(first) == str(second) and first.code == 80008
