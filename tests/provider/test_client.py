"""GraphClient over real HTTP against the emulator, or through a fake transport (``session=``):
typed errors, retries, reads, paging, redaction. Nothing private of the client is patched."""

from __future__ import annotations

import pytest
import requests

from emulator.seed import DEMO_WABA_ID, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from provider import errors
from provider.answers import error_from_response
from provider.client import GraphClient, RetryPolicy
from provider.transport import usage_percent as _usage_percent
from provider.config import ProviderConfig
from provider.errors import ERRORS_BY_CODE
from provider.redact import redact
from tests.graph_transport import graph_session


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(emu, *, version="v25.0", timeout=(5.0, 30.0), sleep=None, token=None):
    config = ProviderConfig.parse({"access_token": token or emu.token, "graph_api_url": emu.url,
                                   "api_version": version})
    return GraphClient(config, timeout=timeout, sleep=sleep if sleep is not None else Sleeps(),
                       retry=RetryPolicy(attempts=4, base_seconds=0.01, cap_seconds=0.05))


# Every code in the table of docs/graph-api.md, "Errors", and the class whose top level says what to do.
CODES = [
    (0, errors.AuthenticationFailed, errors.UserActionRequired),
    (190, errors.AuthenticationFailed, errors.UserActionRequired),
    (10, errors.PermissionDenied, errors.UserActionRequired),
    (200, errors.PermissionDenied, errors.UserActionRequired),
    (299, errors.PermissionDenied, errors.UserActionRequired),
    (100, errors.InvalidParameter, errors.FatalError),
    (131008, errors.ParameterMissing, errors.FatalError),
    (131009, errors.ParameterValueInvalid, errors.FatalError),
    (131005, errors.AccessDenied, errors.UserActionRequired),
    (368, errors.PolicyBlocked, errors.UserActionRequired),
    (1, errors.UnknownGraphError, errors.TransientError),
    (2, errors.ServiceOverloaded, errors.TransientError),
    (4, errors.RateLimited, errors.TransientError),
    (17, errors.RateLimited, errors.TransientError),
    (341, errors.RateLimited, errors.TransientError),
    (80007, errors.RateLimited, errors.TransientError),
    (130429, errors.RateLimited, errors.TransientError),
    (32, errors.RateLimited, errors.TransientError),
    (613, errors.RateLimited, errors.TransientError),
    (80008, errors.RateLimited, errors.TransientError),
    (3, errors.CapabilityMissing, errors.UserActionRequired),
    (33, errors.UnconfirmedMissingObject, errors.FatalError),  # no subcode 33: never a confirmed deletion
    (131031, errors.AccountLocked, errors.UserActionRequired),
    (131000, errors.ServiceUnavailable, errors.TransientError),
    (131016, errors.ServiceUnavailable, errors.TransientError),
    (131057, errors.AccountInMaintenance, errors.TransientError),
    (133000, errors.DeregistrationIncomplete, errors.UserActionRequired),
    (133004, errors.ServerTemporarilyUnavailable, errors.TransientError),
    (133005, errors.PinMismatch, errors.UserActionRequired),
    (133006, errors.NotVerified, errors.UserActionRequired),
    (133008, errors.TooManyPinAttempts, errors.UserActionRequired),
    (133009, errors.PinGuessesTooFast, errors.UserActionRequired),
    (133010, errors.NumberNotRegistered, errors.UserActionRequired),
    (133015, errors.RecentlyDeleted, errors.UserActionRequired),
    (133016, errors.RegistrationLimitReached, errors.UserActionRequired),
    (136024, errors.RequestCodeFailed, errors.UserActionRequired),
]


@pytest.mark.parametrize("code, leaf, top", CODES)
def test_each_graph_error_code_becomes_its_typed_error_over_http(emulator, code, leaf, top):
    emulator.fault("POST", f"/{UNREGISTERED}/register", code=code, count=1)
    client = client_for(emulator)
    with pytest.raises(leaf) as caught:
        client.register(UNREGISTERED, "123456")
    assert isinstance(caught.value, top)
    assert caught.value.code == code
    assert caught.value.fbtrace_id, "Meta support asks for the fbtrace_id"
    assert f"Graph error {code}" in str(caught.value)


def test_code_33_with_subcode_33_is_a_number_deleted_and_without_it_is_not_an_object_not_found(emulator):
    emulator.fault("POST", f"/{UNREGISTERED}/register", code=33, subcode=33, count=1)
    with pytest.raises(errors.NumberDeleted):
        client_for(emulator).register(UNREGISTERED, "123456")
    emulator.fault("POST", f"/{UNREGISTERED}/register", code=33, count=1)
    with pytest.raises(errors.GraphAPIError) as caught:
        client_for(emulator).register(UNREGISTERED, "123456")
    assert not isinstance(caught.value, errors.ObjectNotFound)


def test_131031_is_a_refusal_that_says_do_not_rerun(emulator):
    emulator.fault("POST", f"/{UNREGISTERED}/register", code=131031, count=1)
    with pytest.raises(errors.AccountLocked) as caught:
        client_for(emulator).register(UNREGISTERED, "123456")
    assert caught.value.http_status == 403 and caught.value.do_not_rerun


