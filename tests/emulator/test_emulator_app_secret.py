"""Require App Secret: with an app secret set, every Graph call carries appsecret_proof."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from emulator.harness import start_emulator
from emulator.seed import APP_SECRET_ENV, DEMO_PIN, DEMO_WABA_ID, REGISTERED_DEFAULT, UNREGISTERED
from tests.graph_transport import appsecret_proof

SECRET = "s3cr3t-app-secret-for-tests"
REGISTER = {"messaging_product": "whatsapp", "pin": DEMO_PIN}
MISSING = "API calls from the server require an appsecret_proof argument"
INVALID = "Invalid appsecret_proof provided in the API argument"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CALLS = {
    "read": ("GET", f"/{REGISTERED_DEFAULT}", {}),
    "settings": ("GET", f"/{REGISTERED_DEFAULT}/settings", {}),
    "mutation": ("POST", f"/{UNREGISTERED}/register", {"json": REGISTER}),
    "waba page": ("GET", f"/{DEMO_WABA_ID}/phone_numbers", {}),
}


def assert_app_secret_error(resp, message):
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert (err["code"], err["type"], err["message"]) == (100, "GraphMethodException", message)
    assert "error_subcode" not in err and err["fbtrace_id"]


@pytest.fixture
def secret_emulator(emulator):
    emulator.set_app_secret(SECRET)
    return emulator


@pytest.mark.parametrize("call", CALLS, ids=list(CALLS))
def test_a_call_without_appsecret_proof_is_refused(secret_emulator, make_emulator_http, call):
    method, path, kw = CALLS[call]
    assert_app_secret_error(make_emulator_http(secret_emulator).request(method, path, **kw), MISSING)
    assert secret_emulator.number(UNREGISTERED)["platform_type"] == "NOT_APPLICABLE"
    assert secret_emulator.number(UNREGISTERED)["registration_calls"] == []  # no budget spent


@pytest.mark.parametrize("call", CALLS, ids=list(CALLS))
def test_a_call_with_a_wrong_appsecret_proof_is_refused(secret_emulator, make_emulator_http, call):
    method, path, kw = CALLS[call]
    wrong = make_emulator_http(secret_emulator, app_secret="not-the-secret")
    assert_app_secret_error(wrong.request(method, path, **kw), INVALID)
    upper = make_emulator_http(secret_emulator, token=secret_emulator.token)
    upper.session.params = {"appsecret_proof": appsecret_proof(SECRET, secret_emulator.token).upper()}
    assert_app_secret_error(upper.request(method, path, **kw), INVALID)  # lower-case hex only
    assert secret_emulator.number(UNREGISTERED)["platform_type"] == "NOT_APPLICABLE"


@pytest.mark.parametrize("call", CALLS, ids=list(CALLS))
def test_a_call_with_the_right_appsecret_proof_is_served(secret_emulator, make_emulator_http, call):
    method, path, kw = CALLS[call]
    resp = make_emulator_http(secret_emulator, app_secret=SECRET).request(method, path, **kw)
    assert resp.status_code == 200, resp.text


def test_a_proof_is_bound_to_its_token(make_emulator_http):
    with start_emulator(tokens=("alpha", "beta"), app_secret=SECRET) as emu:
        http = make_emulator_http(emu, token="beta")
        http.session.params = {"appsecret_proof": appsecret_proof(SECRET, "alpha")}
        assert_app_secret_error(http.get(f"/{REGISTERED_DEFAULT}"), INVALID)
        assert make_emulator_http(emu, token="beta", app_secret=SECRET).get(f"/{REGISTERED_DEFAULT}").status_code == 200


def test_the_proof_may_come_as_a_form_or_json_parameter(secret_emulator, make_emulator_http):
    http = make_emulator_http(secret_emulator)
    proof = appsecret_proof(SECRET, secret_emulator.token)
    assert http.post(f"/{UNREGISTERED}/register", data={**REGISTER, "appsecret_proof": proof}).status_code == 200
    assert http.post(f"/{UNREGISTERED}/deregister", json={"appsecret_proof": proof}).status_code == 200
    resp = http.post(f"/{UNREGISTERED}/settings", json={"appsecret_proof": "0" * 64, "storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "BR"}})
    assert_app_secret_error(resp, INVALID)


def test_a_bad_token_is_still_190_before_the_proof_is_checked(secret_emulator, make_emulator_http):
    resp = make_emulator_http(secret_emulator, token="not-a-token").get(f"/{REGISTERED_DEFAULT}")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == 190


def test_waba_paging_links_work_with_the_proof_and_fail_without(secret_emulator, make_emulator_http):
    http = make_emulator_http(secret_emulator, app_secret=SECRET)
    secret_emulator.set_page_size(2)
    first = http.get(f"/{DEMO_WABA_ID}/phone_numbers").json()
    bare = make_emulator_http(secret_emulator, token="")  # the link alone: its token and proof
    bare.session.params = {}
    assert bare.session.get(first["paging"]["next"]).status_code == 200
    without_proof = first["paging"]["next"].replace(
        "appsecret_proof=" + appsecret_proof(SECRET, secret_emulator.token), "")
    assert_app_secret_error(bare.session.get(without_proof), MISSING)


def test_control_calls_never_need_a_proof(secret_emulator):
    assert len(secret_emulator.numbers()) == 6
    secret_emulator.reject_fields([])
    secret_emulator.advance(1)


def test_the_secret_can_be_cleared_and_reset_restores_the_start_up_setting(emulator, make_emulator_http):
    http = make_emulator_http(emulator)
    emulator.set_app_secret(SECRET)
    assert http.get(f"/{REGISTERED_DEFAULT}").status_code == 400
    emulator.set_app_secret(None)
    assert http.get(f"/{REGISTERED_DEFAULT}").status_code == 200
    emulator.set_app_secret(SECRET)
    emulator.reset()
    assert http.get(f"/{REGISTERED_DEFAULT}").status_code == 200
    with start_emulator(app_secret=SECRET) as emu:
        emu.set_app_secret(None)
        emu.reset()
        assert_app_secret_error(make_emulator_http(emu).get(f"/{REGISTERED_DEFAULT}"), MISSING)


def test_the_app_secret_control_rejects_bad_bodies(emulator):
    from emulator.harness import EmulatorControlError
    for body in ({}, {"secret": ""}, {"secret": 5}, {"secret": "x", "other": 1}):
        with pytest.raises(EmulatorControlError, match="400"):
            emulator._control("POST", "/app_secret", body)
    assert emulator._control("GET", "/app_secret") == {"required": False}


def test_neither_the_secret_nor_a_proof_is_logged_or_persisted(tmp_path, make_emulator_http):
    state_file = tmp_path / "state.json"
    with start_emulator(app_secret=SECRET, state_file=state_file) as emu:
        proof = appsecret_proof(SECRET, emu.token)
        http = make_emulator_http(emu, app_secret=SECRET)
        http.post(f"/{UNREGISTERED}/register", json=REGISTER)
        http.post(f"/{UNREGISTERED}/deregister", data={"appsecret_proof": proof})
        make_emulator_http(emu, app_secret="wrong-secret").get(f"/{REGISTERED_DEFAULT}")
        calls = emu.calls()
        assert calls[0]["query"] == {"appsecret_proof": "***"}
        assert calls[1]["body"] == {"appsecret_proof": "***"}
        seen = json.dumps(calls) + json.dumps(emu._control("GET", "/")) + state_file.read_text()
        seen += json.dumps(emu._control("GET", "/app_secret"))
    assert SECRET not in seen and proof not in seen and "wrong-secret" not in seen
    assert appsecret_proof("wrong-secret", "local-dev-token") not in seen


def test_the_command_line_takes_the_secret_from_an_option_or_the_environment(make_emulator_http):
    with start_emulator(subprocess=True, app_secret=SECRET) as emu:  # passed through the environment
        assert_app_secret_error(make_emulator_http(emu).get(f"/{REGISTERED_DEFAULT}"), MISSING)
        assert make_emulator_http(emu, app_secret=SECRET).get(f"/{REGISTERED_DEFAULT}").status_code == 200
        assert emu._process is not None and isinstance(emu._process.args, list)  # subprocess=True: an argv list
        assert SECRET not in " ".join(emu._process.args)
    env = {**os.environ, "PYTHONPATH": ROOT}
    env.pop(APP_SECRET_ENV, None)
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", "--app-secret", SECRET],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert proc.stdout is not None  # piped
    try:
        url = proc.stdout.readline().split()[-1]
        from emulator.harness import Emulator
        emu = Emulator(url, "local-dev-token")
        assert_app_secret_error(make_emulator_http(emu).get(f"/{REGISTERED_DEFAULT}"), MISSING)
        assert make_emulator_http(emu, app_secret=SECRET).get(f"/{REGISTERED_DEFAULT}").status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
