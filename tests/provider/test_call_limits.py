"""Issue 29, items 2 and 3: every Graph call is bounded on the clock, and no redirect is a success.

Real sockets against servers in this process: one that trickles its answer a byte at a time (the
status line, the headers or the body), so urllib3's per-read timeout never fires and only the
client's watchdog can end the call; and a forwarding proxy in front of the emulator that trickles
only register's answer, for a cutover's offline deadline. Limits are fractions of a second.
"""

from __future__ import annotations

import io
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import urllib3.connectionpool

from emulator.harness import Emulator
from emulator.seed import DEMO_PIN, REGISTERED_BR
from provider import errors
from provider.client import GraphClient, RetryPolicy
from provider.config import ProviderConfig
from provider.executor import Executor
from provider.failures import ConvergeFailed
from provider.fleet import reset_process_state
from provider.declaration import Declaration
from provider.notices import Notices
from tests.graph_transport import Answer, graph_session
from tests.reliability_report import registered

TOKEN = "EAAcall-limits-token-2929"
# A throw-away self-signed certificate for "localhost" with its subjectAltName (valid until 2126),
# made for this test with `openssl req -x509 -newkey ec -addext subjectAltName=DNS:localhost`; the
# test trusts it through REQUESTS_CA_BUNDLE.
LOCALHOST_PEM = """-----BEGIN CERTIFICATE-----
MIIBpTCCAUugAwIBAgIURTcse/KDlCSzJDSkhhIsW1J/XiIwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNzA2MDAwNVoYDzIxMjYxMTEz
MDYwMDA1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQluUuO76n2jvUXw+s1vq+bHrVPvDIYjm5jcMuBn3VzqclhPi8f9hb/
ftv/xTed0wycO6dvw/KAw8QhMx7ZiiSJo3kwdzAdBgNVHQ4EFgQUJR41Gtvsw9nc
6ubfZB1zOnabY8YwHwYDVR0jBBgwFoAUJR41Gtvsw9nc6ubfZB1zOnabY8YwFAYD
VR0RBA0wC4IJbG9jYWxob3N0MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQD
AgKEMAoGCCqGSM49BAMCA0gAMEUCIQDi0YJ3Z3PvfaxotsD5F0Ilc0L9VtQP1GeS
zoskDsDaqwIgYXdVoEX0Se6iq+ttcAmZDiAsOGzb+05jwE+LD7tbHeM=
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+wK6chnTFp1ctbsx
AmwJREeXN6UM1I5VXcEagqOzeQ6hRANCAAQluUuO76n2jvUXw+s1vq+bHrVPvDIY
jm5jcMuBn3VzqclhPi8f9hb/ftv/xTed0wycO6dvw/KAw8QhMx7ZiiSJ
-----END PRIVATE KEY-----
"""
BYTE_EVERY = 0.05  # seconds between trickled bytes: far below the read timeout
READ_TIMEOUT = 0.2
LIMIT = 2 * READ_TIMEOUT  # a call's wall-clock limit: by default, connect and read timeouts added
TRICKLE_FOR = 3.0  # the server gives up after this long: a client that waits for it has failed


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def _read_request(rfile: io.BufferedIOBase) -> tuple[bytes, dict[str, str], bytes]:
    request_line = rfile.readline()
    headers: dict[str, str] = {}
    while (line := rfile.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = rfile.read(int(headers.get("content-length") or 0))
    return request_line, headers, body


def _trickle(wfile: io.BufferedIOBase, data: bytes) -> None:
    stop = time.monotonic() + TRICKLE_FOR
    try:
        for byte in data:
            if time.monotonic() > stop:
                return
            wfile.write(bytes([byte]))
            wfile.flush()
            time.sleep(BYTE_EVERY)
    except OSError:
        return  # the client closed the connection: what the watchdog is for


def _answer(stage: str) -> tuple[bytes, bytes]:
    """(sent at once, trickled) for a 200 answer that is slow at ``stage``."""
    body = b'{"id": "1", "success": true' + b" " * 200 + b"}"
    status = b"HTTP/1.1 200 OK\r\n"
    headers = b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n" % len(body)
    if stage == "status line":
        return b"", status + headers + b"\r\n" + body
    if stage == "headers":
        return status, b"X-Slow: " + b"a" * 200 + b"\r\n" + headers + b"\r\n" + body
    return status + headers + b"\r\n", body


def serve(handle: Callable[[socketserver.StreamRequestHandler], None]) -> Iterator[str]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            handle(self)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def trickling() -> Iterator[Callable[[str], str]]:
    """``trickling(stage)``: the URL of a Graph API that answers slowly at ``stage``."""
    stages: list[str] = []

    def handle(handler: socketserver.StreamRequestHandler) -> None:
        _read_request(handler.rfile)
        at_once, slowly = _answer(stages[-1])
        handler.wfile.write(at_once)
        handler.wfile.flush()
        _trickle(handler.wfile, slowly)

    def make(stage: str) -> str:
        stages.append(stage)
        return url

    for url in serve(handle):
        yield make


def client_for(url: str, timeout: tuple[float, float] = (READ_TIMEOUT, READ_TIMEOUT)) -> GraphClient:
    config = ProviderConfig.parse({"access_token": TOKEN, "graph_api_url": url}, env={})
    return GraphClient(config, timeout=timeout, retry=RetryPolicy(attempts=1), sleep=lambda _s: None)


@pytest.mark.parametrize("stage", ["status line", "headers", "body"])
def test_a_trickled_answer_is_cut_off_at_the_calls_time_limit(trickling: Callable[[str], str], stage: str) -> None:
    client = client_for(trickling(stage))
    started = time.monotonic()
    try:
        with pytest.raises(errors.RequestTimeout) as caught:
            client.get_storage(REGISTERED_BR)
    finally:
        client.close()
    elapsed = time.monotonic() - started
    assert elapsed < LIMIT + 0.5, f"a call limited to {LIMIT} s took {elapsed:.2f} s"
    assert "the call's time limit" in str(caught.value) and "connection was closed" in str(caught.value)


def test_a_trickled_answer_over_tls_is_cut_off_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under TLS the socket read is the SSL socket's: the watchdog shuts the socket under it down."""
    pem = tmp_path / "self-signed.pem"
    pem.write_text(LOCALHOST_PEM)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pem))  # trusted here, so the handshake succeeds
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)

    def handle(handler: socketserver.StreamRequestHandler) -> None:
        with context.wrap_socket(handler.connection, server_side=True) as tls:
            reader, writer = tls.makefile("rb"), tls.makefile("wb")
            _read_request(reader)
            at_once, slowly = _answer("body")
            writer.write(at_once)
            writer.flush()
            _trickle(writer, slowly)

    for url in serve(handle):
        client = client_for(url.replace("http://127.0.0.1", "https://localhost"))
        started = time.monotonic()
        try:
            with pytest.raises(errors.RequestTimeout):
                client.get_storage(REGISTERED_BR)
        finally:
            client.close()
        assert time.monotonic() - started < LIMIT + 0.5


