"""Shared fixtures: emulators with the demo seed, and a small Graph client for emulator tests.

`emulator` and `emulator_keeps_storage` reuse one in-process server per session and reset it
before every test, so each test sees fresh state (numbers, faults, calls, latency, clock).
Their `stop()` is a no-op; start a private one with `emulator.harness.start_emulator()` when a
test needs other tokens, a state file or a subprocess.
"""

from __future__ import annotations

import pytest
import requests

from emulator.harness import Emulator, start_emulator


@pytest.fixture(scope="session")
def _emulator_server():
    emu = start_emulator(seed="demo")
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def _emulator_keeps_storage_server():
    emu = start_emulator(seed="demo", deregister_keeps_storage=True)
    yield emu
    emu.stop()


@pytest.fixture
def emulator(_emulator_server) -> Emulator:
    _emulator_server.reset("demo")
    return Emulator(_emulator_server.url, _emulator_server.token)


@pytest.fixture
def emulator_keeps_storage(_emulator_keeps_storage_server) -> Emulator:
    _emulator_keeps_storage_server.reset("demo")
    return Emulator(_emulator_keeps_storage_server.url, _emulator_keeps_storage_server.token)


class GraphClient:
    """requests against an emulator: `graph.post("/ID/register", json=..., version="v20.0")`."""

    def __init__(self, emu: Emulator, version: str = "v21.0", token: str | None = None):
        self.emu = emu
        self.version = version
        self.session = requests.Session()
        self.session.trust_env = False
        if token is None:
            token = emu.token
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str, version: str | None = None) -> str:
        version = self.version if version is None else version
        return f"{self.emu.url}/{version}{path}" if version else f"{self.emu.url}{path}"

    def request(self, method: str, path: str, *, version: str | None = None, **kw) -> requests.Response:
        kw.setdefault("timeout", 10)
        return self.session.request(method, self.url(path, version), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def close(self):
        self.session.close()


@pytest.fixture
def emulator_api(emulator):
    client = GraphClient(emulator)
    yield client
    client.close()


@pytest.fixture
def make_graph_client():
    """Factory for GraphClient(emu, version=..., token=...); sessions are closed after the test."""
    clients = []

    def make(emu: Emulator, version: str = "v21.0", token: str | None = None) -> GraphClient:
        client = GraphClient(emu, version, token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
