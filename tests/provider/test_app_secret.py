"""Require App Secret: every call carries appsecret_proof; the secret and the proof never show."""

from __future__ import annotations

import hashlib
import hmac
import pickle
from pathlib import Path

import pytest

from provider import errors
from provider.client import GraphClient, RetryPolicy
from provider.config import ProviderConfig
from provider.stackfile import Secure, StackFile
from provider.notices import Notices
from tests.graph_transport import graph_error, graph_session, ok, path_of, query_of

TOKEN = "EAAapp-secret-test-token-5551234"
APP_SECRET = "app-secret-distinctive-7c1f00d2"
PROOF = hmac.new(APP_SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
NUMBER = "106540352242922"
WABA = "102290129340398"


def provider_config(**values) -> ProviderConfig:
    return ProviderConfig.parse({"access_token": TOKEN, "app_secret": APP_SECRET, **values}, env={})


def meta(request):
    """Enough of Meta to answer each call the client makes, with two pages of numbers."""
    path = path_of(request)
    if path == f"/{WABA}/phone_numbers" and "after" not in query_of(request):
        nxt = (f"https://graph.facebook.com/v25.0/{WABA}/phone_numbers?fields=id&limit=100&after=MQ"
               f"&access_token={TOKEN}&appsecret_proof=stale-proof-from-meta")
        return ok({"data": [{"id": NUMBER}], "paging": {"next": nxt}})
    if path == f"/{WABA}/phone_numbers":
        return ok({"data": [{"id": "106540352242923"}]})
    if request.method == "GET" and path == f"/{NUMBER}":
        return ok({"id": NUMBER, "platform_type": "CLOUD_API", "code_verification_status": "VERIFIED"})
    if request.method == "GET":
        return ok({"storage_configuration": {"status": "DEFAULT"}})
    return ok()


def every_call(client: GraphClient) -> None:
    client.get_number(NUMBER)
    client.get_storage(NUMBER)
    client.read(NUMBER)
    client.set_storage(NUMBER, "BR")
    client.register(NUMBER, "123456")
    client.deregister(NUMBER)
    client.set_pin(NUMBER, "123456")
    client.request_code(NUMBER)
    client.verify_code(NUMBER, "123830")
    assert client.list_business_numbers(WABA) == {NUMBER, "106540352242923"}


def test_every_call_carries_one_appsecret_proof_of_the_token():
    session, fake = graph_session(meta)
    every_call(GraphClient(provider_config(), session=session))
    assert len(fake.requests) == 12  # read() is two requests; the listing two pages
    for request in fake.requests:
        query = query_of(request)
        assert query.get("appsecret_proof") == [PROOF], f"{request.method} {request.url}"
        assert "access_token" not in query, "the token travels in the header only"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "after" in query_of(fake.requests[-1]), "the second page was read through paging.next"


def test_without_an_app_secret_no_proof_is_sent():
    session, fake = graph_session(meta)
    every_call(GraphClient(ProviderConfig.parse({"access_token": TOKEN}, env={}), session=session))
    assert not any("appsecret_proof" in query_of(r) for r in fake.requests[:-1])
    assert query_of(fake.requests[-1]).get("appsecret_proof") is None, "Meta's stale proof is stripped from next"


@pytest.mark.parametrize("stack, env, names", [
    ({"whatsapp:appSecret": ""}, {}, "whatsapp:appSecret"),
    ({"whatsapp:appSecret": "   "}, {"WHATSAPP_APP_SECRET": APP_SECRET}, "whatsapp:appSecret"),
    ({}, {"WHATSAPP_APP_SECRET": ""}, "WHATSAPP_APP_SECRET"),
    ({}, {"WHATSAPP_APP_SECRET": " \t"}, "WHATSAPP_APP_SECRET"),
])
def test_a_set_but_empty_app_secret_is_a_configuration_error_naming_the_key(stack, env, names):
    with pytest.raises(errors.ConfigurationError, match=names):
        ProviderConfig.load({"whatsapp:accessToken": TOKEN, **stack}, env)


def test_the_stack_app_secret_wins_over_the_environment_with_one_notice(capsys, monkeypatch):
    process = Notices()  # a fresh process's notice sink: its notices not printed yet
    stack = {"whatsapp:accessToken": TOKEN, "whatsapp:appSecret": APP_SECRET}
    for _ in range(3):
        loaded = ProviderConfig.load(stack, {"WHATSAPP_APP_SECRET": "another-app-secret-0000"})
        process.all_once(loaded.notices)
    assert loaded.app_secret == APP_SECRET and loaded.app_secret_source.kind == "stack"
    err = capsys.readouterr().err
    assert err.count("whatsapp:appSecret in the stack config and WHATSAPP_APP_SECRET in the environment differ") == 1
    assert APP_SECRET not in err and "another-app-secret-0000" not in err
    assert ProviderConfig.load({"whatsapp:accessToken": TOKEN}, {"WHATSAPP_APP_SECRET": APP_SECRET}).app_secret \
        == APP_SECRET


def test_the_secret_and_the_proof_appear_in_no_repr_pickle_or_error():
    cfg = provider_config()
    session, _ = graph_session(lambda r: graph_error(190, f"Invalid token {TOKEN} proof {PROOF} secret {APP_SECRET}",
                                                     status=401))
    client = GraphClient(cfg, session=session)
    with pytest.raises(errors.AuthenticationFailed) as caught:
        client.get_number(NUMBER)
    texts = [repr(cfg), str(cfg), repr(client), str(caught.value), repr(caught.value), caught.value.graph_message]
    for kind in (cfg, client):
        with pytest.raises(TypeError) as refused:
            pickle.dumps(kind)
        texts.append(str(refused.value))
    for text in texts:
        for secret in (TOKEN, APP_SECRET, PROOF):
            assert secret not in text


@pytest.mark.parametrize("message", [
    "API calls from the server require an appsecret_proof argument",
    "Invalid appsecret_proof provided in the API argument",
])
@pytest.mark.parametrize("configured", [True, False])
def test_metas_proof_refusal_becomes_a_typed_error_naming_the_fix(message, configured):
    values = {"access_token": TOKEN, **({"app_secret": APP_SECRET} if configured else {})}
    session, fake = graph_session(lambda r: graph_error(100, message, error_type="GraphMethodException"))
    client = GraphClient(ProviderConfig.parse(values, env={}), session=session, sleep=lambda s: None)
    with pytest.raises(errors.AppSecretProofRejected) as caught:
        client.get_number(NUMBER)
    text = str(caught.value)
    assert isinstance(caught.value, errors.UserActionRequired) and len(fake.requests) == 1, "never retried"
    assert "appsecret_proof" in text and "whatsapp:appSecret" in text and "WHATSAPP_APP_SECRET" in text
    assert ("does not match the app" in text) is configured
    assert ("No app secret is configured" in text) is not configured


def test_other_invalid_parameter_errors_stay_invalid_parameter():
    session, _ = graph_session(lambda r: graph_error(100, "(#100) Param pin must be 6 digits"))
    client = GraphClient(provider_config(), session=session, retry=RetryPolicy(attempts=1))
    with pytest.raises(errors.InvalidParameter) as caught:
        client.set_pin(NUMBER, "12345")
    assert not isinstance(caught.value, errors.AppSecretProofRejected)


def _stack_file(**config) -> StackFile:
    return StackFile(project_dir=Path("/project"), path=Path("/project/stacks/Pulumi.dev.yaml"),
                     project="whatsapp-local-storage", stack="dev", config=config)


def test_the_stack_file_takes_the_app_secret_like_the_token():
    plain = _stack_file(**{"whatsapp:appSecret": APP_SECRET}).provider_config({"WHATSAPP_ACCESS_TOKEN": TOKEN})
    assert plain.app_secret == APP_SECRET
    secure = _stack_file(**{"whatsapp:appSecret": Secure("v1:abc")})
    with pytest.raises(errors.ConfigurationError, match="WHATSAPP_APP_SECRET"):
        secure.provider_config({"WHATSAPP_ACCESS_TOKEN": TOKEN})
    from_env = secure.provider_config({"WHATSAPP_ACCESS_TOKEN": TOKEN, "WHATSAPP_APP_SECRET": APP_SECRET})
    assert from_env.app_secret == APP_SECRET and from_env.app_secret_source.kind == "env"


# --- through the engine protocol, against an emulator that requires appsecret_proof -------------

ENGINE_SECRET = "engine-app-secret-distinctive-5e6f"


@pytest.fixture(scope="module")
def proof_emulator():
    from emulator.harness import start_emulator

    emu = start_emulator(seed="demo", app_secret=ENGINE_SECRET)
    yield emu
    emu.stop()


def _engine(emu, **config):
    from tests.engine import Engine
    from tests.reliability_report import engine_config

    emu.reset("demo")
    return Engine({**engine_config(emu), **config})


def test_a_number_converges_on_an_emulator_that_requires_appsecret_proof(proof_emulator):
    from emulator.seed import DEMO_PIN, REGISTERED_DEFAULT
    from tests.reliability_report import storage_of

    eng = _engine(proof_emulator, **{"whatsapp:appSecret": ENGINE_SECRET})
    program = {"n": {"phone_number_id": REGISTERED_DEFAULT, "region": "DEFAULT", "pin": DEMO_PIN}}
    assert eng.up(program)["n"].error is None
    program["n"]["region"] = "BR"
    steps = eng.up(program)
    assert steps["n"].error is None, steps["n"].error
    assert steps["n"].outputs["applied_steps"] == ["deregister", "settings", "register"]
    assert storage_of(proof_emulator.number(REGISTERED_DEFAULT)) == "BR"
    calls = proof_emulator.calls()
    assert calls and all(c["status"] < 400 for c in calls), "every call carried a valid proof"
    proof = hmac.new(ENGINE_SECRET.encode(), proof_emulator.token.encode(), hashlib.sha256).hexdigest()
    for text in (eng.last_stderr, str(steps["n"].outputs), str(calls)):
        assert ENGINE_SECRET not in text and proof not in text


@pytest.mark.parametrize("secret, says", [
    (None, "No app secret is configured: neither whatsapp:appSecret nor WHATSAPP_APP_SECRET is set"),
    ("the-wrong-app-secret-0000", "The app secret from the stack config whatsapp:appSecret does not match"),
])
def test_without_the_right_app_secret_the_error_names_the_fix(proof_emulator, secret, says):
    from emulator.seed import REGISTERED_BR

    eng = _engine(proof_emulator, **({"whatsapp:appSecret": secret} if secret else {}))
    steps = eng.up({"n": {"phone_number_id": REGISTERED_BR, "region": "BR"}})
    last = steps["n"].error.last_line
    assert "appsecret_proof" in last and says in last
    assert "pulumi config set --secret whatsapp:appSecret" in last
    assert all(c["method"] == "GET" for c in proof_emulator.calls()), "nothing was changed"
