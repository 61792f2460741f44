"""A failed connection keeps its root cause in a short form and a machine-readable ``reason``.

Real sockets: a closed port, a name that does not resolve, a TLS server with a self-signed
certificate, a proxy that demands authentication. Nothing leaves the machine.
"""

from __future__ import annotations

import socketserver
import ssl
import threading

import pytest
from emulator.seed import REGISTERED_BR
from provider import errors
from provider.client import GraphClient, RetryPolicy
from provider.config import ProviderConfig

TOKEN = "EAAnetwork-errors-token-1618"
PROXY_PASSWORD = "proxy-pass-network-4242"

# A throw-away self-signed certificate for "localhost" (valid until 2126), made for this test
# with `openssl req -x509 -newkey ec`: no client trusts it, which is the point.
SELF_SIGNED = """-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUWZWcMKvL6Ps+211nsXCHzyLiUs8wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEzMDA5MzAxMloYDzIxMjYxMTA2
MDkzMDEyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQQceELK5siYuYSfy0qEHS9rFYwaOdxI1k+2+2Rl7dGFuWFJVH3CboZ
DZ93unH+K+CY3wpQPpHs2LceIgEUoWuto1MwUTAdBgNVHQ4EFgQU0AUH+0cL9D5U
e7kqp/o4+Tg8TpgwHwYDVR0jBBgwFoAU0AUH+0cL9D5Ue7kqp/o4+Tg8TpgwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiB1WwQVZYctj3IQ0AYqzb2T
rDge1sOTOsuFn7TfBK7B3QIhAMEIXMSpPh1nNWjk2oQqgQgOoCj1nU1mwNiUpzO1
+3LW
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgeY2MjnC3r7sw5nux
WwV7H/50Efk6s5P8uDqfP1VSeFahRANCAAQQceELK5siYuYSfy0qEHS9rFYwaOdx
I1k+2+2Rl7dGFuWFJVH3CboZDZ93unH+K+CY3wpQPpHs2LceIgEUoWut
-----END PRIVATE KEY-----
"""


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch):
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)


def serve(handler) -> tuple[str, socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return f"127.0.0.1:{server.server_address[1]}", server


class ProxyDemandingAuth(socketserver.StreamRequestHandler):
    def handle(self):
        self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n"
                         b"Content-Length: 0\r\nConnection: close\r\n\r\n")


def failure(url: str, env: dict[str, str] | None = None, **kw) -> errors.NetworkError:
    config = ProviderConfig.parse({"access_token": TOKEN, "graph_api_url": url}, env=env or {})
    client = GraphClient(config, sleep=lambda s: None, timeout=(2.0, 2.0), retry=RetryPolicy(attempts=1), **kw)
    try:
        with pytest.raises(errors.NetworkError) as caught:
            client.get_number(REGISTERED_BR)
    finally:
        client.close()
    text = str(caught.value)
    assert "Caused by" not in text and "object at 0x" not in text and TOKEN not in text
    return caught.value


def test_connection_refused():
    error = failure("http://127.0.0.1:1")
    assert error.reason == "refused" and error.unreachable
    assert "connection refused" in str(error) and "[Errno 111] Connection refused" in str(error)
    assert "whatsapp:graphApiUrl" in str(error)


def test_dns_failure():
    error = failure("https://graph-host-that-does-not-exist.invalid",
                    env={"WHATSAPP_ALLOW_GRAPH_HOST": "graph-host-that-does-not-exist.invalid"})
    assert error.reason == "dns" and error.unreachable
    assert "DNS lookup failed" in str(error) and "graph-host-that-does-not-exist.invalid" in str(error)


def test_tls_verification_failure(tmp_path):
    pem = tmp_path / "self-signed.pem"
    pem.write_text(SELF_SIGNED)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)

    class Tls(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                context.wrap_socket(self.request, server_side=True).recv(1)
            except (ssl.SSLError, OSError):
                pass

    address, server = serve(Tls)
    try:
        error = failure(f"https://{address}")
    finally:
        server.shutdown()
    assert error.reason == "tls" and error.unreachable
    assert "CERTIFICATE_VERIFY_FAILED" in str(error) and "REQUESTS_CA_BUNDLE" in str(error)


def test_a_proxy_demanding_authentication_on_connect(monkeypatch):
    address, server = serve(ProxyDemandingAuth)
    monkeypatch.setenv("HTTPS_PROXY", f"http://someone:{PROXY_PASSWORD}@{address}")
    try:
        error = failure("https://graph.facebook.com")
    finally:
        server.shutdown()
    assert error.reason == "proxy_auth" and error.unreachable
    assert "407" in str(error) and "HTTPS_PROXY" in str(error) and PROXY_PASSWORD not in str(error)


def test_plain_http_to_a_loopback_address_never_goes_through_a_proxy(monkeypatch, emulator):
    # Plain http is allowed only to a loopback address; through HTTP_PROXY it would leave the
    # machine with the token in clear (issue 20, item 1), so the proxy is bypassed.
    address, server = serve(ProxyDemandingAuth)
    monkeypatch.setenv("HTTP_PROXY", f"http://{address}")
    try:
        config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
        assert GraphClient(config, retry=RetryPolicy(attempts=1)).get_number(REGISTERED_BR).id == REGISTERED_BR
    finally:
        server.shutdown()
    assert emulator.calls(), "the request reached the emulator directly"


def test_a_timeout_and_a_dropped_connection_are_not_unreachable_hosts(emulator):
    emulator.fault("GET", f"/{REGISTERED_BR}", delay_ms=1500, count=1)
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
    client = GraphClient(config, timeout=(1.0, 0.3), retry=RetryPolicy(attempts=1))
    with pytest.raises(errors.RequestTimeout) as caught:
        client.get_number(REGISTERED_BR)
    assert caught.value.reason == "timeout" and not caught.value.unreachable
    assert "Read timed out" in str(caught.value)
    emulator.fault("GET", f"/{REGISTERED_BR}", drop=True, count=1)
    with pytest.raises(errors.NetworkError) as dropped:
        client.get_number(REGISTERED_BR)
    assert dropped.value.reason == "dropped" and not dropped.value.unreachable


# The redaction of proxy credentials in a transport error: tests/provider/test_client.py.
