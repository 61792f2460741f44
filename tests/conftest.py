"""Shared fixtures: emulators with the demo seed, and `EmulatorHTTP`, plain HTTP for emulator tests.

`emulator` and `emulator_keeps_storage` reuse one in-process server per session and reset it
before every test, so each test sees fresh state (numbers, faults, calls, latency, clock).
Their `stop()` is a no-op; start a private one with `emulator.harness.start_emulator()` when a
test needs other tokens, a state file or a subprocess.
"""

from __future__ import annotations

import pytest
import requests

from emulator.harness import Emulator, start_emulator
from tests.graph_transport import appsecret_proof


def _controller(session: pytest.Session) -> bool:
    """The pytest-xdist controller, or a run without workers (not a worker)."""
    return not hasattr(session.config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if _controller(session):
        from tests.reliability_report import clear_fault_rows

        clear_fault_rows()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The fault table holds every worker's rows (each worker saved its own share)."""
    if _controller(session):
        from tests.reliability_report import merge_fault_rows

        merge_fault_rows()


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


class EmulatorHTTP:
    """Raw requests against an emulator's Graph paths: `http.post("/ID/register", json=..., version="v20.0")`.

    Not the product's client (provider.client.GraphClient): no retries, no error mapping, so a
    test sees exactly what the emulator answered. With `app_secret`, every call carries the
    matching `appsecret_proof` as a query parameter.
    """

    def __init__(self, emu: Emulator, version: str = "v21.0", token: str | None = None,
                 app_secret: str | None = None):
        self.emu = emu
        self.version = version
        self.session = requests.Session()
        self.session.trust_env = False
        if token is None:
            token = emu.token
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        if app_secret:
            self.session.params = {"appsecret_proof": appsecret_proof(app_secret, token)}

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
    http = EmulatorHTTP(emulator)
    yield http
    http.close()


@pytest.fixture
def make_emulator_http():
    """Factory for EmulatorHTTP(emu, version=..., token=..., app_secret=...); closed after the test."""
    made = []

    def make(emu: Emulator, version: str = "v21.0", token: str | None = None,
             app_secret: str | None = None) -> EmulatorHTTP:
        http = EmulatorHTTP(emu, version, token, app_secret)
        made.append(http)
        return http

    yield make
    for http in made:
        http.close()
