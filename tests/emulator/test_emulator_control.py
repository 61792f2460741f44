"""The control API under /_emulator/: numbers, faults, latency, call log, clock, reset, and
concurrency safety of the server."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from emulator.harness import EmulatorControlError
from emulator.seed import (DEMO_IDS, DEMO_PIN, DEMO_WABA_ID, REGISTERED_BR, REGISTERED_DEFAULT,
                           UNREGISTERED)

REGISTER = {"messaging_product": "whatsapp", "pin": DEMO_PIN}


# -- numbers ---------------------------------------------------------------------------------

def test_demo_seed(emulator):
    numbers = {n["id"]: n for n in emulator.numbers()}
    assert sorted(numbers) == sorted(DEMO_IDS)
    keys = {"id", "waba_id", "display_phone_number", "verified_name", "code_verification_status",
            "platform_type", "status", "is_on_biz_app", "pin", "settings", "registration_calls",
            "blocked_until", "failed_pin_attempts", "verification_code"}
    for rec in numbers.values():
        assert keys <= set(rec)
        assert rec["waba_id"] == DEMO_WABA_ID
    assert numbers[REGISTERED_DEFAULT]["settings"]["calling"] == {"status": "ENABLED"}
    assert numbers[REGISTERED_DEFAULT]["pin"] == "***"  # the control API never shows a PIN
    assert emulator.pin_matches(REGISTERED_DEFAULT, DEMO_PIN)
    assert numbers[UNREGISTERED]["pin"] is None


def test_add_number_with_defaults(emulator, emulator_api):
    rec = emulator.add_number(id="200000000000001")
    assert rec["code_verification_status"] == "VERIFIED"
    assert rec["platform_type"] == "CLOUD_API" and rec["status"] == "CONNECTED"
    assert rec["pin"] is None and rec["is_on_biz_app"] is False
    assert rec["settings"] == {"storage_configuration": {"status": "DEFAULT"}}
    assert rec["waba_id"] == DEMO_WABA_ID
    assert emulator_api.get("/200000000000001").status_code == 200
    generated = emulator.add_number(waba_id="300")
    assert generated["id"].isdigit() and len(generated["id"]) == 15
    assert emulator_api.get("/300/phone_numbers").json()["data"] == [{
        "id": generated["id"], "display_phone_number": generated["display_phone_number"],
        "verified_name": generated["verified_name"], "quality_rating": "GREEN"}]


def test_add_number_rejects_duplicates_and_unknown_keys(emulator):
    with pytest.raises(EmulatorControlError, match="409"):
        emulator.add_number(id=REGISTERED_DEFAULT)
    with pytest.raises(EmulatorControlError, match="plaform_type"):
        emulator.add_number(id="200000000000002", plaform_type="CLOUD_API")


def test_patch_merges_and_replaces_settings(emulator, emulator_api):
    rec = emulator.patch(REGISTERED_DEFAULT, settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "JP"}})
    assert rec["settings"] == {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                         "data_localization_region": "JP"}}
    assert rec["verified_name"] == "Acme Support"
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}/settings").json() == rec["settings"]
    with pytest.raises(EmulatorControlError, match="404"):
        emulator.patch("1", pin="111111")
    resp = requests.patch(f"{emulator.url}/_emulator/numbers/{REGISTERED_DEFAULT}", json={"id": "1"})
    assert resp.status_code == 400
    with pytest.raises(EmulatorControlError, match="400"):
        emulator.patch(REGISTERED_DEFAULT, pin=123456)


def test_delete_number(emulator):
    emulator.delete_number(REGISTERED_BR)
    with pytest.raises(EmulatorControlError, match="404"):
        emulator.number(REGISTERED_BR)
    with pytest.raises(EmulatorControlError, match="404"):
        emulator.delete_number(REGISTERED_BR)


def test_reset_reseeds_and_clears_everything(emulator, emulator_api):
    emulator.delete_number(REGISTERED_BR)
    emulator.fault("GET", "*")
    emulator.set_latency(250)
    emulator.advance(1000)
    emulator_api.get(f"/{REGISTERED_DEFAULT}")
    assert emulator.calls()
    emulator.reset()
    assert len(emulator.numbers()) == 6
    assert emulator.calls() == []
    assert abs(emulator.now() - time.time()) < 5
    started = time.monotonic()
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}").status_code == 200  # no fault, no latency
    assert time.monotonic() - started < 0.2
    emulator.reset(None)
    assert emulator.numbers() == []


def test_control_errors(emulator):
    s = requests.Session()
    s.trust_env = False
    assert s.get(emulator.url + "/_emulator/nope").status_code == 404
    assert s.post(emulator.url + "/_emulator/reset", json={"seed": "bogus"}).status_code == 400
    assert s.post(emulator.url + "/_emulator/latency", json={"ms": -1}).status_code == 400
    assert s.post(emulator.url + "/_emulator/faults", json={"count": 0}).status_code == 400
    assert s.post(emulator.url + "/_emulator/faults", json={"colour": 1}).status_code == 400
    assert s.post(emulator.url + "/_emulator/clock", data="[").status_code == 400
    info = s.get(emulator.url + "/_emulator/").json()
    assert info["numbers"] == 6 and "now" in info


# -- clock -----------------------------------------------------------------------------------

def test_clock_advances(emulator):
    before = emulator.now()
    assert abs(before - time.time()) < 5
    emulator.advance(3600)
    assert emulator.now() - before == pytest.approx(3600, abs=5)


@pytest.mark.parametrize("body", ['{"advance_seconds": -3600}', '{"advance_seconds": NaN}',
                                  '{"advance_seconds": Infinity}'])
def test_the_clock_only_moves_forward_by_a_finite_amount(emulator, body):
    """Backwards would hand a rehearsal its spent register budget back; NaN or infinity (Python's
    JSON reader accepts both) would break every budget and lockout check until a reset."""
    s = requests.Session()
    s.trust_env = False
    before = emulator.now()
    answer = s.post(emulator.url + "/_emulator/clock", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "advance_seconds" in answer.json()["error"]["message"]
    assert emulator.now() - before == pytest.approx(0, abs=5)


# -- faults ----------------------------------------------------------------------------------

def test_fault_status_and_code_then_normal(emulator, emulator_api):
    emulator.fault("POST", f"/{UNREGISTERED}/register", status=503, code=133004)
    err = emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER)
    assert err.status_code == 503
    assert err.json()["error"]["code"] == 133004
    assert err.json()["error"]["fbtrace_id"]
    assert emulator.number(UNREGISTERED)["platform_type"] == "NOT_APPLICABLE"  # not applied
    assert emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER).status_code == 200


def test_fault_defaults_to_503_133004(emulator, emulator_api):
    emulator.fault("GET", f"/{REGISTERED_DEFAULT}")
    resp = emulator_api.get(f"/{REGISTERED_DEFAULT}")
    assert resp.status_code == 503 and resp.json()["error"]["code"] == 133004


def test_fault_code_alone_gets_its_http_status(emulator, emulator_api):
    emulator.fault("GET", "*", code=131000, subcode=2494010, message="Something went wrong",
                   error_data={"messaging_product": "whatsapp", "details": "custom"})
    err = emulator_api.get(f"/{REGISTERED_DEFAULT}")
    assert err.status_code == 500
    body = err.json()["error"]
    assert body["code"] == 131000 and body["error_subcode"] == 2494010
    assert body["message"] == "(#131000) Something went wrong"
    assert body["error_data"]["details"] == "custom"


def test_fault_count_is_honoured(emulator, emulator_api):
    emulator.fault("GET", f"/{REGISTERED_DEFAULT}/settings", count=2, code=4)
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}/settings").json()["error"]["code"] == 4
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}/settings").json()["error"]["code"] == 4
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}/settings").status_code == 200


def test_fault_glob_path_and_method(emulator, emulator_api):
    emulator.fault("POST", "/*/register", count=None, status=500, code=131016)
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}").status_code == 200      # other path
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/deregister").status_code == 200
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER).status_code == 500
    assert emulator_api.post(f"/{REGISTERED_BR}/register", json=REGISTER).status_code == 500
    # any version prefix matches: the glob sees the path without it
    assert emulator_api.post(f"/{REGISTERED_BR}/register", json=REGISTER, version="v20.0").status_code == 500
    emulator.clear_faults()
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER).status_code == 200


def test_fault_wildcard_method(emulator, emulator_api):
    emulator.fault("*", f"/{REGISTERED_DEFAULT}*", count=2, code=2)
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}").status_code == 503
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/settings", json={}).status_code == 503
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}").status_code == 200


def test_fault_retry_after_header(emulator, emulator_api):
    emulator.fault("GET", "*", status=503, code=133004, retry_after=7)
    resp = emulator_api.get(f"/{REGISTERED_DEFAULT}")
    assert resp.headers["Retry-After"] == "7"
    assert "X-App-Usage" in resp.headers


def test_fault_delay_then_real_answer(emulator, emulator_api):
    emulator.fault("GET", f"/{REGISTERED_DEFAULT}", delay_ms=300)
    with pytest.raises(requests.exceptions.Timeout):
        emulator_api.get(f"/{REGISTERED_DEFAULT}", timeout=0.1)
    emulator.fault("GET", f"/{REGISTERED_DEFAULT}", delay_ms=150)
    started = time.monotonic()
    resp = emulator_api.get(f"/{REGISTERED_DEFAULT}")
    assert resp.status_code == 200 and time.monotonic() - started >= 0.15


def test_fault_delay_with_error(emulator, emulator_api):
    emulator.fault("POST", f"/{UNREGISTERED}/register", delay_ms=150, status=503, code=133004)
    started = time.monotonic()
    assert emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER).status_code == 503
    assert time.monotonic() - started >= 0.15


def test_fault_drop_closes_the_connection(emulator, emulator_api):
    emulator.fault("POST", f"/{UNREGISTERED}/register", drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER)
    assert emulator.number(UNREGISTERED)["platform_type"] == "NOT_APPLICABLE"
    # the client recovers on a new connection
    assert emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER).status_code == 200


def test_fault_apply_changes_state_but_returns_the_error(emulator, emulator_api):
    emulator.fault("POST", f"/{REGISTERED_BR}/deregister", apply=True, status=500, code=131000)
    resp = emulator_api.post(f"/{REGISTERED_BR}/deregister")
    assert resp.status_code == 500 and resp.json()["error"]["code"] == 131000
    rec = emulator.number(REGISTERED_BR)
    assert rec["platform_type"] == "NOT_APPLICABLE"
    assert rec["settings"]["storage_configuration"] == {"status": "DEFAULT"}
    assert len(rec["registration_calls"]) == 1


def test_fault_apply_with_drop_and_with_timeout(emulator, emulator_api):
    emulator.fault("POST", f"/{UNREGISTERED}/register", apply=True, drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER)
    assert emulator.number(UNREGISTERED)["platform_type"] == "CLOUD_API"

    emulator.fault("POST", f"/{REGISTERED_DEFAULT}/deregister", apply=True, delay_ms=400)
    with pytest.raises(requests.exceptions.Timeout):
        emulator_api.post(f"/{REGISTERED_DEFAULT}/deregister", timeout=0.1)
    assert emulator.number(REGISTERED_DEFAULT)["platform_type"] == "NOT_APPLICABLE"


def test_faulted_calls_appear_in_the_call_log(emulator, emulator_api):
    emulator.fault("GET", f"/{REGISTERED_DEFAULT}", code=133004, status=503)
    emulator.fault("POST", f"/{UNREGISTERED}/register", drop=True)
    emulator_api.get(f"/{REGISTERED_DEFAULT}")
    with pytest.raises(requests.exceptions.ConnectionError):
        emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER)
    emulator_api.get(f"/{REGISTERED_DEFAULT}")
    calls = emulator.calls()
    assert [c["status"] for c in calls] == [503, None, 200]
    assert calls[0]["fault"]["code"] == 133004 and calls[0]["code"] == 133004
    assert calls[1]["fault"]["drop"] is True
    assert calls[2]["fault"] is None


def test_faults_do_not_touch_control_requests(emulator):
    emulator.fault("*", "*", count=None)
    assert len(emulator.numbers()) == 6


# -- latency ---------------------------------------------------------------------------------

def test_latency_applies_to_api_requests_only(emulator, emulator_api):
    emulator.set_latency(200)
    started = time.monotonic()
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}").status_code == 200
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    emulator.numbers()
    assert time.monotonic() - started < 0.2
    emulator.set_latency(0)
    started = time.monotonic()
    emulator_api.get(f"/{REGISTERED_DEFAULT}")
    assert time.monotonic() - started < 0.2


def test_latency_from_start_option():
    from emulator.harness import start_emulator
    with start_emulator(latency_ms=100) as emu:
        s = requests.Session()
        s.trust_env = False
        started = time.monotonic()
        s.get(f"{emu.url}/v21.0/{REGISTERED_DEFAULT}", headers={"Authorization": "Bearer " + emu.token})
        assert time.monotonic() - started >= 0.1


# -- call log --------------------------------------------------------------------------------

def test_call_log_records_and_redacts(emulator, emulator_api):
    emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER)
    emulator_api.post(f"/{UNREGISTERED}/register", data={"messaging_product": "whatsapp", "pin": "999999"})
    emulator_api.post(f"/{REGISTERED_DEFAULT}", json={"pin": "777777"})
    emulator_api.session.get(f"{emulator.url}/v20.0/{REGISTERED_DEFAULT}",
                             params={"fields": "id", "access_token": emulator.token})
    emulator_api.post(f"/{REGISTERED_BR}/register", params={"messaging_product": "whatsapp", "pin": "888888"})
    calls = emulator.calls()
    assert len(calls) == 5
    first = calls[0]
    assert set(first) == {"method", "path", "version", "served_version", "query", "body", "status",
                          "code", "started", "finished", "fault"}
    assert first["method"] == "POST" and first["path"] == f"/{UNREGISTERED}/register"
    assert first["version"] == "v21.0" and first["status"] == 200 and first["code"] is None
    assert first["body"] == {"messaging_product": "whatsapp", "pin": "***"}
    assert first["started"] <= first["finished"]
    assert calls[1]["body"]["pin"] == "***" and calls[1]["code"] == 133005
    assert calls[2]["body"] == {"pin": "***"}
    assert calls[3]["version"] == "v20.0" and calls[3]["query"] == {"fields": "id", "access_token": "***"}
    assert calls[4]["query"]["pin"] == "***"
    text = json.dumps(calls)
    for secret in (emulator.token, DEMO_PIN, "999999", "777777", "888888"):
        assert secret not in text
    emulator.clear_calls()
    assert emulator.calls() == []


def test_call_log_times_are_on_the_emulator_clock(emulator, emulator_api):
    emulator.advance(10 * 24 * 3600)
    emulator_api.get(f"/{REGISTERED_DEFAULT}")
    (call,) = emulator.calls()
    assert call["started"] == pytest.approx(emulator.now(), abs=5)


def test_call_log_never_holds_the_token_of_a_rejected_call(emulator, make_emulator_http):
    make_emulator_http(emulator, token="wrong-secret-token").get(f"/{REGISTERED_DEFAULT}")
    (call,) = emulator.calls()
    assert call["status"] == 401 and call["code"] == 190
    assert "wrong-secret-token" not in json.dumps(call)


# -- HTTP behaviour and concurrency ----------------------------------------------------------

def test_keep_alive_reuses_the_connection(emulator, emulator_api):
    resp = emulator_api.get(f"/{REGISTERED_DEFAULT}")
    assert resp.raw.version == 11
    assert resp.headers.get("Connection", "").lower() != "close"
    sockets = set()
    for _ in range(5):
        r = emulator_api.get(f"/{REGISTERED_DEFAULT}", stream=True)
        sockets.add(id(r.raw._connection.sock))
        r.content
    assert len(sockets) == 1


def test_concurrent_register_respects_the_budget_exactly(emulator, make_emulator_http):
    barrier = threading.Barrier(50)

    def worker(_):
        api = make_emulator_http(emulator)
        barrier.wait()
        return api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(worker, range(50)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 10
    assert all(r.json()["error"]["code"] == 133016 for r in results if r.status_code != 200)
    assert len(emulator.number(REGISTERED_DEFAULT)["registration_calls"]) == 10
    assert len(emulator.calls()) == 50


def test_concurrent_mixed_requests_are_safe(emulator, make_emulator_http):
    ids = [str(400000000000000 + i) for i in range(25)]
    for id_ in ids:
        emulator.add_number(id=id_, platform_type="NOT_APPLICABLE", pin=DEMO_PIN)
    regions = ["IN", "SG", "BR", "DE", "GB"]

    def worker(i):
        api = make_emulator_http(emulator)
        id_ = ids[i % len(ids)]
        if i < 25:
            body = {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                              "data_localization_region": regions[i % 5]}}
            assert api.post(f"/{id_}/settings", json=body).status_code == 200
            assert api.post(f"/{id_}/register", json=REGISTER).status_code == 200
        else:
            for _ in range(4):
                assert api.get(f"/{id_}", params={"fields": "platform_type"}).status_code == 200
                assert api.get(f"/{DEMO_WABA_ID}/phone_numbers", params={"limit": 7}).status_code == 200
        return i

    with ThreadPoolExecutor(50) as pool:
        assert sorted(pool.map(worker, range(50))) == list(range(50))
    for i, id_ in enumerate(ids):
        rec = emulator.number(id_)
        assert rec["platform_type"] == "CLOUD_API"
        assert rec["settings"]["storage_configuration"]["data_localization_region"] == regions[i % 5]
    assert len(emulator.calls()) == 25 * 2 + 25 * 8


class _LockCheckedDict(dict):
    """A dict that records every access made without holding `lock` (State's one lock)."""

    def __init__(self, data, lock, violations):
        super().__init__(data)
        self._lock, self._violations = lock, violations

    def _check(self, what):
        if not self._lock._is_owned():
            self._violations.append((what, threading.current_thread().name))


for _name in ("__getitem__", "__setitem__", "__delitem__", "__contains__", "__iter__", "__len__",
              "get", "pop", "items", "keys", "values", "setdefault", "update"):
    def _checked(self, *args, _name=_name, **kw):
        self._check(_name)
        return getattr(dict, _name)(self, *args, **kw)
    setattr(_LockCheckedDict, _name, _checked)


def test_every_access_to_the_numbers_holds_the_state_lock(make_emulator_http):
    from emulator.harness import start_emulator
    with start_emulator() as emu:
        assert emu._server is not None  # in-process
        state = emu._server.state
        violations: list[tuple[str, str]] = []
        with state.lock:
            state.numbers = _LockCheckedDict(state.numbers, state.lock, violations)
        api = make_emulator_http(emu)
        emu.add_number(id="200000000000001", platform_type="NOT_APPLICABLE")
        emu.patch("200000000000001", verified_name="Renamed")
        for path in (f"/{REGISTERED_DEFAULT}", f"/{REGISTERED_DEFAULT}/settings", "/999",
                     f"/{DEMO_WABA_ID}/phone_numbers", f"/{DEMO_WABA_ID}"):
            api.get(path)
        api.post("/200000000000001/register", json=REGISTER)
        api.post(f"/{REGISTERED_BR}/deregister")
        emu.numbers(), emu.number(UNREGISTERED), emu.calls()
        emu._control("GET", "/")
        emu.delete_number("200000000000001")
        with state.lock:
            assert isinstance(state.numbers, _LockCheckedDict)  # the check was in place throughout
        assert violations == []


def test_requests_in_flight_across_a_reset_do_not_leak_into_it(emulator, emulator_api):
    emulator.fault("POST", f"/{UNREGISTERED}/register", delay_ms=300)
    with pytest.raises(requests.exceptions.Timeout):
        emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER, timeout=0.05)
    emulator.reset()
    time.sleep(0.4)
    assert emulator.number(UNREGISTERED)["platform_type"] == "NOT_APPLICABLE"
    assert emulator.calls() == []
