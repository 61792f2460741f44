"""Hardening, round 3 (issue 29, item 8): the Graph API only serves local clients, as the control
API does, and the server's threads and pending request bodies are bounded, with a clear 503 past
the bounds. The reproductions (400 slow connections, 60 pending 1 MiB bodies) run cheaply: the
clients send headers only, and everything is closed as soon as the bound is shown."""

from __future__ import annotations

import contextlib
import http.client
import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.harness import Emulator, start_emulator
from emulator import pool
from emulator.pool import DEFAULT_THREADS, MAX_PENDING_BODY_BYTES
from emulator.seed import DEMO_WABA_ID, REGISTERED_BR, REGISTERED_DEFAULT


def graph(emulator: Emulator, method: str, path: str, headers: dict[str, str] | None = None,
          body: Any = None) -> tuple[int, dict[str, Any]]:
    host, port = emulator.url.rsplit("/", 1)[-1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, "/v25.0" + path, body=data,
                     headers={"Authorization": f"Bearer {emulator.token}", "Content-Type": "application/json",
                              **(headers or {})})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


# -- the Graph API serves local clients only ---------------------------------------------------

@pytest.mark.parametrize("headers", [
    {"Host": "attacker.example:8787"},                               # DNS rebinding
    {"Host": "127.0.0.1.attacker.example"},
    {"Origin": "http://attacker.example"},                           # a web page's request
    {"Origin": "null"},
    {"Origin": "http://localhost.attacker.example:8787"},
])
@pytest.mark.parametrize("method, path", [("POST", f"/{REGISTERED_BR}/deregister"), ("GET", f"/{REGISTERED_BR}"),
                                          ("GET", f"/{DEMO_WABA_ID}/phone_numbers")])
def test_the_graph_api_refuses_foreign_hosts_and_origins_and_changes_nothing(
        emulator: Emulator, headers: dict[str, str], method: str, path: str) -> None:
    status, answer = graph(emulator, method, path, headers)
    assert status == 403 and "Graph API refused" in answer["error"]["message"]
    assert emulator.number(REGISTERED_BR)["platform_type"] == "CLOUD_API"
    assert emulator.calls() == [] and emulator.rate_limits()["accounts"][DEMO_WABA_ID]["calls"] == 0


@pytest.mark.parametrize("headers", [{}, {"Host": "localhost:1"}, {"Origin": "http://127.0.0.1:9"},
                                     {"Host": "[::1]:8787"}, {"Origin": "https://localhost"}])
def test_the_graph_api_serves_local_hosts_and_origins(emulator: Emulator, headers: dict[str, str]) -> None:
    assert graph(emulator, "GET", f"/{REGISTERED_DEFAULT}", headers)[0] == 200


# -- bounded threads and pending bodies ---------------------------------------------------------

@pytest.fixture
def private() -> Iterator[Emulator]:
    with start_emulator() as emu:
        yield emu


def _address(emu: Emulator) -> tuple[str, int]:
    host, port = emu.url.rsplit("/", 1)[-1].split(":")
    return host, int(port)


