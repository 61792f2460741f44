"""Where the token may go: graph.facebook.com over https, a loopback address, or a host the
environment (never the stack config) allows. Refused before any connection."""

from __future__ import annotations

import pytest

from provider import errors
from provider.client import GraphClient
from provider.config import ProviderConfig
from tests.graph_transport import graph_session, ok

TOKEN = "EAAgraph-host-test-token-777"


def load(url: str, env: dict[str, str] | None = None, **stack) -> ProviderConfig:
    return ProviderConfig.load({"whatsapp:accessToken": TOKEN, "whatsapp:graphApiUrl": url, **stack}, env or {})


@pytest.mark.parametrize("url", [
    "https://graph.facebook.com",
    "https://graph.facebook.com:443/",
    "http://127.0.0.1:8787",
    "https://127.0.0.1:8787",
    "http://127.8.9.10:1",
    "http://localhost:8787",
    "http://[::1]:8787",
])
def test_meta_and_loopback_hosts_are_accepted(url):
    assert load(url).graph_api_url == url.rstrip("/")


@pytest.mark.parametrize("url, why", [
    ("https://graph.example.com", "sent only to https://graph.facebook.com or a loopback address"),
    ("https://graph.facebook.com.evil.example", "sent only to"),
    ("https://10.0.0.5:8443", "sent only to"),
    ("http://graph.facebook.com", "plain http would send the access token unencrypted"),
])
def test_any_other_host_is_refused_with_the_reason_and_the_way_out(url, why):
    with pytest.raises(errors.ConfigurationError) as caught:
        load(url)
    text = str(caught.value)
    assert why in text and "whatsapp:graphApiUrl" in text
    if "sent only to" in why:
        assert "WHATSAPP_ALLOW_GRAPH_HOST=" in text and "stack config cannot allow a host" in text


def test_the_environment_can_allow_a_host_over_https_only():
    env = {"WHATSAPP_ALLOW_GRAPH_HOST": " gateway.bank.example , other.example"}
    assert load("https://gateway.bank.example", env).graph_api_url == "https://gateway.bank.example"
    with pytest.raises(errors.ConfigurationError, match="plain http"):
        load("http://gateway.bank.example", env)
    with pytest.raises(errors.ConfigurationError, match="WHATSAPP_ALLOW_GRAPH_HOST"):
        load("https://gateway.bank.example", {})


def test_the_stack_config_cannot_allow_a_host():
    with pytest.raises(errors.ConfigurationError, match="refused"):
        load("https://gateway.bank.example", {}, WHATSAPP_ALLOW_GRAPH_HOST="gateway.bank.example",
             **{"whatsapp:allowGraphHost": "gateway.bank.example"})


def test_a_config_built_directly_is_checked_too():
    with pytest.raises(errors.ConfigurationError, match="refused"):
        ProviderConfig(access_token=TOKEN, graph_api_url="https://graph.example.com")


def test_credentials_in_the_url_are_refused_without_being_echoed():
    with pytest.raises(errors.ConfigurationError) as caught:
        load("https://someone:url-pass-8812@graph.facebook.com")
    assert "must not carry credentials" in str(caught.value) and "url-pass-8812" not in str(caught.value)


def test_a_refused_host_is_refused_before_any_connection(monkeypatch):
    import requests

    def no_network(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(requests.Session, "request", no_network)
    monkeypatch.setenv("WHATSAPP_GRAPH_API_URL", "https://graph.example.com")
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", TOKEN)
    with pytest.raises(errors.ConfigurationError):
        GraphClient(ProviderConfig.load({}))


@pytest.mark.parametrize("nxt", [
    "https://evil.example/v25.0/1/phone_numbers?after=x&access_token=leak",
    "http://graph.facebook.com/v25.0/1/phone_numbers?after=x",
    "https://graph.facebook.com:8443/v25.0/1/phone_numbers?after=x",
])
def test_paging_next_on_another_host_or_scheme_is_not_followed(nxt):
    session, fake = graph_session(lambda r: ok({"data": [{"id": "1"}], "paging": {"next": nxt}}))
    client = GraphClient(ProviderConfig.parse({"access_token": TOKEN}, env={}), session=session)
    with pytest.raises(errors.NetworkError, match="another host") as caught:
        client.list_business_numbers("1")
    assert caught.value.reason == "foreign_host" and "leak" not in str(caught.value)
    assert len(fake.requests) == 1, "nothing was sent to the other host"
