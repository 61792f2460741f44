"""Issue 20: the command line against hostile input, with Hypothesis.

Random stack files (structured and raw YAML, aliases, control characters, non-ASCII digits,
secure values, odd URLs), random state files (any JSON, export-shaped or not, or not JSON) and
random flags go through ``provider.cli.main`` in-process, against the in-process emulator or (issue
29) a Graph API that answers every call with a redirect and a JSON body, with the stack, project or
state file sometimes a symbolic link to a file of secrets. Every run must end in a result (exit 0,
1 or 7, as documented for plan/drift/report/import/verify) or a clean usage error (exit 2): no
exception out of ``main``, no traceback, no secret (the token, the app secret, a PIN, a linked
file's content) in the output, nothing that a terminal or a CI runner would interpret (ESC,
``##[`` anywhere in a line, ``::`` at a line start), a redirect never read as an answer, a linked
stack or project file never read, and with ``--format json`` exactly one JSON document whose
``exit_code`` is the exit code. A hang fails the example through Hypothesis's deadline.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from emulator.seed import DEMO_IDS, DEMO_WABA_ID
from provider import cli
from provider.stackfile import TYPE_TOKEN

PROJECT = "whatsapp-local-storage"
PIN_SECRET = "730519"
APP_SECRET = "fuzz-app-secret-0b1e7c"
TYPE = TYPE_TOKEN

# Characters that have broken printers, parsers and digit rules before.
NASTY = list("09１２²٣ \n\r\t\x1b\x00[]<>|`*:#!-&'\"{}%@\\/?=aZ\u202e\u2028\ufeff$") + [
    "::error::", "<!--", "##[", "a ##[error]b", "#", "##", "[error]"]
# What a linked file holds: none of it may ever be printed.
LINKED_SECRET = "aws_secret_access_key = LINKED-wJalrXUtnFEMI-K7MDENG"
nasty_text = st.lists(st.sampled_from(NASTY), max_size=8).map("".join) | st.text(max_size=12)
scalars = st.none() | st.booleans() | st.integers(-10, 10**16) | st.floats(allow_nan=True) | nasty_text
values = scalars | st.lists(scalars, max_size=2) | st.dictionaries(nasty_text, scalars, max_size=2)
regions = st.sampled_from(["BR", "DE", "IN", "DEFAULT", "br", " BR", "UK", "EU", ""]) | values
pins = st.sampled_from([PIN_SECRET, "１２３４５６", "12345\n", "123", "abcdef", 730519]) | st.just(
    {"secure": "v1:Zm9v"}) | values
number_ids = st.sampled_from(DEMO_IDS) | st.integers(0, 10**16).map(str) | nasty_text
entries = st.fixed_dictionaries(
    {"region": regions},
    optional={"pin": pins, "name": nasty_text, "enforcePin": values, "allowCutoverOnCreate": values,
              "onDelete": st.sampled_from(["retain", "disable"]) | values, "wabaId": number_ids, "bogus": values},
) | values


def graph_urls(emulator_url: str, redirect_url: str) -> st.SearchStrategy[object]:
    # No unreachable address: the client's retries of a refused connection wait for real (that path
    # is tests/provider/test_network_errors.py's).
    return st.sampled_from([emulator_url, emulator_url + "/", redirect_url, redirect_url, "http://[::1",
                            "https://graph.facebook.com:8443", "http://graph.facebook.com", "https://evil.example",
                            emulator_url + "\t.evil.example", emulator_url.replace("127.0.0.1", "localhost"),
                            "ftp://127.0.0.1"]) | values


def stack_configs(emulator_url: str, token: str, redirect_url: str) -> st.SearchStrategy[dict]:
    numbers = st.dictionaries(number_ids, entries, max_size=3) | values
    return st.fixed_dictionaries(
        {f"{PROJECT}:phoneNumbers": numbers},
        optional={"whatsapp:graphApiUrl": graph_urls(emulator_url, redirect_url),
                  "whatsapp:apiVersion": st.sampled_from(["v25.0", "v20.0", "25", "banana"]) | values,
                  "whatsapp:accessToken": st.sampled_from([token, token + "\n", token + "\u201d", f"{token}\nx",
                                                           {"secure": "v1:abc"}]) | values,
                  "whatsapp:appSecret": st.sampled_from([APP_SECRET, "", {"secure": "v1:abc"}]) | values,
                  f"{PROJECT}:allowedRegions": st.lists(regions, max_size=3) | values,
                  "whatsapp:maxConcurrentCutovers": values},
    )


RAW_PIECES = ["config:\n", "  ", "&a ", "*a", "[", "]", "{", "}", ": ", "- ", "\n", f"{PROJECT}:phoneNumbers",
              "secure: v1:abc", "'", '"', "106540352242923", "region: BR", "<<: *a", "!!python/object/apply:os.system",
              "%YAML 1.1\n", "---\n", "\t", "\x00", "\ufeff", "１２３", "\x1b[2J", "::error::x", "\xff"]
raw_yaml = st.lists(st.sampled_from(RAW_PIECES), max_size=25).map("".join)

json_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["deployment", "resources", "type", "outputs", "urn", "id", "phone_number_id", "delete",
                         "modified", "applied_steps", "registration_calls", "inputs"]) | nasty_text, inner, max_size=4),
    max_leaves=12)
resources = st.fixed_dictionaries(
    {"urn": st.sampled_from([f"urn:pulumi:test::{PROJECT}::{TYPE}::n", f"urn:pulumi:other::{PROJECT}::{TYPE}::n"])
     | nasty_text,
     "type": st.just(TYPE) | nasty_text,
     "outputs": st.fixed_dictionaries({"phone_number_id": number_ids},
                                      optional={"registration_calls": st.lists(nasty_text, max_size=3) | values,
                                                "applied_steps": st.lists(nasty_text, max_size=3) | values,
                                                "on_delete": values, "region": regions}) | values},
    optional={"modified": nasty_text, "delete": values, "id": number_ids})
state_files = (st.builds(lambda r: json.dumps({"deployment": {"resources": r}}), st.lists(resources, max_size=3))
               | json_trees.map(json.dumps) | raw_yaml | st.just("[" * 5000))

COMMANDS = ["plan", "drift", "report", "import", "verify", "regions"]
FLAGS = ["--format", "json", "markdown", "text", "csv", "yaml", "--state", "--stack", "test", "other",
         "--waba-id", DEMO_WABA_ID, "²", "--write", "--code", PIN_SECRET, "１２", "--phone-number-id", "--method",
         "SMS", "--language", "en_US\x1b[31m", "::error::x", "--project-dir", "-x", "--", ""]


FORMATS = {"plan": ["text", "markdown", "json"], "drift": ["text", "markdown", "json"],
           "report": ["markdown", "csv", "json"], "import": ["yaml", "json"]}


def sometimes(rare: st.SearchStrategy, usual: st.SearchStrategy) -> st.SearchStrategy:
    """``rare`` one time in four, else ``usual``."""
    return st.integers(0, 3).flatmap(lambda pick: rare if pick == 0 else usual)


def safe_lines(text: str) -> None:
    assert "\x1b" not in text and "\u202e" not in text
    assert "##[" not in text, "the runner reads `##[` anywhere in a line"
    for line in text.replace("\r", "\n").splitlines():
        stripped = line.lstrip()
        assert not stripped.startswith("::"), line


class Redirects:
    """A Graph API answering every call with a redirect and a JSON body, chosen per example."""

    STATUSES = [301, 302, 303, 307, 308]
    BODIES = [{}, {"success": True}, {"id": "106540352242923", "storage_configuration": {"status": "DEFAULT"}},
              {"data": [], "paging": {}}, {"error": {"message": "moved", "code": 1}}]

    def __init__(self) -> None:
        self.status, self.calls = 307, 0
        self.body: dict[str, Any] = {}

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        self.calls += 1
        body = json.dumps(self.body).encode()
        handler.send_response(self.status)
        handler.send_header("Location", "https://evil.example/moved")
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture(scope="module")
def redirects() -> Iterator[tuple[str, Redirects]]:
    state = Redirects()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.answer(self)

        do_POST = do_GET

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


LINKS = ["stack file", "project file", "state file"]


@pytest.fixture
def environment(monkeypatch, emulator):
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", emulator.token)
    monkeypatch.delenv("WHATSAPP_APP_SECRET", raising=False)
    monkeypatch.setenv("WHATSAPP_GRAPH_API_URL", emulator.url)  # never the real Graph API
    monkeypatch.delenv("WHATSAPP_ALLOW_GRAPH_HOST", raising=False)
    return emulator


@settings(max_examples=100, deadline=timedelta(seconds=10), derandomize=False, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_any_input_ends_in_a_result_or_a_clean_error(environment, redirects, data):
    emulator = environment
    redirect_url, redirect = redirects
    redirect.status = data.draw(st.sampled_from(Redirects.STATUSES), label="redirect status")
    redirect.body = data.draw(st.sampled_from(Redirects.BODIES), label="redirect body")
    redirect.calls = 0
    links = data.draw(sometimes(st.lists(st.sampled_from(LINKS), min_size=1, max_size=2, unique=True),
                                st.just([])), label="links")
    command = data.draw(st.sampled_from(COMMANDS), label="command")
    # The environment's Graph URL (a stack file's wins): the redirecting one a time in four.
    os.environ["WHATSAPP_GRAPH_API_URL"] = data.draw(sometimes(st.just(redirect_url), st.just(emulator.url)),
                                                     label="WHATSAPP_GRAPH_API_URL")
    structured = stack_configs(emulator.url, emulator.token, redirect_url).map(
        lambda config: yaml.safe_dump({"config": config}, allow_unicode=True))
    # A valid stack whose Graph API redirects every call, so that redirects reach every command.
    redirected = st.builds(lambda name, number_id: yaml.safe_dump({"config": {
        "whatsapp:graphApiUrl": redirect_url,
        f"{PROJECT}:phoneNumbers": {number_id: {"region": "BR", "pin": PIN_SECRET, "name": name}}}}),
        nasty_text, st.sampled_from(DEMO_IDS))
    # Mostly inputs that get past parsing, so that the reads and the renderers see them too.
    stack_text = data.draw(st.integers(0, 3).flatmap(lambda pick: (raw_yaml, redirected, structured, structured)[pick]),
                           label="stack file")
    state_text = data.draw(st.none() | state_files, label="state file")
    fmt = data.draw(st.sampled_from(FORMATS.get(command, [None])), label="format")
    extra = data.draw(sometimes(st.lists(st.sampled_from(FLAGS), min_size=1, max_size=4), st.just([])),
                      label="flags")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\nstackConfigDir: stacks\n")
        (root / "stacks").mkdir()
        (root / "stacks" / "Pulumi.test.yaml").write_text(stack_text, encoding="utf-8", errors="surrogateescape")
        argv = [command]
        if command in ("plan", "drift", "report", "import"):
            argv += ["--stack", "test"]
        if command == "import":
            argv += ["--waba-id", DEMO_WABA_ID]
        if command == "verify":
            argv += ["--phone-number-id", data.draw(number_ids, label="verify id"), "--code", "123456"]
        if command != "regions":
            argv += ["--project-dir", str(root)]
        if state_text is not None and command in ("plan", "drift", "report"):
            (root / "state.json").write_text(state_text, encoding="utf-8", errors="surrogateescape")
            argv += ["--state", str(root / "state.json")]
        argv += ["--format", fmt] if fmt else []
        argv += [str(root) if flag == "--project-dir" else flag for flag in extra]
        linked = {"stack file": root / "stacks" / "Pulumi.test.yaml", "project file": root / "Pulumi.yaml",
                  "state file": root / "state.json"}
        secrets = Path(tmp) / "credentials"
        secrets.write_text(f"[default]\n{LINKED_SECRET}\n")
        for name in links:  # the file becomes a link to a file of secrets
            linked[name].unlink(missing_ok=True)
            linked[name].symlink_to(secrets)
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(argv, out=out, err=err)  # an exception here is a finding
    stdout, stderr = out.getvalue(), err.getvalue()
    event(f"{command}: exit {code}")  # --hypothesis-show-statistics shows how far the inputs got
    event(f"redirects answered: {bool(redirect.calls)}, links: {bool(links)}")
    assert code in (0, 1, 2, 7), (code, argv, stderr)
    both = stdout + stderr
    assert "Traceback" not in both and "internal error" not in both, both
    for secret in (emulator.token, APP_SECRET, "LINKED-wJalr"):
        assert secret not in both
    if redirect.calls:  # a redirect's body is never an answer: whatever was read, the run fails
        assert code == 1, (redirect.status, redirect.body, stdout, stderr)
    if {"stack file", "project file"} & set(links) and command in ("plan", "drift", "report", "import"):
        assert code == 2 and not redirect.calls, "a linked Pulumi file is never read"
    if PIN_SECRET not in " ".join(argv) + stack_text.replace(f"pin: '{PIN_SECRET}'", "").replace(
            f"pin: {PIN_SECRET}", "") + (state_text or ""):
        assert PIN_SECRET not in both, "a PIN from the stack file was printed"
    safe_lines(stdout)
    safe_lines(stderr)
    if cli._wants_json(argv):
        document = json.loads(stdout)
        assert document["exit_code"] == code
