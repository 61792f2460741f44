"""Secret scan (issue 5): after every scenario, the access token, the PIN, the app secret and
the appsecret_proof appear nowhere.

Places scanned after each command: the engine's state (outputs and inputs, except the `pin` key
itself: the engine encrypts it because the resource marks the input secret), the pickled provider,
the provider process's stderr, the text of every error, and the emulator's call log. The token and
PIN are distinctive so that a leak cannot hide behind a coincidence.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from emulator.harness import start_emulator
from emulator.seed import COEXISTENCE, NO_STORAGE, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.engine import SECRET_KEY, SECRET_SIG, Engine, ProviderCallError, capture_resource, provider_blob
from tests.reliability_report import engine_config, registered, storage_of

TOKEN = "EAAtest-distinctive-token-1234567890"
WRONG_TOKEN = "EAAwrong-distinctive-token-0987654321"
PIN = "864209"
WRONG_PIN = "975310"
MALFORMED_PIN = "97531"
PROXY_PASSWORD = "proxy-pass-distinctive-5550"
APP_SECRET = "app-secret-distinctive-scan-8080"
WRONG_APP_SECRET = "app-secret-wrong-distinctive-9191"
PROOFS = tuple(hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
               for secret in (APP_SECRET, WRONG_APP_SECRET) for token in (TOKEN, WRONG_TOKEN))


@pytest.fixture(scope="module")
def private_emulator():
    emu = start_emulator(seed="demo", tokens=(TOKEN,))
    yield emu
    emu.stop()


@pytest.fixture
def emu(private_emulator):
    private_emulator.reset("demo")
    for number in (REGISTERED_DEFAULT, REGISTERED_BR, COEXISTENCE, NO_STORAGE):
        private_emulator.patch(number, pin=PIN)
    return private_emulator


def _engine(emu, **overrides) -> Engine:
    config = {**engine_config(emu), **overrides}
    assert config["whatsapp:accessToken"] in (TOKEN, WRONG_TOKEN)
    return Engine(config, continue_on_error=True)


def _res(number: str, region: str, pin: str = PIN, **extra) -> dict:
    return {"phone_number_id": number, "region": region, "pin": pin, **extra}


def scan(eng: Engine, emu, steps=None, *, errors=(), also=()) -> None:
    """Assert that no secret appears anywhere a person, a log or the state could show it."""
    secrets = (TOKEN, WRONG_TOKEN, PIN, WRONG_PIN, MALFORMED_PIN, PROXY_PASSWORD, APP_SECRET, WRONG_APP_SECRET,
               *PROOFS, *also)
    places: dict[str, str] = {}
    for name, res in eng.state.items():
        outputs = {k: v for k, v in res.outputs.items() if k not in ("pin", "__provider")}
        inputs = {k: v for k, v in res.inputs.items() if k not in ("pin", "__provider")}
        places[f"state outputs of {name}"] = json.dumps(outputs, default=str)
        places[f"state inputs of {name}"] = json.dumps(inputs, default=str)
        for where, props in (("outputs", res.outputs), ("inputs", res.inputs)):
            blob = props.get("__provider")
            if blob:
                places[f"pickled provider in {where} of {name}"] = base64.b64decode(blob).decode("latin-1")
        if "pin" in res.outputs:
            assert res.outputs["pin"] == res.inputs.get("pin"), "the pin output only echoes the secret input"
    places["pickled provider"] = base64.b64decode(provider_blob()).decode("latin-1")
    places["provider stderr"] = eng.last_stderr
    for step in (steps or {}).values():
        if step.error is not None:
            places[f"error of {step.name}"] = step.error.details
        places[f"outputs of {step.name}"] = json.dumps(
            {k: v for k, v in step.outputs.items() if k != "pin"}, default=str)
    for i, error in enumerate(errors):
        places[f"error {i}"] = error.details if isinstance(error, ProviderCallError) else str(error)
    places["emulator call log"] = json.dumps(emu.calls())
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into the {where}:\n{text[:2000]}"


def test_the_resource_marks_the_pin_secret():
    pin = capture_resource()["inputs"]["pin"]
    assert isinstance(pin, dict) and pin.get(SECRET_KEY) == SECRET_SIG, "the pin input must be a secret"
    assert capture_resource()["inputs"]["__provider"].get(SECRET_KEY) == SECRET_SIG


def test_lifecycle_adopt_update_refresh_drift_preview_destroy(emu):
    eng = _engine(emu)
    program = {"br": _res(REGISTERED_BR, "BR", on_delete="disable"), "new": _res(UNREGISTERED, "IN")}
    steps = eng.up(program)
    assert all(s.error is None for s in steps.values())
    scan(eng, emu, steps)

    program["br"]["region"] = "IN"
    steps = eng.up(program)
    assert steps["br"].outputs["applied_steps"] == ["deregister", "settings", "register"]
    scan(eng, emu, steps)

    emu.patch(REGISTERED_BR, settings={"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                                 "data_localization_region": "BR"}})
    assert eng.preview(program)["br"] == "update"
    scan(eng, emu)
    steps = eng.refresh(preview_only=True)
    assert steps["br"].op == "drift"
    scan(eng, emu, steps)
    steps = eng.refresh()
    scan(eng, emu, steps)

    eng.config["whatsapp-local-storage:phoneNumbers"] = json.dumps({UNREGISTERED: {"name": "new", "region": "IN"}})
    steps = eng.up({"new": program["new"]})  # "br" left the stack's phoneNumbers: its Delete disables it
    assert all(s.error is None for s in steps.values())
    assert storage_of(emu.number(REGISTERED_BR)) == "DEFAULT", "on_delete=disable converged it"
    scan(eng, emu, steps)


def test_register_with_a_wrong_pin(emu):
    eng = _engine(emu)
    eng.up({"n": _res(REGISTERED_DEFAULT, "DEFAULT", pin=WRONG_PIN)})
    steps = eng.up({"n": _res(REGISTERED_DEFAULT, "BR", pin=WRONG_PIN)})
    assert "133005" in steps["n"].failure.last_line
    scan(eng, emu, steps)
    steps = eng.up({"n": _res(REGISTERED_DEFAULT, "BR")})
    assert steps["n"].error is None
    scan(eng, emu, steps)


def test_enforce_pin_and_the_v20_flow(emu):
    eng = _engine(emu)
    eng.up({"n": _res(REGISTERED_DEFAULT, "DEFAULT", enforce_pin=True)})
    steps = eng.up({"n": _res(REGISTERED_DEFAULT, "BR", enforce_pin=True)})
    assert steps["n"].outputs["applied_steps"] == ["set_pin", "deregister", "settings", "register"]
    scan(eng, emu, steps)

    v20 = _engine(emu, **{"whatsapp:apiVersion": "v20.0"})
    steps = v20.up({"n": _res(UNREGISTERED, "SG")})
    assert steps["n"].error is None and storage_of(emu.number(UNREGISTERED)) == "SG"
    scan(v20, emu, steps)


def test_failures_recovery_and_refusals(emu):
    eng = _engine(emu)
    eng.up({"a": _res(REGISTERED_BR, "BR"), "b": _res(REGISTERED_DEFAULT, "DEFAULT")})
    emu.fault("POST", f"/{REGISTERED_BR}/settings", code=131009)
    steps = eng.up({"a": _res(REGISTERED_BR, "IN"), "b": _res(REGISTERED_DEFAULT, "BR")})
    assert "restored" in steps["a"].failure.last_line
    assert "another cutover failed" in steps["b"].failure.last_line
    scan(eng, emu, steps)

    emu.fault("POST", f"/{REGISTERED_DEFAULT}/deregister", status=503, code=133004)
    emu.fault("POST", f"/{REGISTERED_DEFAULT}/register", drop=True, apply=True)
    steps = eng.up({"a": _res(REGISTERED_BR, "BR"), "b": _res(REGISTERED_DEFAULT, "BR")})
    assert steps["b"].error is None and steps["b"].outputs["region"] == "BR"
    scan(eng, emu, steps)

    steps = eng.up({"a": _res(REGISTERED_BR, "BR"), "b": _res(REGISTERED_DEFAULT, "BR"),
                    "c": _res(COEXISTENCE, "BR", allow_cutover_on_create=True), "d": _res(NO_STORAGE, "BR")})
    assert steps["c"].error is not None and steps["d"].error is not None
    assert registered(emu.number(COEXISTENCE))
    scan(eng, emu, steps)


def test_check_failure_does_not_echo_a_malformed_pin(emu):
    eng = _engine(emu)
    steps = eng.up({"n": _res(UNREGISTERED, "BR", pin=MALFORMED_PIN)})
    assert steps["n"].failure.method == "Check"
    scan(eng, emu, steps)


def test_a_rejected_token_is_not_echoed(emu):
    eng = _engine(emu, **{"whatsapp:accessToken": WRONG_TOKEN})
    steps = eng.up({"n": _res(REGISTERED_BR, "BR")})
    assert "190" in steps["n"].failure.last_line and "whatsapp:accessToken" in steps["n"].failure.last_line
    scan(eng, emu, steps)


def test_unreachable_host_and_proxy_credentials_are_not_echoed(emu):
    eng = Engine({**engine_config(emu), "whatsapp:graphApiUrl": "http://127.0.0.1:1"})
    steps = eng.up({"n": _res(REGISTERED_BR, "BR")})
    assert "whatsapp:graphApiUrl" in steps["n"].failure.last_line
    scan(eng, emu, steps)

    proxy = f"http://someone:{PROXY_PASSWORD}@127.0.0.1:1"
    eng = Engine(engine_config(emu), env={"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""})
    steps = eng.up({"n": _res(REGISTERED_BR, "BR")})
    # A loopback Graph URL is reached directly: through a proxy the token would leave the machine in clear.
    assert steps["n"].error is None, "the request went through the (unreachable) proxy"
    scan(eng, emu, steps)


@pytest.fixture
def proof_required(emu):
    emu.set_app_secret(APP_SECRET)
    yield emu
    emu.set_app_secret(None)


def test_app_secret_and_proof_with_a_cutover_a_wrong_secret_and_a_rejected_token(proof_required):
    emu = proof_required
    eng = _engine(emu, **{"whatsapp:appSecret": APP_SECRET})
    steps = eng.up({"n": _res(REGISTERED_DEFAULT, "DEFAULT")})
    assert steps["n"].error is None
    steps = eng.up({"n": _res(REGISTERED_DEFAULT, "BR")})
    assert steps["n"].outputs["applied_steps"] == ["deregister", "settings", "register"]
    scan(eng, emu, steps)

    wrong = _engine(emu, **{"whatsapp:appSecret": WRONG_APP_SECRET})
    steps = wrong.up({"n": _res(REGISTERED_BR, "BR")})
    assert "appsecret_proof" in steps["n"].failure.last_line
    scan(wrong, emu, steps)

    rejected = _engine(emu, **{"whatsapp:appSecret": APP_SECRET, "whatsapp:accessToken": WRONG_TOKEN})
    steps = rejected.up({"n": _res(REGISTERED_BR, "BR")})
    assert steps["n"].error is not None
    scan(rejected, emu, steps)
