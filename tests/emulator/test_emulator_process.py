"""`python -m emulator` as a process: first line, signals, options, and --state persistence."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emulator.harness import start_emulator
from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.matching import must_match

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGISTER = {"messaging_product": "whatsapp", "pin": DEMO_PIN}


def _session(token):
    s = requests.Session()
    s.trust_env = False
    if token:
        s.headers["Authorization"] = f"Bearer {token}"
    return s


def test_subprocess_harness(make_emulator_http):
    with start_emulator(subprocess=True) as emu:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.url)
        api = make_emulator_http(emu)
        assert api.get(f"/{REGISTERED_DEFAULT}").json()["id"] == REGISTERED_DEFAULT
        assert api.post(f"/{REGISTERED_BR}/deregister").status_code == 200
        assert api.get(f"/{REGISTERED_BR}/settings").json()["storage_configuration"] == {"status": "DEFAULT"}
        emu.fault("GET", "*", code=2)
        assert api.get(f"/{REGISTERED_DEFAULT}").status_code == 503
        assert len(emu.calls()) == 4
        emu.reset(None)
        assert emu.numbers() == []
        proc = emu._process
    assert proc is not None  # subprocess=True
    assert proc.returncode == 0  # SIGTERM is a clean shutdown


def test_subprocess_options(make_emulator_http):
    with start_emulator(subprocess=True, tokens=("t1", "t2"), deregister_keeps_storage=True) as emu:
        assert emu.token == "t1"
        assert make_emulator_http(emu, token="local-dev-token").get(f"/{REGISTERED_DEFAULT}").status_code == 401
        api = make_emulator_http(emu, token="t2")
        assert api.post(f"/{REGISTERED_BR}/deregister").status_code == 200
        assert api.get(f"/{REGISTERED_BR}/settings").json()["storage_configuration"]["data_localization_region"] == "BR"


def test_cli_prints_one_line_and_stops_on_sigint():
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", "--seed", "none",
                             "--latency-ms", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert proc.stdout is not None  # piped
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"emulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert m, line
        assert int(m.group(2)) > 0
        assert requests.get(m.group(1) + "/_emulator/numbers").json() == []
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert out == ""  # exactly one line on stdout
    assert "Traceback" not in err


def test_cli_reports_a_busy_port():
    with start_emulator() as emu:
        port = emu.url.rsplit(":", 1)[1]
        result = subprocess.run([sys.executable, "-m", "emulator", "--port", port], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True, text=True,
                                timeout=20)
    assert result.returncode != 0
    assert "cannot start" in result.stderr


def test_cli_help_shows_every_option_with_its_default_and_every_seed():
    env = {**os.environ, "PYTHONPATH": ROOT, "EMULATOR_APP_SECRET": "secret-from-the-environment",
           "COLUMNS": "200"}  # no wrapping inside a default
    result = subprocess.run([sys.executable, "-m", "emulator", "--help"], cwd=ROOT, capture_output=True,
                            text=True, env=env, timeout=20)
    assert result.returncode == 0
    text = result.stdout
    options, seeds = text.split("\noptions:\n")[1].split("\nseeds:\n")
    # one entry per option: its first line starts with "  --"; the help may wrap onto more lines
    entries = re.split(r"\n(?=  -)", options.strip("\n"))
    documented = {must_match(re.match(r"\s*(-[-\w]+)", e), e).group(1): " ".join(e.split()) for e in entries}
    expected = {"--host": "127.0.0.1", "--port": "8787", "--seed": "demo", "--state": "memory",
                "--token": "local-dev-token", "--latency-ms": "0.0", "--page-size": "25",
                "--deregister-keeps-storage": "False", "--app-secret": "not required",
                "--register-accepts-region": "False", "--lowercase-statuses": "False", "--rate-limit": "on",
                "--threads": "64"}
    for option, default in expected.items():
        assert "(default: " in documented[option], documented[option]
        assert default in documented[option].split("(default: ")[1], documented[option]
    assert set(documented) == {"-h", *expected}
    from emulator.seed import SEEDS
    lines = [line.split(None, 1) for line in seeds.strip().splitlines()]
    assert [name for name, _ in lines] == list(SEEDS)
    assert all(len(description) > 10 for _, description in lines)
    assert "secret-from-the-environment" not in text


def test_state_file_survives_a_subprocess_restart(tmp_path):
    state_file = tmp_path / "emulator-state.json"
    with start_emulator(subprocess=True, state_file=state_file) as emu:
        assert state_file.exists()
        s = _session(emu.token)
        body = {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "CH"}}
        assert s.post(f"{emu.url}/v21.0/{UNREGISTERED}/settings", json=body).status_code == 200
        assert s.post(f"{emu.url}/v21.0/{UNREGISTERED}/register", json=REGISTER).status_code == 200
        emu.patch(REGISTERED_DEFAULT, verified_name="Renamed out of band")
        emu.delete_number(REGISTERED_BR)
        emu.advance(3600)
        calls_before = emu.number(UNREGISTERED)["registration_calls"]
    saved = json.loads(state_file.read_text())
    assert {n["id"] for n in saved["numbers"]} >= {UNREGISTERED, REGISTERED_DEFAULT}
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temp files behind

    with start_emulator(subprocess=True, state_file=state_file, seed="demo") as emu:
        rec = emu.number(UNREGISTERED)
        assert rec["platform_type"] == "CLOUD_API"
        assert rec["pin"] == "***" and emu.pin_matches(UNREGISTERED, DEMO_PIN)
        assert rec["settings"]["storage_configuration"] == {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                            "data_localization_region": "CH"}
        assert rec["registration_calls"] == calls_before
        assert emu.number(REGISTERED_DEFAULT)["verified_name"] == "Renamed out of band"
        assert REGISTERED_BR not in {n["id"] for n in emu.numbers()}  # the file wins over --seed
        assert emu.now() - time.time() == pytest.approx(3600, abs=60)  # clock offset persisted


def test_state_file_in_process_is_saved_after_every_mutation(tmp_path, make_emulator_http):
    state_file = tmp_path / "state.json"
    with start_emulator(state_file=state_file) as emu:
        api = make_emulator_http(emu)
        api.post(f"/{REGISTERED_DEFAULT}/register", json={**REGISTER, "pin": "000000"})  # a failed call
        saved = {n["id"]: n for n in json.loads(state_file.read_text())["numbers"]}
        assert saved[REGISTERED_DEFAULT]["failed_pin_attempts"] == 1
        assert len(saved[REGISTERED_DEFAULT]["registration_calls"]) == 1
        emu.reset(None)
        assert json.loads(state_file.read_text())["numbers"] == []


def test_a_state_file_in_a_directory_not_made_yet_is_created_with_it(tmp_path: Path) -> None:
    """The README's `--state .pulumi-local/emulator.json` on a fresh clone, before up-local made the directory."""
    state_file = tmp_path / "not-yet" / "emulator.json"
    with start_emulator(state_file=state_file) as emu:
        assert REGISTERED_BR in {n["id"] for n in emu.numbers()}, "seeded with the demo numbers"
    assert REGISTERED_BR in {n["id"] for n in json.loads(state_file.read_text())["numbers"]}


@pytest.mark.parametrize("value", ["-5", "nan", "inf"])
def test_cli_refuses_a_latency_that_cannot_be_slept(value, capsys):
    """The control API refuses ms < 0; the command line must too, or every Graph call's handler
    fails in time.sleep and the client sees a dropped connection instead of an answer."""
    from emulator.__main__ import parse_args

    with pytest.raises(SystemExit) as stopped:
        parse_args(["--latency-ms", value])
    assert stopped.value.code == 2 and "--latency-ms" in capsys.readouterr().err


def test_the_installed_emulator_command_names_itself_in_its_usage(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from emulator.__main__ import console

    monkeypatch.setattr(sys, "argv", ["whatsapp-local-storage-emulator", "--help"])
    with pytest.raises(SystemExit) as stopped:
        console()
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("usage: whatsapp-local-storage-emulator ")
