"""The reliability matrices of issue 5, shared by the tests and printable on their own.

This module holds what both matrices and the engine tests share (the engine config for an
emulator, what an emulator record says, ``InProcessProvider``, the tables) and the bad-input
matrix; the fault matrix is ``tests/fault_matrix.py``.

- The fault matrix: every plan (enable, change, disable, from an unregistered number, the v20
  register flow) with a fault injected at every call position (the reads, each mutating call and
  the read-back): transient errors, answers lost after the call was applied, dropped connections,
  permanent errors, and genuine client timeouts. Each case runs ``pulumi up --skip-preview``
  through ``tests/engine.py``'s ``Engine`` with ``InProcessProvider`` standing in for the provider
  process (the provider class in this process, fresh process state per command) against a
  demo-seeded emulator, then re-runs once the fault is gone.
- The bad-input matrix: inputs and configuration that must be refused at check or preflight,
  through the real engine protocol (``tests/engine.py``), with zero mutating calls.

``tests/protocol/test_faults.py`` and ``tests/protocol/test_bad_input.py`` assert on these rows and write the tables
to ``tests/out/``. Print them without pytest:

    .venv/bin/python -m tests.reliability_report            # run both matrices, print both tables
    .venv/bin/python -m tests.reliability_report --faults    # only the fault matrix
    .venv/bin/python -m tests.reliability_report --bad-input # only the bad-input matrix
    .venv/bin/python -m tests.reliability_report --saved     # print the tables the last pytest run wrote
"""

from __future__ import annotations

