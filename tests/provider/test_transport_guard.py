"""Issue 20, items 1, 5, 6, 9 and 11: where the token, app secret proof and PIN can travel.

- A loopback Graph URL (plain http allowed) is reached directly, never through a proxy.
- Redirects are never followed: a 3xx is an error naming its target, nothing goes to it.
- The URL checked is the URL connected to (no tabs or line breaks that ``urlsplit`` drops); a
  malformed URL is a clean error; graph.facebook.com on any port but 443 is refused; an error
  about WHATSAPP_GRAPH_API_URL names that variable when the value came from it.
- A token with a line break or a typographic quote is a clean error with no part of the token.
- ``paging.next`` back to a page already read is an error, not a complete listing.
"""

from __future__ import annotations

import socketserver
import threading

import pytest

from emulator.seed import DEMO_WABA_ID, REGISTERED_BR
from provider import errors
from provider.client import GraphClient, RetryPolicy
from provider.config import ProviderConfig
from tests.graph_transport import graph_session, ok

TOKEN = "EAAtransport-guard-token-5150"


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch):
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)


class RecordingProxy(socketserver.StreamRequestHandler):
    """A proxy that writes down each request line and header block it gets, then answers 502."""

    seen: list[bytes] = []

    def handle(self) -> None:
        head = b""
        while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
            head += line
        RecordingProxy.seen.append(head)
        self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.fixture
def proxy():
    RecordingProxy.seen = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), RecordingProxy)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("var", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_loopback_graph_url_is_reached_directly_never_through_a_proxy(monkeypatch, emulator, proxy, var):
    monkeypatch.setenv(var, proxy)
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
    client = GraphClient(config, sleep=lambda s: None, retry=RetryPolicy(attempts=1))
    try:
        assert client.get_number(REGISTERED_BR).id == REGISTERED_BR
    finally:
        client.close()
    assert RecordingProxy.seen == [], "the proxy got the request (and the Bearer token in clear)"
    assert any(c["path"].endswith(f"/{REGISTERED_BR}") for c in emulator.calls())


def test_an_https_graph_host_still_uses_the_configured_proxy(monkeypatch, proxy):
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    client = GraphClient(ProviderConfig.parse({"access_token": TOKEN}, env={}), sleep=lambda s: None,
                         retry=RetryPolicy(attempts=1), timeout=(2.0, 2.0))
    try:
        with pytest.raises(errors.NetworkError) as caught:
            client.get_number(REGISTERED_BR)
    finally:
        client.close()
    assert caught.value.reason == "proxy"
    assert RecordingProxy.seen and RecordingProxy.seen[0].startswith(b"CONNECT graph.facebook.com:443 ")


# -- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_names_its_target(status):
    target = "https://evil.example/v25.0/106540352242922/register"
    session, fake = graph_session(lambda r: (status, b"", {"Location": target}))
    client = GraphClient(ProviderConfig.parse({"access_token": TOKEN}, env={}), session=session,
                         sleep=lambda s: None)
    with pytest.raises(errors.NetworkError) as caught:
        client.register("106540352242922", "123456")
    assert len(fake.requests) == 1, "the POST (with the PIN) was re-sent to the redirect target"
    assert caught.value.reason == "redirect" and not caught.value.unreachable
    assert f"HTTP {status}" in str(caught.value) and "evil.example" in str(caught.value)
    assert "123456" not in str(caught.value) and TOKEN not in str(caught.value)


def test_a_redirected_read_is_not_retried_either():
    session, fake = graph_session(lambda r: (302, b"", {"Location": "https://graph.facebook.com/elsewhere"}))
    client = GraphClient(ProviderConfig.parse({"access_token": TOKEN}, env={}), session=session,
                         sleep=lambda s: None)
    with pytest.raises(errors.NetworkError, match="redirect"):
        client.get_number(REGISTERED_BR)
    assert len(fake.requests) == 1


# -- the URL guard --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8787\t.evil.example",
    "https://graph.facebook.com\n.evil.example",
    "https://graph.face\tbook.com",
    "http://127.0.0.1\r:8787",
    "https://graph.facebook.com/v\x0025.0",
    "https://graph.facebook.com/\u202e",
    "https://gräph.facebook.com",
    "https://graph.facebook.com /x",
])
def test_a_url_with_a_control_character_space_or_non_ascii_is_refused(url):
    with pytest.raises(errors.ConfigurationError) as caught:
        ProviderConfig.load({"whatsapp:accessToken": TOKEN, "whatsapp:graphApiUrl": url}, {})
    assert "at position" in str(caught.value) and "whatsapp:graphApiUrl" in str(caught.value)


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1]:99999", "http://127.0.0.1:port", "https://[evil.example]"])
def test_a_malformed_url_is_a_clean_configuration_error(url):
    with pytest.raises(errors.ConfigurationError, match="whatsapp:graphApiUrl"):
        ProviderConfig.load({"whatsapp:accessToken": TOKEN, "whatsapp:graphApiUrl": url}, {})