def test_100_with_subcode_33_is_object_not_found_and_keeps_the_subcode(emulator):
    with pytest.raises(errors.ObjectNotFound) as caught:
        client_for(emulator).get_number("999999999999999")
    assert (caught.value.code, caught.value.subcode, caught.value.http_status) == (100, 33, 400)
    assert "Graph error 100/33" in str(caught.value)


def test_an_unknown_code_is_fatal_unless_marked_transient_or_5xx():
    assert isinstance(error_from_response(400, {"error": {"code": 987654}}), errors.UnclassifiedError)
    assert isinstance(error_from_response(400, {"error": {"code": 987654, "is_transient": True}}), errors.TransientError)
    assert isinstance(error_from_response(502, "<html>bad gateway</html>"), errors.ServerError)
    assert isinstance(error_from_response(400, {"error": {"code": 1, "error_data": "text details"}}), errors.UnknownGraphError)


def test_every_code_of_the_table_has_a_leaf_class():
    assert set(ERRORS_BY_CODE) >= {code for code, _, _ in CODES}


def test_a_read_is_retried_on_transient_errors_and_dropped_connections(emulator):
    emulator.fault("GET", f"/{REGISTERED_BR}", code=133004, count=1)
    emulator.fault("GET", f"/{REGISTERED_BR}", drop=True, count=1)
    sleeps = Sleeps()
    node = client_for(emulator, sleep=sleeps).get_number(REGISTERED_BR)
    assert node.registered and len(sleeps) == 2
    assert len([c for c in emulator.calls() if c["path"] == f"/{REGISTERED_BR}"]) == 3


def test_retry_after_is_honoured(emulator):
    emulator.fault("GET", f"/{REGISTERED_BR}/settings", code=80007, retry_after=7, count=1)
    sleeps = Sleeps()
    assert client_for(emulator, sleep=sleeps).get_storage(REGISTERED_BR).region == "BR"
    assert sleeps == [7.0]


def test_retries_are_bounded(emulator):
    emulator.fault("GET", f"/{REGISTERED_BR}", code=2, count=None)
    sleeps = Sleeps()
    with pytest.raises(errors.ServiceOverloaded):
        client_for(emulator, sleep=sleeps).get_number(REGISTERED_BR)
    assert len(sleeps) == 3
    assert len(emulator.calls()) == 4


@pytest.mark.parametrize("call", ["register", "deregister"])
def test_register_and_deregister_are_never_retried_by_the_client(emulator, call):
    emulator.fault("POST", f"/{REGISTERED_BR}/{call}", code=133004, count=1)
    client = client_for(emulator)
    with pytest.raises(errors.ServerTemporarilyUnavailable):
        if call == "register":
            client.register(REGISTERED_BR, "123456")
        else:
            client.deregister(REGISTERED_BR)
    assert len(emulator.calls()) == 1


def test_permanent_errors_are_not_retried(emulator):
    emulator.fault("GET", f"/{REGISTERED_BR}", code=190, count=None)
    with pytest.raises(errors.AuthenticationFailed):
        client_for(emulator).get_number(REGISTERED_BR)
    assert len(emulator.calls()) == 1


def test_every_call_has_a_timeout(emulator):
    emulator.fault("GET", f"/{REGISTERED_BR}", delay_ms=1500, count=None)
    client = client_for(emulator, timeout=(1.0, 0.3))
    with pytest.raises(errors.RequestTimeout):
        client.get_number(REGISTERED_BR)


def test_read_issues_node_and_settings_concurrently_one_round_trip(emulator):
    emulator.set_latency(150)
    live = client_for(emulator).read(REGISTERED_DEFAULT)
    assert live.region == "DEFAULT" and live.registered and live.node.display_phone_number
    node, settings = sorted(emulator.calls(), key=lambda c: c["path"])
    assert node["started"] < settings["finished"] and settings["started"] < node["finished"], \
        "the two reads must overlap"


def test_settings_changes_send_only_storage_configuration(emulator):
    client = client_for(emulator)
    client.set_storage(UNREGISTERED, "BR")
    client.set_storage(UNREGISTERED, "DEFAULT")
    bodies = [c["body"] for c in emulator.calls()]
    assert bodies == [
        {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "BR"}},
        {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_DISABLED"}},
    ]


def test_business_account_listing_follows_paging_without_sending_the_token_in_the_url(emulator):
    ids = client_for(emulator).list_business_numbers(DEMO_WABA_ID)
    assert ids == {n["id"] for n in emulator.numbers()}
    pages = [c for c in emulator.calls() if c["path"].endswith("/phone_numbers")]
    assert len(pages) >= 1
    assert all("access_token" not in c["query"] for c in pages)


# paging.next on another host or scheme: tests/provider/test_graph_host.py (through a fake transport).


