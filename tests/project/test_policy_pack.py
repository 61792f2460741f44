"""The CrossGuard policy pack in policy/, run the way the Pulumi engine runs it.

The engine (pkg/resource/plugin/analyzer_plugin.go, the Python language host's RunPlugin) starts
``python -u -m pulumi.policy <engine address> <pack dir>`` in the pack's own virtualenv, with the
pack directory as working directory and PULUMI_PROJECT/STACK/DRY_RUN/CONFIG in the environment.
The pack prints its port; the engine then calls ConfigureStack, GetAnalyzerInfo, Configure (every
policy's enforcement level and properties, defaults reconciled with --policy-pack-config) and
Analyze once per resource, with the type token, URN, name and inputs (secrets kept, unknowns kept
as sentinels, internal ``__`` keys such as ``__provider`` left out).

pulumi-policy pins protobuf 5 and this project pins protobuf 6, so the pack gets its own
policy/.venv built from policy/requirements.txt, once, and rebuilt only when that file changes.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from provider.blackouts import parse_blackouts
from provider.regions import DEFAULT, REGIONS
from provider.windows import WindowError
from emulator.seed import REGISTERED_BR
from tests.engine import capture_resource
from tests.project.policy_venv import PACK, STAMP, _requirements_digest, ensure_pack_venv
from tests.project.program import numbers_config, run_program

# pytest-xdist: keep these tests on one worker: one worker builds policy/.venv; two building it at once would race.
pytestmark = pytest.mark.xdist_group("policy-venv")

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-string sentinel
NUMBER = "106540352242922"

REGIONS_POLICY = "whatsapp-allowed-regions"
DELETE_POLICY = "whatsapp-no-disable-on-delete"
CUTOVER_POLICY = "whatsapp-no-cutover-on-create"
WINDOWS_POLICY = "whatsapp-cutover-windows"
WINDOW = "Sun 03:00-05:00 Europe/Berlin"
LEVELS = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory",
          analyzer_pb2.REMEDIATE: "remediate", analyzer_pb2.DISABLED: "disabled"}
LEVEL_VALUES = {name: value for value, name in LEVELS.items()}


class AnalyzerProcess:
    """The policy pack's analyzer process, started and driven as the engine does."""

    def __init__(self, python: Path, *, dry_run: bool = True) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "WHATSAPP_"))}
        env.update(PULUMI_PROJECT="whatsapp-local-storage", PULUMI_STACK="test",
                   PULUMI_DRY_RUN="true" if dry_run else "false", PULUMI_CONFIG="{}")
        # The engine address is the first argument; the pack never dials it for resource policies.
        self.proc = subprocess.Popen(
            [str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(PACK)], cwd=PACK, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stderr is not None  # both piped
        stderr = self.proc.stderr
        port = self.proc.stdout.readline().strip()
        if not port.isdigit():
            self.proc.kill()
            raise RuntimeError(f"policy pack did not print a port: {port!r}\n{self.proc.stderr.read()}")
        self._stderr: list[str] = []
        threading.Thread(target=lambda: self._stderr.extend(stderr), daemon=True).start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self.stub.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(
            stack="test", project="whatsapp-local-storage", organization="organization", dry_run=dry_run))

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, pack_config: dict[str, Any]) -> None:
        """Configure as the engine does after reconciling --policy-pack-config with the defaults."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in reconcile(self.info(), pack_config).items():
            entry = request.policyConfig[name]
            entry.enforcementLevel = LEVEL_VALUES[level]
            entry.properties.update(properties)
        self.stub.Configure(request)

    def analyze(self, props: dict[str, Any], type_token: str | None = None) -> analyzer_pb2.AnalyzeResponse:
        type_token = type_token or capture_resource()["type"]
        properties = struct_pb2.Struct()
        properties.update(props)
        return self.stub.Analyze(analyzer_pb2.AnalyzeRequest(
            urn=f"urn:pulumi:test::whatsapp-local-storage::{type_token}::{NUMBER}", type=type_token,
            name=NUMBER, properties=properties, options=analyzer_pb2.AnalyzerResourceOptions()))

    def close(self) -> None:
        self.channel.close()
        self.proc.kill()
        self.proc.wait(timeout=10)


def reconcile(info: analyzer_pb2.AnalyzerInfo, pack_config: dict[str, Any]) -> dict[str, tuple[str, dict]]:
    """The engine's ReconcilePolicyPackConfig: each policy's defaults, then the config file on top
    (a string is an enforcement level; an object may hold ``enforcementLevel`` and properties)."""
    result = {}
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties)
        defaults = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
        result[policy.name] = (LEVELS[policy.enforcementLevel], defaults)
    for name, given in pack_config.items():
        level, properties = result.get(name, (None, {}))
        if isinstance(given, str):
            level = given
        else:
            given = dict(given)
            level = given.pop("enforcementLevel", level)
            properties = {**properties, **given}
        if level not in LEVEL_VALUES:  # the engine's Configure refuses this too
            raise ValueError(f"invalid enforcement level {level!r} for {name!r}: the pack has no such policy")
        result[name] = (level, properties)
    return result


def inputs(**changes: Any) -> dict[str, Any]:
    """The inputs the engine sends for the stack program's resource: internal keys left out,
    the PIN still wrapped as a secret, every input the program sets present."""
    props = {key: value for key, value in capture_resource()["inputs"].items() if not key.startswith("__")}
    props.update(enforce_pin=False, allow_cutover_on_create=False, on_delete="retain", cutover_windows=[WINDOW])
    props.update(changes)
    return props


def diagnostics(response: analyzer_pb2.AnalyzeResponse) -> list[tuple[str, str, str]]:
    return [(d.policyName, LEVELS[d.enforcementLevel], d.message) for d in response.diagnostics]


def allowed(*codes: str) -> dict[str, Any]:
    return {REGIONS_POLICY: {"allowedRegions": list(codes)}}


@pytest.fixture(scope="module")
def pack():
    analyzer = AnalyzerProcess(ensure_pack_venv())
    yield analyzer
    analyzer.close()


def test_the_pack_announces_its_four_policies_with_their_default_levels(pack):
    info = pack.info()
    assert info.name == "whatsapp-local-storage-compliance" and info.supportsConfig
    levels = {policy.name: LEVELS[policy.enforcementLevel] for policy in info.policies}
    assert levels == {REGIONS_POLICY: "mandatory", DELETE_POLICY: "advisory", CUTOVER_POLICY: "advisory",
                      WINDOWS_POLICY: "advisory"}
    assert pack.stub.GetPluginInfo(empty_pb2.Empty()).version


def test_the_allowed_regions_schema_requires_the_list_and_knows_exactly_the_providers_regions(pack):
    # The engine validates --policy-pack-config against this schema before the first Analyze.
    policy = next(p for p in pack.info().policies if p.name == REGIONS_POLICY)
    schema = json_format.MessageToDict(policy.configSchema)
    assert schema["required"] == ["allowedRegions"]
    items = schema["properties"]["allowedRegions"]["items"]
    assert sorted(items["enum"]) == sorted([*REGIONS, DEFAULT])
    assert "GB" in schema["properties"]["allowedRegions"]["description"]


def test_a_region_outside_the_list_is_a_mandatory_violation_naming_number_region_and_list(pack):
    pack.configure(allowed("DE", "GB"))
    found = diagnostics(pack.analyze(inputs(region="BR")))
    assert [(name, level) for name, level, _ in found] == [(REGIONS_POLICY, "mandatory")]
    message = found[0][2]
    assert NUMBER in message and "BR (Brazil)" in message and "allowedRegions" in message
    assert "DE, GB" in message
    assert "123456" not in message  # the PIN travels as a secret input; never echoed


def test_default_is_a_violation_unless_listed(pack):
    pack.configure(allowed("BR"))
    found = diagnostics(pack.analyze(inputs(region="DEFAULT")))
    assert [(name, level) for name, level, _ in found] == [(REGIONS_POLICY, "mandatory")]
    assert "DEFAULT" in found[0][2] and "local storage off" in found[0][2]
    pack.configure(allowed("BR", "DEFAULT"))
    assert diagnostics(pack.analyze(inputs(region="DEFAULT"))) == []


def test_a_listed_region_with_safe_settings_has_no_diagnostics(pack):
    pack.configure(allowed("BR", "DE"))
    assert diagnostics(pack.analyze(inputs(region="BR"))) == []
    assert diagnostics(pack.analyze(inputs(region="br"))) == []  # declared case-insensitively


def test_without_allowed_regions_the_region_policy_fails_closed(pack):
    # The engine refuses a missing list (schema: required); a host that does not must still not
    # read "no list" as "every region allowed".
    pack.configure({})
    found = diagnostics(pack.analyze(inputs(region="BR")))
    assert [(name, level) for name, level, _ in found] == [(REGIONS_POLICY, "mandatory")]
    assert "allowedRegions is not configured" in found[0][2]


def test_on_delete_disable_is_an_advisory_warning(pack):
    pack.configure(allowed("BR"))
    found = diagnostics(pack.analyze(inputs(on_delete="disable")))
    assert [(name, level) for name, level, _ in found] == [(DELETE_POLICY, "advisory")]
    assert "on_delete 'disable'" in found[0][2] and "offline" in found[0][2] and NUMBER in found[0][2]
    assert diagnostics(pack.analyze(inputs(on_delete=" Disable"))) == found  # spelled as check reads it


def test_allow_cutover_on_create_is_an_advisory_warning(pack):
    pack.configure(allowed("BR"))
    found = diagnostics(pack.analyze(inputs(allow_cutover_on_create=True)))
    assert [(name, level) for name, level, _ in found] == [(CUTOVER_POLICY, "advisory")]
    assert "allow_cutover_on_create" in found[0][2] and "separate, reviewed update" in found[0][2]
    assert diagnostics(pack.analyze(inputs(allow_cutover_on_create="True"))) == found
    assert diagnostics(pack.analyze(inputs(allow_cutover_on_create="false"))) == []


def test_the_advisory_policies_can_be_made_mandatory_or_disabled_by_config(pack):
    risky = inputs(on_delete="disable", allow_cutover_on_create=True)
    pack.configure({**allowed("BR"), DELETE_POLICY: "mandatory",
                    CUTOVER_POLICY: {"enforcementLevel": "mandatory"}})
    found = {(name, level) for name, level, _ in diagnostics(pack.analyze(risky))}
    assert found == {(DELETE_POLICY, "mandatory"), (CUTOVER_POLICY, "mandatory")}
    pack.configure({**allowed("BR"), DELETE_POLICY: "disabled", CUTOVER_POLICY: "disabled"})
    assert diagnostics(pack.analyze(risky)) == []


def test_an_unknown_region_during_preview_is_skipped_not_a_violation(pack):
    pack.configure(allowed("DE"))
    response = pack.analyze(inputs(region=UNKNOWN, on_delete=UNKNOWN))
    assert diagnostics(response) == []
    skipped = {entry.policy_name: entry.reason for entry in response.not_applicable}
    assert set(skipped) == {REGIONS_POLICY, DELETE_POLICY}
    assert ".region can't be known during preview" in skipped[REGIONS_POLICY]


def test_an_unknown_phone_number_id_still_gets_the_region_checked(pack):
    pack.configure(allowed("DE"))
    found = diagnostics(pack.analyze(inputs(phone_number_id=UNKNOWN, region="BR")))
    assert [(name, level) for name, level, _ in found] == [(REGIONS_POLICY, "mandatory")]
    assert "not known yet" in found[0][2]


def test_other_resource_types_are_left_alone(pack):
    pack.configure(allowed("DE"))
    response = pack.analyze(inputs(region="BR", on_delete="disable"), type_token="aws:s3/bucket:Bucket")
    assert diagnostics(response) == []


def test_a_number_that_can_be_cut_over_without_windows_gets_an_advisory_warning(pack):
    pack.configure(allowed("BR"))
    found = diagnostics(pack.analyze(inputs(cutover_windows=None)))
    assert [(name, level) for name, level, _ in found] == [(WINDOWS_POLICY, "advisory")]
    assert NUMBER in found[0][2] and "cutoverWindows" in found[0][2] and "123456" not in found[0][2]
    assert diagnostics(pack.analyze(inputs(cutover_windows=[]))) == [], "an empty list says: never"


def test_a_number_without_a_pin_cannot_be_cut_over_so_needs_no_window(pack):
    pack.configure(allowed("BR"))
    props = {k: v for k, v in inputs(cutover_windows=None).items() if k != "pin"}
    assert diagnostics(pack.analyze(props)) == []


def test_windows_not_known_during_preview_are_skipped(pack):
    pack.configure(allowed("BR"))
    response = pack.analyze(inputs(cutover_windows=UNKNOWN))
    assert diagnostics(response) == []
    assert WINDOWS_POLICY in {entry.policy_name for entry in response.not_applicable}


BLACK_FRIDAY = {"from": "2026-11-27T00:00", "to": "2026-11-30T00:00", "zone": "America/New_York",
                "reason": "Black Friday freeze"}


def test_blackouts_without_windows_do_not_satisfy_the_windows_rule(pack: AnalyzerProcess) -> None:
    pack.configure(allowed("BR"))
    found = diagnostics(pack.analyze(inputs(cutover_windows=None, cutover_blackouts=[BLACK_FRIDAY])))
    assert [(name, level) for name, level, _ in found] == [(WINDOWS_POLICY, "advisory")]
    assert "its blackouts only say when not" in found[0][2] and "cutoverWindows" in found[0][2]
    assert diagnostics(pack.analyze(inputs(cutover_blackouts=[BLACK_FRIDAY]))) == [], "windows and blackouts: fine"


def test_malformed_blackouts_are_reported_naming_the_item_even_without_a_pin(pack: AnalyzerProcess) -> None:
    pack.configure(allowed("BR"))
    props = {k: v for k, v in inputs(cutover_blackouts=[BLACK_FRIDAY, {**BLACK_FRIDAY, "zone": "EST"}]).items()
             if k != "pin"}
    found = diagnostics(pack.analyze(props))
    assert [(name, level) for name, level, _ in found] == [(WINDOWS_POLICY, "advisory")]
    assert "malformed blackouts" in found[0][2] and "cutover_blackouts[1].zone: 'EST'" in found[0][2]
    assert "cutover_blackouts[0]" not in found[0][2]


def test_blackouts_not_known_during_preview_are_skipped(pack: AnalyzerProcess) -> None:
    pack.configure(allowed("BR"))
    response = pack.analyze(inputs(cutover_blackouts=[{**BLACK_FRIDAY, "to": UNKNOWN}]))
    assert diagnostics(response) == []
    assert WINDOWS_POLICY in {entry.policy_name for entry in response.not_applicable}


def _variant(**changes: Any) -> list[dict[str, Any]]:
    return [{**BLACK_FRIDAY, **changes}]


# blackouts that the provider's parser and the pack's copy must judge alike
BLACKOUT_TABLE: list[Any] = [
    [BLACK_FRIDAY], [], json.dumps([BLACK_FRIDAY]),
    _variant(zone="EST"), _variant(zone="Etc/GMT+2"), _variant(zone="Factory"), _variant(zone="UTC"),
    _variant(zone="Mars/Olympus_Mons"), _variant(zone="Europe/Berlin", **{"from": "2026-03-29T02:30"}),
    _variant(zone="Australia/Lord_Howe", **{"from": "2026-10-04T02:15", "to": "2026-10-05T00:00"}),
    _variant(zone="Europe/Berlin", **{"from": "2026-10-25T02:30", "to": "2026-10-25T02:45"}),
    _variant(zone="Europe/Berlin", **{"from": "2026-10-25T02:30", "to": "2026-10-25T02:30"}),
    _variant(zone="UTC", **{"from": "2026-01-01T00:00", "to": "2026-04-01T00:00"}),
    _variant(zone="UTC", **{"from": "2026-01-01T00:00", "to": "2026-04-01T00:01"}),
    _variant(zone="Europe/Berlin", **{"from": "2026-10-01T00:00", "to": "2026-12-30T00:00"}),
    _variant(to="2026-11-26T00:00"), _variant(to="2026-11-30"), _variant(to="2026-02-30T00:00"),
    _variant(reason=""), _variant(reason="freeze\nnow"), _variant(reason="x" * 120), _variant(reason="x" * 121),
    _variant(until="2026-12-01T00:00"), [BLACK_FRIDAY] * 64, [BLACK_FRIDAY] * 65, ["Black Friday"], "not json",
]


def test_the_packs_copy_of_the_blackout_rules_judges_as_the_provider_does(pack: AnalyzerProcess) -> None:
    pack.configure(allowed("BR"))
    for value in BLACKOUT_TABLE:
        try:
            parse_blackouts(value, setting="cutover_blackouts")
            provider_refuses = False
        except WindowError:
            provider_refuses = True
        found = diagnostics(pack.analyze(inputs(cutover_blackouts=value)))
        assert bool(found) is provider_refuses, (value, found)


def test_the_pack_reads_the_same_pinned_time_zone_database_as_the_provider() -> None:
    def pin(path: Path) -> str:
        return next(line.split()[0] for line in path.read_text().splitlines() if line.startswith("tzdata=="))

    assert pin(PACK / "requirements.txt") == pin(ROOT / "requirements.txt")


def test_the_stack_programs_windows_reach_the_pack(pack):
    result = run_program({**numbers_config({REGISTERED_BR: {"region": "BR", "pin": "123456"}}),
                          "whatsapp-local-storage:cutoverWindows": f'["{WINDOW}"]'})
    registered = result["resources"][0]
    props = {key: value for key, value in registered["inputs"].items() if not key.startswith("__")}
    pack.configure(allowed("BR"))
    assert diagnostics(pack.analyze(props, type_token=registered["type"])) == []
    without = run_program(numbers_config({REGISTERED_BR: {"region": "BR", "pin": "123456"}}))["resources"][0]
    props = {key: value for key, value in without["inputs"].items() if not key.startswith("__")}
    assert [name for name, _, _ in diagnostics(pack.analyze(props, type_token=without["type"]))] == [WINDOWS_POLICY]


def test_the_inputs_the_stack_program_registers_are_the_ones_the_pack_reads(pack):
    # Property names and values as __main__.py really sends them (under mocks), not as written here.
    result = run_program(numbers_config({REGISTERED_BR: {
        "region": "br", "pin": "123456", "onDelete": "disable", "allowCutoverOnCreate": "true",
        "cutoverWindows": [WINDOW]}}))
    assert result["error"] is None
    registered = result["resources"][0]
    props = {key: value for key, value in registered["inputs"].items() if not key.startswith("__")}
    pack.configure(allowed("DE"))
    found = diagnostics(pack.analyze(props, type_token=registered["type"]))
    assert {(name, level) for name, level, _ in found} == {
        (REGIONS_POLICY, "mandatory"), (DELETE_POLICY, "advisory"), (CUTOVER_POLICY, "advisory")}
    assert all(REGISTERED_BR in message and "123456" not in message for _, _, message in found)


def test_the_pack_venv_is_rebuilt_only_when_its_requirements_change():
    python = ensure_pack_venv()
    assert STAMP.read_text().strip() == _requirements_digest()
    stamp_mtime = STAMP.stat().st_mtime_ns
    assert ensure_pack_venv() == python and STAMP.stat().st_mtime_ns == stamp_mtime
    versions = subprocess.run(
        [str(python), "-c", "import google.protobuf, pulumi_policy.version as v; "
                            "print(google.protobuf.__version__, v.VERSION)"],
        capture_output=True, text=True, check=True).stdout.split()
    pins = dict(line.split("==")[:2] for line in (PACK / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert versions == [pins["protobuf"].split()[0], pins["pulumi-policy"].split()[0]]


def _pack_literal(name: str) -> Any:
    """A constant of policy/__main__.py, read from its source (the pack imports pulumi_policy, which only its
    own venv has, and serves its analyzer on import)."""
    tree = ast.parse((PACK / "__main__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"policy/__main__.py defines no {name}")


def test_the_packs_copy_of_the_inputs_is_the_providers_schema_and_its_rules_read_only_those() -> None:
    from provider import blackouts
    from provider.declaration import INPUT_KEYS, SECRET_KEYS

    assert _pack_literal("INPUTS") == INPUT_KEYS
    assert set(_pack_literal("SECRET_INPUTS")) == SECRET_KEYS
    tree = ast.parse((PACK / "__main__.py").read_text(encoding="utf-8"))
    read = {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "props"
            and node.args and isinstance(node.args[0], ast.Constant)}
    # cutover_blackouts: the pack checks it ahead of the provider, whose inputs gain it when blackouts are
    # threaded through the declaration (issue 26's next phase); then it is in INPUT_KEYS, and INPUTS too.
    assert read and read <= {*INPUT_KEYS, blackouts.INPUT}, read - set(INPUT_KEYS)