import argparse
import contextlib
import io
import pickle
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python tests/reliability_report.py` as well as `-m`
    sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
from pulumi.dynamic import ConfigureRequest  # noqa: E402
from pulumi.dynamic.config import Config  # noqa: E402
from pulumi.runtime.proto import provider_pb2  # noqa: E402

from emulator.harness import Emulator, start_emulator  # noqa: E402
from emulator.seed import (  # noqa: E402
    COEXISTENCE,
    DEMO_PIN,
    NO_STORAGE,
    NOT_VERIFIED,
    REGISTERED_BR,
    REGISTERED_DEFAULT,
    UNREGISTERED,
)
from provider.fleet import reset_process_state  # noqa: E402
from provider.resource import PhoneNumberStorageProvider  # noqa: E402
from tests.engine import Engine, ProviderCallError, Step  # noqa: E402

OUT_DIR = ROOT / "tests" / "out"
FAULT_TABLE = OUT_DIR / "fault_table.md"
FAULT_ROWS = OUT_DIR / "fault_rows"  # one pickle per pytest-xdist worker, merged at the end
BAD_INPUT_TABLE = OUT_DIR / "bad_input_table.md"
PROJECT = "whatsapp-local-storage"
DEFAULT = "DEFAULT"


def engine_config(emu: Emulator, *, version: str = "v25.0", max_cutovers: int = 1,
                  token: str | None = None) -> dict[str, str]:
    return {
        "whatsapp:accessToken": emu.token if token is None else token,
        "whatsapp:graphApiUrl": emu.url,
        "whatsapp:apiVersion": version,
        "whatsapp:maxConcurrentCutovers": str(max_cutovers),
    }


def storage_of(record: dict) -> str | None:
    """The emulator record's storage as the provider reports it: a code, DEFAULT or None."""
    conf = (record.get("settings") or {}).get("storage_configuration") or {}
    status = str(conf.get("status") or "DEFAULT").upper()
    if status in ("DEFAULT", "IN_COUNTRY_STORAGE_DISABLED"):
        return DEFAULT
    if status == "IN_COUNTRY_STORAGE_ENABLED":
        return str(conf.get("data_localization_region") or "").upper() or None
    return None


def registered(record: dict) -> bool:
    return record.get("platform_type") == "CLOUD_API"


# --- the provider class standing in for a provider process ---------------------------------------


class InProcessProvider:
    """``PhoneNumberStorageProvider`` in this process, with the methods of ``ProviderProcess``.

    ``tests/engine.py``'s ``Engine`` drives it exactly as it drives ``python -m pulumi.dynamic``,
    minus gRPC and serialisation, so ~220 fault cases stay fast. A "process" starts with fresh
    process-wide state (breaker, cutover slots, claims, read reuse) and is configured with the stack
    config; an exception comes back as ``ProviderCallError`` whose details end, as the traceback the
    CLI prints does, with ``module.Class: message``.
    """

    def __init__(self, config: dict[str, str], _env: dict[str, str]) -> None:
        reset_process_state()
        self._provider = PhoneNumberStorageProvider()
        self._provider.configure(ConfigureRequest(Config(dict(config), PROJECT)))
        self._out = io.StringIO()

    @property
    def stderr(self) -> str:
        return self._out.getvalue()

    def _call(self, method: str, call: Callable[[], Any]) -> Any:
        try:
            with contextlib.redirect_stderr(self._out):
                return call()
        except Exception as exc:  # noqa: BLE001 - the servicer reports any failure as UNKNOWN
            cls = type(exc)
            raise ProviderCallError(method, grpc.StatusCode.UNKNOWN,
                                    f"{cls.__module__}.{cls.__qualname__}: {exc}") from exc

    def check(self, _urn: str, olds: dict, news: dict):
        result = self._call("Check", lambda: self._provider.check(olds, news))
        return {**result.inputs, "__provider": news.get("__provider")}, [(f.property, f.reason)
                                                                          for f in result.failures or []]

    def diff(self, _urn: str, id_: str, olds: dict, news: dict, old_inputs: dict | None = None):
        result = self._call("Diff", lambda: self._provider.diff(id_, olds, news))
        changes = {None: provider_pb2.DiffResponse.DIFF_UNKNOWN, True: provider_pb2.DiffResponse.DIFF_SOME,
                   False: provider_pb2.DiffResponse.DIFF_NONE}[result.changes]
        return provider_pb2.DiffResponse(changes=changes, replaces=list(result.replaces or []),
                                         deleteBeforeReplace=bool(result.delete_before_replace))

    def create(self, _urn: str, props: dict):
        result = self._call("Create", lambda: self._provider.create(props))
        return result.id, dict(result.outs)

    def update(self, _urn: str, id_: str, olds: dict, news: dict, old_inputs: dict | None = None):
        return dict(self._call("Update", lambda: self._provider.update(id_, olds, news)).outs)

    def read(self, _urn: str, id_: str, props: dict, _inputs: dict):
        result = self._call("Read", lambda: self._provider.read(id_, props))
        return result.id or "", dict(result.outs or {}), result.inputs

    def delete(self, _urn: str, id_: str, props: dict, old_inputs: dict | None = None) -> None:
        self._call("Delete", lambda: self._provider.delete(id_, props))

    def close(self) -> None:
        reset_process_state()


def in_process_engine(config: dict[str, str]) -> Engine:
    """An Engine whose provider processes are ``InProcessProvider`` objects."""
    return Engine(config, blob="in-process", provider=InProcessProvider)


def error_text(step: Step) -> str:
    """The last line the CLI shows for a failed step: ``module.Class: message``."""
    return step.error.details if step.error is not None else ""


# --- the bad-input matrix ------------------------------------------------------------------------


@dataclass(frozen=True)
class BadInput:
    """One declared input or configuration that must be refused before any mutating call."""

    key: str  # how the table shows the input
    props: dict[str, Any]
    mentions: tuple[str, ...]  # text the error must contain: the field and the fix
    stage: str = "Check"  # Check (a CheckFailure) or the provider call that refuses (Create, Update)
    config: dict[str, str | None] = field(default_factory=dict)  # overrides; None removes the key
    adopt_with: dict[str, Any] | None = None  # declared like this first (zero calls), then updated
    accepted: str | None = None  # not an error: the region it must be normalised to

    def engine_config(self, emu: Emulator) -> dict[str, str]:
        config: dict[str, str | None] = {**engine_config(emu), **self.config}
        return {k: v for k, v in config.items() if v is not None}

    def shown(self) -> str:
        parts = [self.key]
        if self.stage != "Check" or self.adopt_with:
            parts.append(f"(number {self.props.get('phone_number_id')})")
        return " ".join(parts)


def _res(number: str = UNREGISTERED, region: Any = "BR", pin: Any = DEMO_PIN, **extra: Any) -> dict[str, Any]:
    props = {"phone_number_id": number, "region": region, "pin": pin, **extra}
    return {k: v for k, v in props.items() if v is not _MISSING}


_MISSING = object()
REGION_FIX = ("region", "DEFAULT")
PIN_FIX = ("pin", "6 digits")
PID_FIX = ("phone_number_id", "digits only")

BAD_INPUTS: tuple[BadInput, ...] = (
    BadInput('region: "XX"', _res(region="XX"), (*REGION_FIX, "not supported", "BR")),
    BadInput('region: "UK"', _res(region="UK"), ("region", "GB")),
    BadInput('region: "EU"', _res(region="EU"), ("region", "DE")),
    BadInput('region: ""', _res(region=""), (*REGION_FIX, "required")),
    BadInput("region: None", _res(region=None), (*REGION_FIX, "required")),
    BadInput("region: missing", _res(region=_MISSING), (*REGION_FIX, "required")),
    BadInput('region: "BRA" (three letters)', _res(region="BRA"), (*REGION_FIX, "not supported")),
    BadInput("region: 55 (a number)", _res(region=55), ("region", "text code", "BR or DEFAULT")),
    BadInput('region: "br" (lower case)', _res(REGISTERED_BR, region="br"), (), stage="Create", accepted="BR"),
    BadInput('region: " br " (lower case, spaces)', _res(REGISTERED_BR, region=" br "), (), stage="Create",
             accepted="BR"),
    BadInput('phone_number_id: "abcdef" (letters)', _res("abcdef"), (*PID_FIX, "'abcdef'")),
    BadInput('phone_number_id: "" (empty)', _res(""), (*PID_FIX, "missing")),
    BadInput('phone_number_id: "1065 4035 2242 924" (spaces)', _res("1065 4035 2242 924"),
             (*PID_FIX, "no spaces")),
    BadInput('phone_number_id: " 106540352242924" (leading space)', _res(" 106540352242924"),
             (*PID_FIX, "no spaces")),
    BadInput('pin: "12345" (5 digits)', _res(pin="12345"), PIN_FIX),
    BadInput('pin: "1234567" (7 digits)', _res(pin="1234567"), PIN_FIX),
    BadInput('pin: "abcdef" (letters)', _res(pin="abcdef"), PIN_FIX),
    BadInput("pin: missing, create must register", _res(UNREGISTERED, pin=_MISSING),
             ("pin", "6-digit", "set `pin`"), stage="Create"),
    BadInput("pin: missing, update must cut over", _res(REGISTERED_DEFAULT, pin=_MISSING),
             ("pin", "6-digit", "set `pin`"), stage="Update",
             adopt_with=_res(REGISTERED_DEFAULT, region=DEFAULT, pin=_MISSING)),
    BadInput("enforce_pin: true without pin", _res(pin=_MISSING, enforce_pin=True), ("pin", "enforce_pin")),
    BadInput('on_delete: "delete"', _res(on_delete="delete"), ("on_delete", "retain", "disable")),
    BadInput('unknown input "regoin"', _res(regoin="BR"), ("regoin", "unknown input")),
    BadInput("config: no access token", _res(), ("whatsapp:accessToken", "WHATSAPP_ACCESS_TOKEN"),
             stage="Create", config={"whatsapp:accessToken": None}),
    BadInput('config: graphApiUrl "not a url"', _res(), ("whatsapp:graphApiUrl", "https://graph.facebook.com"),
             stage="Create", config={"whatsapp:graphApiUrl": "not a url"}),
    BadInput('config: graphApiUrl "ftp://127.0.0.1"', _res(), ("whatsapp:graphApiUrl", "http(s)"),
             stage="Create", config={"whatsapp:graphApiUrl": "ftp://127.0.0.1"}),
    BadInput('config: graphApiUrl "http://127.0.0.1:1" (unreachable)', _res(),
             ("106540352242924", "whatsapp:graphApiUrl"), stage="Create",
             config={"whatsapp:graphApiUrl": "http://127.0.0.1:1"}),
    BadInput('config: apiVersion "banana"', _res(), ("whatsapp:apiVersion", "v25.0"), stage="Create",
             config={"whatsapp:apiVersion": "banana"}),
    BadInput('config: apiVersion "v25"', _res(), ("whatsapp:apiVersion", "v25.0"), stage="Create",
             config={"whatsapp:apiVersion": "v25"}),
    BadInput('config: maxConcurrentCutovers "0"', _res(), ("whatsapp:maxConcurrentCutovers", "at least 1"),
             stage="Create", config={"whatsapp:maxConcurrentCutovers": "0"}),
    BadInput("number not verified", _res(NOT_VERIFIED),
             ("not verified", f"python -m provider verify --phone-number-id {NOT_VERIFIED}"), stage="Create"),
    BadInput("number shared with the Business app (create)", _res(COEXISTENCE, allow_cutover_on_create=True),
             ("is_on_biz_app", "WhatsApp Business app"), stage="Create"),
    BadInput("number shared with the Business app (create, no allow flag)", _res(COEXISTENCE),
             ("is_on_biz_app", "WhatsApp Business app"), stage="Create"),
    BadInput("number shared with the Business app (update)", _res(COEXISTENCE), ("is_on_biz_app",),
             stage="Update", adopt_with=_res(COEXISTENCE, region=DEFAULT)),
    BadInput("number in No Storage mode", _res(NO_STORAGE), ("NO_STORAGE_ENABLED", "WhatsApp Manager"),
             stage="Create"),
    BadInput("number in No Storage mode, declared DEFAULT", _res(NO_STORAGE, region=DEFAULT),
             ("NO_STORAGE_ENABLED", "WhatsApp Manager"), stage="Create"),
    BadInput("create that would cut over a registered number", _res(REGISTERED_DEFAULT),
             ("declare its current region first", "allow_cutover_on_create"), stage="Create"),
)


@dataclass
class BadInputRow:
    entry: BadInput
    stage: str  # where it failed: Check, Create, Update, or "accepted"
    error: str  # the text the user sees (check failures, or the traceback's last line)
    calls: list[dict]
    outputs: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> list[str]:
        return [self.entry.shown(), self.stage, self.error or f"accepted: region {self.outputs.get('region')}"]


def run_bad_inputs(emu: Emulator, entries: tuple[BadInput, ...] = BAD_INPUTS) -> list[BadInputRow]:
    """Every entry through the engine protocol, several resources per command as in a real stack.

    Entries refused at Check share one provider process, each sent its own Check (a deployment
    stops at the first Check failure, so one ``up`` would hide the others); every call that
    process makes counts against each of them. The other entries with the default configuration
    share ``up --continue-on-error`` commands as long as their phone numbers differ, and each gets
    the calls made to its number. Entries with their own configuration, or declared first and
    then updated, get a command of their own.
    """
    rows: dict[int, BadInputRow] = {}
    indexed = list(enumerate(entries))
    shared = [(i, e) for i, e in indexed if not e.config and not e.adopt_with]
    groups: list[list[tuple[int, BadInput]]] = [[(i, e) for i, e in shared if e.stage == "Check"]]
    for i, entry in shared:
        if entry.stage == "Check":
            continue
        number = entry.props.get("phone_number_id")
        group = next((g for g in groups[1:] if all(e.props.get("phone_number_id") != number for _, e in g)), None)
        if group is None:
            groups.append(group := [])
        group.append((i, entry))
    for n, group in enumerate(groups):
        if not group:
            continue
        emu.reset("demo")
        eng = Engine(engine_config(emu), continue_on_error=True, skip_preview=True)
        program = {f"r{i}": e.props for i, e in group}
        steps = eng.check(program) if n == 0 else eng.up(program)
        calls = emu.calls()
        for i, entry in group:
            mine = calls if n == 0 else [c for c in calls
                                         if c["path"].startswith(f"/{entry.props['phone_number_id']}")]
            rows[i] = _bad_row(entry, steps[f"r{i}"], mine)
    for i, entry in indexed:
        if i in rows:
            continue
        emu.reset("demo")
        eng = Engine(entry.engine_config(emu), skip_preview=True)
        if entry.adopt_with:
            adopted = Engine(engine_config(emu), skip_preview=True)
            first = adopted.up({"r": entry.adopt_with}, skip_preview=True)["r"]
            assert first.error is None and first.outputs["applied_steps"] == [], first.error
            eng.state = adopted.state
        emu.clear_calls()
        step = eng.up({"r": entry.props})["r"]
        rows[i] = _bad_row(entry, step, emu.calls())
    return [rows[i] for i, _ in indexed]


def _bad_row(entry: BadInput, step, calls: list[dict]) -> BadInputRow:
    if step.error is None and step.op == "checked":  # passed Check: it belongs in another group
        return BadInputRow(entry, "accepted at Check", "", calls)
    if step.error is None:
        return BadInputRow(entry, "accepted", "", calls, outputs=step.outputs)
    return BadInputRow(entry, step.error.method, step.error.last_line if step.error.method != "Check"
                       else step.error.details, calls)


def render_bad_input_table(rows: list[BadInputRow]) -> str:
    head = ("# Bad-input matrix\n\n"
            "Each input through the engine protocol (Check, Diff, Create/Update against "
            "`python -m pulumi.dynamic`). `stage`: where it was refused. Every entry made zero "
            "mutating calls. The error column is the exact text the CLI shows (a CheckFailure, or "
            "the last line of the provider's traceback).\n\n")
    return head + markdown_table(["input", "stage", "error"], [r.cells() for r in rows])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_table(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def save_fault_rows(worker: str, rows: list) -> None:
    """One worker's share of the fault matrix, for ``merge_fault_rows`` at the session's end."""
    FAULT_ROWS.mkdir(parents=True, exist_ok=True)
    (FAULT_ROWS / f"{worker}.pickle").write_bytes(pickle.dumps(rows))


def clear_fault_rows() -> None:
    shutil.rmtree(FAULT_ROWS, ignore_errors=True)


def merge_fault_rows() -> int:
    """Write the fault table from every worker's rows; returns how many rows it holds (0: none ran)."""
    from tests.fault_matrix import render_fault_table

    rows = [row for path in sorted(FAULT_ROWS.glob("*.pickle")) for row in pickle.loads(path.read_bytes())]
    if rows:
        write_table(FAULT_TABLE, render_fault_table(rows))
    return len(rows)


# --- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", action="store_true", help="run and print the fault matrix")
    parser.add_argument("--bad-input", action="store_true", help="run and print the bad-input matrix")
    parser.add_argument("--saved", action="store_true", help="print the tables the last pytest run wrote")
    parser.add_argument("--write", action="store_true", help="also write the tables to tests/out/")
    args = parser.parse_args(argv)
    if args.saved:
        for path in (FAULT_TABLE, BAD_INPUT_TABLE):
            print(path.read_text(encoding="utf-8") if path.exists() else f"({path} not written yet: run pytest)")
        return 0
    both = not (args.faults or args.bad_input)
    from tests.fault_matrix import fault_cases, render_fault_table, run_fault_case, timeout_cases

    emu = start_emulator(seed="demo")
    try:
        if args.faults or both:
            started = time.monotonic()
            rows = [run_fault_case(emu, case) for case in fault_cases() + timeout_cases()]
            text = render_fault_table(rows)
            print(text)
            print(f"({time.monotonic() - started:.1f} s)\n", file=sys.stderr)
            if args.write:
                write_table(FAULT_TABLE, text)
        if args.bad_input or both:
            text = render_bad_input_table(run_bad_inputs(emu))
            print(text)
            if args.write:
                write_table(BAD_INPUT_TABLE, text)
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
