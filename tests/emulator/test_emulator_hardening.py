"""Emulator hardening (issue 20, item 12): bounded delays, broken framing and deep JSON get an
answer, a body size limit, and a control API that only local pages can use and that never
returns a PIN."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from emulator.harness import EmulatorControlError
from emulator.limits import MAX_BODY_BYTES
from emulator.seed import DEMO_PIN, REGISTERED_DEFAULT, UNREGISTERED


def raw_exchange(emulator, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes; b"" when it closed without a word."""
    host, port = emulator.url.rsplit("/", 1)[-1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def status_of(answer: bytes) -> int:
    assert answer, "the connection was closed without an answer"
    return int(answer.split(b" ", 2)[1])


def control(emulator, method: str, path: str, body=None, headers=None):
    host, port = emulator.url.rsplit("/", 1)[-1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, "/_emulator" + path, body=data,
                     headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


# -- latency -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b'{"ms": NaN}', b'{"ms": Infinity}', b'{"ms": 1e300}', b'{"ms": -1}',
                                 b'{"ms": "5"}'])
def test_latency_that_would_hang_every_call_is_refused(emulator, raw):
    head = (f"POST /_emulator/latency HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n").encode()
    answer = raw_exchange(emulator, head + raw)
    assert status_of(answer) == 400 and b"milliseconds" in answer
    assert control(emulator, "GET", "/latency")[1] == {"ms": 0.0}


@pytest.mark.parametrize("raw", [b'{"method": "GET", "path": "*", "delay_ms": NaN}',
                                 b'{"method": "GET", "path": "*", "delay_ms": 1e300}'])
def test_a_fault_delay_that_would_hang_is_refused(emulator, raw):
    head = (f"POST /_emulator/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n").encode()
    assert status_of(raw_exchange(emulator, head + raw)) == 400
    assert control(emulator, "GET", "/faults")[1] == []


def test_the_command_line_bounds_latency_too():
    from emulator.__main__ import parse_args
    for bad in ("nan", "inf", "1e300", "-1"):
        with pytest.raises(SystemExit):
            parse_args(["--latency-ms", bad])


# -- framing and parsing -----------------------------------------------------------------------

@pytest.mark.parametrize("request_bytes", [
    b"POST /v21.0/1/register HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"POST /v21.0/1/register HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 5000 + b"\r\n",
    b"POST /v21.0/1/register HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    b"POST /v21.0/1/register HTTP/1.1\r\nHost: x\r\nContent-Length: twelve\r\n\r\n{}",
    b"POST /v21.0/1/register HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{}",
    b"POST /_emulator/latency HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -3\r\n\r\n{}",
])
def test_malformed_framing_gets_an_error_answer_not_a_closed_connection(emulator, request_bytes):
    answer = raw_exchange(emulator, request_bytes)
    assert status_of(answer) == 400
    assert b'"message"' in answer


@pytest.mark.parametrize("path", [f"/v21.0/{UNREGISTERED}/settings", "/_emulator/faults"])
def test_deeply_nested_json_gets_an_error_answer(emulator, path):
    body = b"[" * 100_000 + b"]" * 100_000
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {emulator.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    answer = raw_exchange(emulator, head + body)
    assert status_of(answer) == 400
    assert emulator.number(UNREGISTERED)["settings"]["storage_configuration"] == {"status": "DEFAULT"}


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_refused_with_413(emulator, chunked):
    # The server answers from the framing alone, before any of the body: send none of it.
    size = MAX_BODY_BYTES + 1
    if chunked:
        framing = b"Transfer-Encoding: chunked\r\n\r\n" + f"{size:x}\r\n".encode()
    else:
        framing = f"Content-Length: {size}\r\n\r\n".encode()
    head = (f"POST /v21.0/{UNREGISTERED}/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {emulator.token}\r\n").encode()
    answer = raw_exchange(emulator, head + framing)
    assert status_of(answer) == 413
    assert emulator.number(UNREGISTERED)["registration_calls"] == []
    assert emulator.calls() == []


def test_a_large_body_under_the_limit_still_works(emulator, emulator_api):
    body = {"messaging_product": "whatsapp", "pin": DEMO_PIN, "padding": "x" * 100_000}
    assert emulator_api.post(f"/{UNREGISTERED}/register", json=body).status_code == 200


# -- the control API: local pages only, never a PIN -----------------------------------------

@pytest.mark.parametrize("headers", [
    {"Host": "attacker.example:8787"},                               # DNS rebinding
    {"Host": "127.0.0.1.attacker.example"},
    {"Origin": "http://attacker.example"},                           # CSRF from a web page
    {"Origin": "null"},                                              # a sandboxed page or file://
    {"Origin": "http://localhost.attacker.example:8787"},
])
@pytest.mark.parametrize("method, path, body", [
    ("POST", "/reset", {}),
    ("POST", "/numbers", {"id": "700000000000001"}),
    ("GET", "/numbers", None),
    ("PATCH", f"/numbers/{REGISTERED_DEFAULT}", {"pin": "111111"}),
])
def test_the_control_api_refuses_foreign_hosts_and_origins(emulator, headers, method, path, body):
    status, answer = control(emulator, method, path, body, headers)
    assert status == 403 and "refused" in answer["error"]["message"]
    assert len(emulator.numbers()) == 6
    assert emulator.pin_matches(REGISTERED_DEFAULT, DEMO_PIN)


@pytest.mark.parametrize("headers", [{}, {"Host": "localhost:1"}, {"Origin": "http://127.0.0.1:9"},
                                     {"Host": "[::1]:8787"}])
def test_the_control_api_serves_local_hosts_and_origins(emulator, headers):
    assert control(emulator, "GET", "/", None, headers)[0] == 200


def test_the_control_api_never_returns_a_pin(emulator, emulator_api):
    emulator_api.post(f"/{UNREGISTERED}/register", json={"messaging_product": "whatsapp", "pin": "482913"})
    added = emulator.add_number(id="700000000000002", pin="135790")
    patched = emulator.patch(REGISTERED_DEFAULT, pin="246802")
    listed = emulator.numbers()
    text = json.dumps([added, patched, listed, emulator.number(UNREGISTERED), emulator.calls()])
    for pin in (DEMO_PIN, "482913", "135790", "246802"):
        assert pin not in text
    assert emulator.pin_matches(UNREGISTERED, "482913") and not emulator.pin_matches(UNREGISTERED, "000000")
    with pytest.raises(EmulatorControlError, match="404"):
        emulator.pin_matches("999", "123456")