@pytest.mark.parametrize("url", ["https://graph.facebook.com:8443", "https://graph.facebook.com:80",
                                 "https://graph.facebook.com:0"])
def test_graph_facebook_com_on_another_port_is_refused(url):
    with pytest.raises(errors.ConfigurationError, match="port 443"):
        ProviderConfig.load({"whatsapp:accessToken": TOKEN, "whatsapp:graphApiUrl": url}, {})
    assert ProviderConfig.load({"whatsapp:graphApiUrl": "https://graph.facebook.com:443"}, {})


@pytest.mark.parametrize("url", ["https://graph.example.com", "http://[::1", "http://graph.facebook.com",
                                 "https://graph.facebook.com:8443", "ftp://127.0.0.1"])
def test_an_error_about_the_environment_variable_names_the_variable(url):
    with pytest.raises(errors.ConfigurationError) as caught:
        ProviderConfig.load({}, {"WHATSAPP_ACCESS_TOKEN": TOKEN, "WHATSAPP_GRAPH_API_URL": url})
    assert str(caught.value).startswith("the environment variable WHATSAPP_GRAPH_API_URL ")


def test_an_error_about_the_stack_file_names_the_file():
    with pytest.raises(errors.ConfigurationError) as caught:
        ProviderConfig.load({"whatsapp:graphApiUrl": "http://[::1"}, {}, stack_origin="stacks/Pulumi.dev.yaml")
    assert "whatsapp:graphApiUrl in stacks/Pulumi.dev.yaml" in str(caught.value)


# -- the token ------------------------------------------------------------------------------------

TAIL = "TAILofTHEtoken9876"


@pytest.mark.parametrize("token", [
    f"EAAhead12345\n{TAIL}", f"EAAhead12345\r\n{TAIL}", f"EAAhead12345 {TAIL}", f"EAAhead12345\t{TAIL}",
    f"EAAhead12345{TAIL}\u201d", f"\u201cEAAhead12345{TAIL}\u201d", f"EAAhead12345{TAIL}\u2019",
    f"EAAhead12345\x00{TAIL}", f"EAAhead12345\u200b{TAIL}",
])
@pytest.mark.parametrize("where", ["stack", "env"])
def test_a_token_with_a_line_break_or_a_typographic_quote_is_a_clean_error_without_any_of_it(token, where):
    stack, env = ({"whatsapp:accessToken": token}, {}) if where == "stack" else ({}, {"WHATSAPP_ACCESS_TOKEN": token})
    with pytest.raises(errors.ConfigurationError) as caught:
        ProviderConfig.load(stack, env)
    text = str(caught.value)
    assert TAIL not in text and "EAAhead" not in text and "at position" in text
    assert ("WHATSAPP_ACCESS_TOKEN" if where == "env" else "whatsapp:accessToken") in text


def test_an_app_secret_with_a_line_break_is_refused_the_same_way():
    with pytest.raises(errors.ConfigurationError, match="app secret") as caught:
        ProviderConfig.load({"whatsapp:accessToken": TOKEN, "whatsapp:appSecret": f"0123abcd\n{TAIL}"}, {})
    assert TAIL not in str(caught.value)


def test_a_token_with_a_trailing_line_break_from_a_file_is_still_fine():
    assert ProviderConfig.load({}, {"WHATSAPP_ACCESS_TOKEN": TOKEN + "\n"}).access_token == TOKEN


# -- paging ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("loop_to", [1, 2])
def test_paging_next_back_to_a_page_already_read_stops_with_an_error(loop_to):
    base = "https://graph.facebook.com/v25.0/1/phone_numbers"
    pages = {None: f"{base}?fields=id&limit=100&after=p2", "p2": f"{base}?after=p3&limit=100&fields=id",
             "p3": f"{base}?fields=id&limit=100" + ("" if loop_to == 1 else "&after=p2") + "&access_token=x"}

    def answer(request):
        after = dict(p.split("=", 1) for p in request.url.split("?", 1)[1].split("&")).get("after")
        return ok({"data": [{"id": f"n-{after}"}], "paging": {"next": pages[after]}})

    session, fake = graph_session(answer)
    client = GraphClient(ProviderConfig.parse({"access_token": TOKEN}, env={}), session=session)
    with pytest.raises(errors.NetworkError) as caught:
        client.list_business_numbers("1")
    assert caught.value.reason == "paging_loop" and "already read" in str(caught.value)
    assert len(fake.requests) == 3


def test_a_listing_of_the_emulator_still_reads_every_page(emulator):
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
    client = GraphClient(config)
    try:
        assert client.list_business_numbers(DEMO_WABA_ID) == {n["id"] for n in emulator.numbers()}
    finally:
        client.close()