def test_a_rejected_token_never_appears_in_the_error(emulator):
    secret = "EAAbadtoken-0123456789abcdef"
    with pytest.raises(errors.AuthenticationFailed) as caught:
        client_for(emulator, token=secret).get_number(REGISTERED_BR)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert "whatsapp:accessToken" in str(caught.value)


def test_proxy_credentials_in_a_transport_error_are_redacted(monkeypatch):
    """Some proxy errors name the proxy as ``user:password@host``, with no scheme for a pattern to
    anchor on: only the client's registration of the proxy credentials masks them."""
    password = "proxy-pass-only-registered-9090"  # used nowhere else, so no other test registers it
    monkeypatch.setenv("HTTPS_PROXY", f"http://proxyuser:{password}@proxy.internal:3128")

    def proxy_fails(request):
        raise requests.exceptions.ProxyError(
            f"Cannot connect to proxy proxyuser:{password}@proxy.internal:3128: connection reset")

    session, fake = graph_session(proxy_fails)
    config = ProviderConfig.parse({"access_token": "EAAproxy-test-token-0001"}, env={})
    client = GraphClient(config, session=session, sleep=Sleeps(), retry=RetryPolicy(attempts=2, base_seconds=0))
    with pytest.raises(errors.NetworkError) as caught:
        client.get_number(REGISTERED_BR)
    assert caught.value.reason == "proxy" and "Cannot connect to proxy" in str(caught.value)
    assert password not in str(caught.value) and password not in repr(caught.value)
    assert len(fake.requests) == 2, "a read is retried after a network failure"


def test_secret_shaped_values_are_redacted_by_pattern():
    text = redact("via http://u:p4ss-w0rd@proxy.internal:3128 Bearer EAAxyz123 ?access_token=abc&x=1 "
                  "&appsecret_proof=0123abcd {\"pin\": \"123456\"}")
    assert "p4ss-w0rd" not in text and "EAAxyz123" not in text and "0123abcd" not in text
    assert "access_token=***" in text and "appsecret_proof=***" in text and "123456" not in text


def test_a_pin_in_a_python_repr_is_redacted_like_one_in_json():
    """A dict's repr quotes keys with ' (the access_token pattern already allows it): {'pin': '123456'}."""
    for text in (str({"pin": "123456"}), str({"pin": 123456}), "{'pin':'654321'}"):
        assert not any(pin in redact(text) for pin in ("123456", "654321")), redact(text)


def test_usage_headers_are_read_to_slow_down_before_throttling(emulator):
    emulator.set_usage(97)
    sleeps = Sleeps()
    client = client_for(emulator, sleep=sleeps)
    client.get_number(REGISTERED_BR)
    client.get_number(REGISTERED_BR)
    assert sleeps and sleeps[0] > 0
    assert _usage_percent(type("R", (), {"headers": {"X-App-Usage": '{"call_count": 12, "total_time": 40}'}})()) == 40


def test_a_netrc_entry_for_the_graph_host_never_replaces_the_bearer_token(monkeypatch, tmp_path, emulator):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-the-token\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    assert client_for(emulator).get_number(REGISTERED_BR).registered


def test_importing_the_resource_module_does_not_load_the_http_stack():
    import subprocess
    import sys
    code = "import sys, provider.resource; print(sorted(m for m in ('requests', 'pydantic') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_an_account_past_the_slow_down_point_paces_its_own_listing_and_never_another_accounts(emulator) -> None:
    """One hot business account slowed every account's listing by a second (a 1,000-number drift with
    one account limited took 1 s per account): pacing goes by the account a read is counted against."""
    hot, cool = "400000000000001", "400000000000002"
    for waba, number_id in ((hot, "400000000000011"), (cool, "400000000000012")):
        emulator.add_number(id=number_id, waba_id=waba)
    emulator.set_rate_limit(1, waba_id=hot)
    sleeps = Sleeps()
    client = client_for(emulator, sleep=sleeps)
    client.list_phone_numbers(hot, ("id",))  # answers 100 % for the hot account
    client.list_phone_numbers(cool, ("id",))
    assert sleeps == [], "the cool account's listing is not paced"
    client.get_number("400000000000012")  # a node read names no account: it may be the hot one's
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 1.0
    with pytest.raises(errors.AccountLimitReached):
        client.list_phone_numbers(hot, ("id",))
    assert len(sleeps) == 2, "the hot account's own listing is paced (then refused)"


@pytest.mark.parametrize("usage, path, pace", [
    ({}, "/1/phone_numbers", 0.0),
    ({"1": 95.0}, "/1/phone_numbers", 0.5),
    ({"1": 300.0}, "/2/phone_numbers", 0.0),
    ({"": 99.0, "1": 300.0}, "/2/phone_numbers", 0.9),  # the app's figure counts for every account
    ({"1": 300.0}, "/106540352242922", 1.0),
    ({"1": 80.0}, "/106540352242922", 0.0),
])
def test_a_read_is_paced_by_the_figures_it_is_counted_against(usage: dict[str, float], path: str, pace: float) -> None:
    from provider.client import pace_seconds

    assert pace_seconds(usage, path) == pytest.approx(pace)