def test_calls_through_an_https_proxy_use_the_watched_connections() -> None:
    from provider import transport

    adapter = transport.WatchedAdapter()
    manager = adapter.proxy_manager_for("http://127.0.0.1:3128")
    pool = manager.connection_from_url("https://graph.facebook.com/v25.0/me")
    assert isinstance(pool, urllib3.connectionpool.HTTPSConnectionPool)
    assert issubclass(pool.ConnectionCls, transport._Watched)
    direct = adapter.poolmanager.connection_from_url("http://127.0.0.1:8787/v25.0/me")
    assert issubclass(direct.ConnectionCls, transport._Watched)


def test_a_register_with_an_offline_deadline_is_cut_off_at_the_deadline(trickling: Callable[[str], str]) -> None:
    """The issue's reproduction, scaled down: register(deadline=now + 0.5 s) with a read timeout
    per socket read against a body sent a byte at a time kept the call busy for as long as the
    server liked (38 s for a 4 s deadline)."""
    client = client_for(trickling("body"), timeout=(3.0, 3.0))  # per read: 3 s, as in the issue
    started = time.monotonic()
    try:
        with pytest.raises(errors.RequestTimeout) as caught:
            client.register(REGISTERED_BR, DEMO_PIN, deadline=started + 0.5)
    finally:
        client.close()
    assert time.monotonic() - started < 1.0
    assert "the cutover's offline deadline" in str(caught.value)


def test_a_prompt_answer_is_untouched_by_the_watchdog(emulator: Emulator) -> None:
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
    client = GraphClient(config, call_limit=0.3)
    try:
        for _ in range(3):  # reused keep-alive connections, each call watched on its own
            assert client.get_number(REGISTERED_BR).registered
        time.sleep(0.4)  # past every earlier call's limit: nothing cuts the pooled connection
        assert client.get_storage(REGISTERED_BR).region == "BR"
    finally:
        client.close()


# -- a cutover: register's answer trickles while the number is offline ---------------------------


@pytest.fixture
def slow_register(emulator: Emulator) -> Iterator[str]:
    """A proxy in front of the emulator: every call goes through; register's answer comes back a
    byte at a time (the register itself took effect: its outcome is what the client cannot know)."""

    def handle(handler: socketserver.StreamRequestHandler) -> None:
        request_line, headers, body = _read_request(handler.rfile)
        method, target, _ = request_line.decode("latin-1").split(" ", 2)
        forwarded = requests.request(method, emulator.url + target, data=body, timeout=5,
                                     headers={k: v for k, v in headers.items() if k in ("authorization", "content-type")})
        head = (f"HTTP/1.1 {forwarded.status_code} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(forwarded.content)}\r\nConnection: close\r\n\r\n").encode()
        handler.wfile.write(head)
        if target.split("?")[0].endswith("/register"):
            _trickle(handler.wfile, forwarded.content)
        else:
            handler.wfile.write(forwarded.content)

    yield from serve(handle)