@contextlib.contextmanager
def connections(emu: Emulator, count: int, first_bytes: bytes = b"") -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(_address(emu), timeout=10)
            if first_bytes:
                sock.sendall(first_bytes)
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def answers(socks: list[socket.socket], wait: float, closing: int) -> list[bytes]:
    """What the server sent on each socket until it closed it, once `closing` sockets are closed
    (or after `wait` seconds); b"" for those still open."""
    got = {s: b"" for s in socks}
    closed = 0
    with selectors.DefaultSelector() as sel:
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + wait
        while closed < closing and (left := deadline - time.monotonic()) > 0:
            for key, _ in sel.select(left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(65536)
                except (BlockingIOError, ConnectionResetError):
                    chunk = b""
                got[sock] += chunk
                if not chunk:
                    sel.unregister(sock)
                    closed += 1
    return [got[s] for s in socks]


def worker_threads(emu: Emulator) -> int:
    port = _address(emu)[1]
    return sum(t.name.startswith(f"emulator-{port}-worker") for t in threading.enumerate())


def test_400_idle_connections_take_no_thread_and_the_emulator_keeps_answering(private: Emulator) -> None:
    before = threading.active_count()
    with connections(private, 400):
        status, _ = graph(private, "GET", f"/{REGISTERED_DEFAULT}")
        assert status == 200
        assert threading.active_count() - before <= 2  # one worker served the call above (was: 402)


def test_400_slow_requests_hold_at_most_the_thread_pool_and_the_rest_get_a_clear_503(private: Emulator) -> None:
    before = threading.active_count()
    server = private.server
    assert server is not None and server.pool.max_threads == DEFAULT_THREADS
    # each sends the start of a request line and stalls: a worker waits on each, up to the bound
    with connections(private, 400, b"GET /v25.0/1 HTTP/1.1\r\n") as socks:
        # 64 are served, 64 wait in line, and the other 272 are answered and closed at once
        got = answers(socks, wait=5.0, closing=400 - 2 * DEFAULT_THREADS)
        assert threading.active_count() - before <= DEFAULT_THREADS + 1
        assert worker_threads(private) == DEFAULT_THREADS
        refused = [a for a in got if a.startswith(b"HTTP/1.1 503 ")]
        assert len(refused) == 400 - 2 * DEFAULT_THREADS and got.count(b"") == 2 * DEFAULT_THREADS
        assert b"emulator busy: all 64 connection threads are serving" in refused[0]
        assert b"Retry-After: 1" in refused[0]
    # once the slow clients are gone, the same workers serve again (as soon as they have seen
    # the closed connections: a client told "retry shortly" does)
    deadline = time.monotonic() + 10
    while (status := graph(private, "GET", f"/{REGISTERED_DEFAULT}")[0]) == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == 200
    assert worker_threads(private) == DEFAULT_THREADS


def test_60_pending_1_mib_bodies_hold_at_most_the_body_budget_and_the_rest_get_503(private: Emulator) -> None:
    server = private.server
    assert server is not None
    head = (f"POST /v25.0/{REGISTERED_DEFAULT}/settings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {private.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {1 << 20}\r\n\r\n").encode()
    with connections(private, 60, head) as socks:
        holding = MAX_PENDING_BODY_BYTES // (1 << 20)
        refused = [a for a in answers(socks, wait=5.0, closing=60 - holding) if a.startswith(b"HTTP/1.1 503 ")]
        assert len(refused) == 60 - holding
        assert b"request bodies being read already hold" in refused[0]
        assert server.pool.budget.high_water == MAX_PENDING_BODY_BYTES  # 16 MiB, not 60 MiB
    # the dropped uploads give their 16 MiB back as their workers see the connections close
    deadline = time.monotonic() + 10
    while server.pool.budget.used and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.pool.budget.used == 0
    assert graph(private, "POST", f"/{REGISTERED_DEFAULT}/settings", body={"calling": {"status": "ENABLED"}})[0] == 200


def test_connections_beyond_the_open_connection_cap_get_503_at_once(private: Emulator,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "MAX_OPEN_CONNECTIONS", 20)  # 1,024 in earnest; the same rule
    with connections(private, 30) as socks:
        got = answers(socks, wait=5.0, closing=10)
        assert got[:20] == [b""] * 20
        assert all(a.startswith(b"HTTP/1.1 503 ") and b"20 connections are open" in a for a in got[20:])


def test_the_thread_ceiling_is_a_start_up_option_of_64_or_more() -> None:
    from emulator.__main__ import parse_args
    assert parse_args(["--threads", "128"]).threads == 128
    for bad in ("63", "0", "x", "5000"):
        with pytest.raises(SystemExit):
            parse_args(["--threads", bad])
    with start_emulator(threads=100) as emu:
        assert emu.server is not None and emu.server.pool.max_threads == 100
