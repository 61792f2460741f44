"""After a plan runs, the number is read back: a number that does not read back as declared is a
failed converge, never a success (the state would record a region the number does not have).

A fake Graph API (``tests/graph_transport.py``) accepts every call but never applies the storage
change, the way a silently ignored ``/settings`` would look; the real client and executor run.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests

from provider.client import GraphClient
from provider.config import ProviderConfig
from provider.executor import Executor
from provider.failures import ConvergeFailed
from provider.errors import RetryRefused
from provider.fleet import reset_process_state
from provider.declaration import Declaration
from provider.notices import Notices
from tests.graph_transport import Answer, graph_session, ok, path_of

NUMBER = "106540352242922"
PIN = "123456"


class IgnoringGraph:
    """A registered number in DEFAULT storage whose /settings answers success and changes nothing."""

    def __init__(self) -> None:
        self.registered = True
        self.posts: list[str] = []

    def __call__(self, request: requests.PreparedRequest) -> Answer:
        path = path_of(request).split("?")[0]
        if request.method == "GET" and path == f"/{NUMBER}/settings":
            return ok({"storage_configuration": {"status": "DEFAULT"}})
        if request.method == "GET" and path == f"/{NUMBER}":
            return ok({"id": NUMBER, "display_phone_number": "+1 555 0100", "verified_name": "Acme",
                       "code_verification_status": "VERIFIED", "status": "CONNECTED",
                       "platform_type": "CLOUD_API" if self.registered else "NOT_APPLICABLE",
                       "is_on_biz_app": False, "is_pin_enabled": True})
        assert request.method == "POST", request.method
        self.posts.append(path.rsplit("/", 1)[-1])
        if path.endswith("/deregister"):
            self.registered = False
        elif path.endswith("/register"):
            raw = request.body or b"{}"
            assert isinstance(raw, (bytes, str)), "a JSON body"
            body: dict[str, Any] = json.loads(raw)
            assert body.get("pin") == PIN
            self.registered = True
        return ok()


@pytest.fixture
def executor_and_graph():
    reset_process_state()
    graph = IgnoringGraph()
    session, _fake = graph_session(graph)
    client = GraphClient(ProviderConfig.parse({"access_token": "test-token-not-real",
                                               "graph_api_url": "https://graph.facebook.com",
                                               "api_version": "v25.0"}), session=session)
    yield Executor(client, notices=Notices(io.StringIO())), graph
    client.close()
    reset_process_state()


def test_a_plan_whose_calls_all_succeed_but_the_number_reads_back_otherwise_is_a_failure(executor_and_graph):
    executor, graph = executor_and_graph
    with pytest.raises(ConvergeFailed) as caught:
        executor.converge(Declaration(NUMBER, "BR", pin=PIN))
    error = caught.value
    assert graph.posts == ["deregister", "settings", "register"]
    assert error.step == "readback" and not error.offline and error.storage == "DEFAULT"
    text = str(error)
    assert "Meta accepted every call, but the number reads back registered with storage DEFAULT" in text
    assert "not registered with BR (Brazil) as declared" in text
    assert "Do NOT re-run automatically" in text
    assert "This run made 2 register/deregister calls" in text
    assert PIN not in text


def test_a_retry_after_a_read_back_mismatch_is_refused_before_any_call(executor_and_graph):
    """An on_error retry would be another cutover with no reason to end otherwise."""
    executor, graph = executor_and_graph
    with pytest.raises(ConvergeFailed):
        executor.converge(Declaration(NUMBER, "BR", pin=PIN))
    with pytest.raises(RetryRefused):
        executor.converge(Declaration(NUMBER, "BR", pin=PIN))
    assert graph.posts == ["deregister", "settings", "register"], "the retry made no call"