def test_a_cutover_whose_register_answer_trickles_ends_at_the_offline_deadline(emulator: Emulator,
                                                                              slow_register: str) -> None:
    reset_process_state()
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": slow_register,
                                   "api_version": "v25.0"}, env={})
    client = GraphClient(config)  # the default 35 s call limit: only the offline deadline can stop it
    executor = Executor(client, notices=Notices(io.StringIO()), sleep=lambda _s: None, offline_deadline=0.8)
    started = time.monotonic()
    try:
        with pytest.raises(ConvergeFailed) as caught:
            executor.converge(Declaration(REGISTERED_BR, "IN", pin=DEMO_PIN))
    finally:
        client.close()
    assert time.monotonic() - started < 3.0, "the offline deadline is on the clock, not per read"
    cause = caught.value.__cause__ or caught.value
    assert registered(emulator.number(REGISTERED_BR)), "the register went through: only its answer was slow"
    message = str(caught.value)
    assert "register's answer did not arrive" in message and "offline deadline" in message, str(cause)
    # the number was read once after the deadline: the message says what Meta did, not "NOT registered"
    assert "reads back registered: Meta took the register" in message and "NOT registered" not in message
    assert caught.value.offline is False


# -- redirects -----------------------------------------------------------------------------------


def _redirect(status: int) -> Callable[[requests.PreparedRequest], Answer]:
    def handler(_request: requests.PreparedRequest) -> Answer:
        return status, {}, {"Location": "https://evil.example/v25.0/x"}
    return handler


CALLS: dict[str, Callable[[GraphClient], object]] = {
    "get_number": lambda c: c.get_number(REGISTERED_BR),
    "get_storage": lambda c: c.get_storage(REGISTERED_BR),
    "list_phone_numbers": lambda c: c.list_phone_numbers("102290129340398", ("id",)),
    "set_storage": lambda c: c.set_storage(REGISTERED_BR, "IN"),
    "register": lambda c: c.register(REGISTERED_BR, DEMO_PIN),
    "deregister": lambda c: c.deregister(REGISTERED_BR),
    "set_pin": lambda c: c.set_pin(REGISTERED_BR, DEMO_PIN),
    "request_code": lambda c: c.request_code(REGISTERED_BR),
    "verify_code": lambda c: c.verify_code(REGISTERED_BR, "123456"),
}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("call", CALLS)
def test_a_redirect_with_a_json_body_is_refused_never_a_success(call: str, status: int) -> None:
    """A 307 with body `{}` made deregister, register and set_storage return success and
    get_storage read DEFAULT: any 3xx is RedirectRefused, whatever its body, and never retried."""
    session, fake = graph_session(_redirect(status))
    config = ProviderConfig.parse({"access_token": TOKEN}, env={})
    client = GraphClient(config, session=session, sleep=lambda _s: None)
    with pytest.raises(errors.RedirectRefused) as caught:
        CALLS[call](client)
    assert len(fake.requests) == 1, "a redirect is not retried"
    assert caught.value.http_status == status and "evil.example" in str(caught.value)


def test_a_connection_of_a_call_that_ended_is_never_cut_later() -> None:
    """A pooled connection goes on to serve other calls: once its call ended, its Watch cuts nothing."""
    from provider import transport

    left, right = socket.socketpair()

    class Connection:
        sock = left

    try:
        with transport.watched(0.05) as watch:
            watch.attach(Connection())
        time.sleep(0.1)
        assert not watch.fired
        left.sendall(b"x")
        assert right.recv(1) == b"x", "the socket was cut after its call ended"
    finally:
        left.close()
        right.close()


def test_plan_never_shows_a_redirects_body_as_the_live_state(tmp_path: Path) -> None:
    """`plan` showed a 307's `{}` body as the number's live state (DEFAULT storage): it is an error."""
    import io
    import json

    import yaml

    from provider import cli

    def handle(handler: socketserver.StreamRequestHandler) -> None:
        _read_request(handler.rfile)
        handler.wfile.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://evil.example/x\r\n"
                            b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")

    for url in serve(handle):
        (tmp_path / "Pulumi.yaml").write_text("name: whatsapp-local-storage\nruntime: python\nstackConfigDir: stacks\n")
        (tmp_path / "stacks").mkdir()
        (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": {
            "whatsapp:accessToken": TOKEN, "whatsapp:graphApiUrl": url,
            "whatsapp-local-storage:phoneNumbers": {REGISTERED_BR: {"region": "DEFAULT", "pin": DEMO_PIN}}}}))
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(["plan", "--stack", "test", "--project-dir", str(tmp_path), "--format", "json"], out=out,
                        err=err)
        document = json.loads(out.getvalue())
        assert code == 1 and document["summary"]["in_sync"] == 0, document
        number = document["numbers"][0]
        assert number["live"] is None and "redirect" in (number["error"] or document["error"] or ""), document
