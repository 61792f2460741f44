"""One provider process as the Pulumi engine starts it: ``python -u -m pulumi.dynamic`` over gRPC.

- ``capture_resource()`` builds a real ``PhoneNumberStorage`` under ``pulumi.runtime.set_mocks``
  in a clean subprocess and returns what the engine would receive: the type token, the inputs
  and the dill-pickled ``__provider`` blob;
- ``ProviderProcess`` starts ``python -u -m pulumi.dynamic`` with the project root as working
  directory and the environment it is given (the CLI's whole environment), reads its port, sends
  GetPluginInfo and Configure, and exposes Check/Diff/Create/Update/Read/Delete;
- ``hermetic_env()`` is the environment of a CLI whose shell sets no ``WHATSAPP_*`` variable.

The engine's call sequences (which calls, in which process, in which order) live in
``tests/engine.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Mapping

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
TYPE = "pulumi-python:dynamic/whatsapp:PhoneNumberStorage"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SECRET_KEY = "4dabf18193072939515e22adb298388d"
# Config keys a stack stores encrypted (`pulumi config set --secret`): Configure wraps them.
SECRET_CONFIG = frozenset({"whatsapp:accessToken", "whatsapp:appSecret", "whatsapp-local-storage:phoneNumbers"})

_CAPTURE = r"""
import json, sys
import pulumi

captured = {}

class Capture(pulumi.runtime.Mocks):
    def new_resource(self, args):
        captured[args.name] = {"type": args.typ, "inputs": args.inputs}
        return [args.name + "-id", args.inputs]
    def call(self, args):
        return {}

pulumi.runtime.set_mocks(Capture(), preview=False)
from provider import PhoneNumberStorage, PhoneNumberStorageArgs

@pulumi.runtime.test
def build():
    res = PhoneNumberStorage("capture", PhoneNumberStorageArgs(
        phone_number_id="106540352242922", region="BR", pin="123456"))
    return res.id.apply(lambda _: None)

build()
json.dump(captured["capture"], sys.stdout)
"""

_captured: dict[str, Any] | None = None
_capture_lock = threading.Lock()


def capture_resource() -> dict[str, Any]:
    """The type token and inputs a real PhoneNumberStorage sends the engine (cached per session)."""
    global _captured
    with _capture_lock:
        if _captured is None:
            done = subprocess.run([sys.executable, "-c", _CAPTURE], cwd=ROOT, capture_output=True,
                                  text=True, timeout=120, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"capturing the resource under mocks failed:\n{done.stderr}")
            _captured = json.loads(done.stdout)
        return _captured


def unwrap_secret(value: Any) -> Any:
    if isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_SIG:
        return value["value"]
    return value


def provider_blob() -> str:
    return unwrap_secret(capture_resource()["inputs"]["__provider"])


def hermetic_env(**overrides: str) -> dict[str, str]:
    """This process's environment without ``WHATSAPP_*`` variables, plus ``overrides``.

    The provider process inherits the CLI's whole environment, and the provider reads
    ``WHATSAPP_*`` variables when the stack config lacks a key. A developer's shell must not leak
    into a test, so an Engine starts from this unless it is given another environment.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHATSAPP_")}
    env.update(overrides)
    return env


def _serialize(props: dict[str, Any]):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(props, {}))
    finally:
        loop.close()


def _deserialize(struct) -> dict[str, Any]:
    return rpc.deserialize_properties(struct, keep_unknowns=True)


class ProviderCallError(Exception):
    """The provider process answered a call with an error (what the CLI would print)."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        self.method = method
        self.code = code
        self.details = details
        super().__init__(f"{method} failed ({code.name}):\n{details}")

    @property
    def last_line(self) -> str:
        lines = [line for line in self.details.strip().splitlines() if line.strip()]
        return lines[-1] if lines else ""


class ProviderProcess:
    """One ``python -u -m pulumi.dynamic`` process, configured once, as the engine's registry does."""

    def __init__(self, config: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None) -> None:
        self.config = dict(config or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"], cwd=ROOT,
            env=dict(env) if env is not None else hermetic_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None  # both piped above
        port_line = self.proc.stdout.readline().strip()
        if not port_line.isdigit():
            self.proc.kill()
            raise RuntimeError(f"provider process did not print a port: {port_line!r} {self.proc.stderr.read()}")
        self._stderr: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port_line}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.stub.GetPluginInfo(empty_pb2.Empty())
        # plugin/provider_plugin.go Configure: the config as properties with the stack's secrets
        # wrapped (KeepSecrets), plus the same values as plain `variables` for older providers
        args = {k: ({SECRET_KEY: SECRET_SIG, "value": v} if k in SECRET_CONFIG else v) for k, v in self.config.items()}
        self.stub.Configure(provider_pb2.ConfigureRequest(
            args=_serialize(args), variables={k: str(v) for k, v in self.config.items()},
            acceptSecrets=True, acceptResources=True))

    def _drain(self) -> None:
        assert self.proc.stderr is not None  # piped in __init__
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def kill(self) -> None:
        """What a CI runner's timeout or an OOM kill does to the process in the middle of a call."""
        self.proc.kill()

    def _call(self, method: str, request):
        try:
            return getattr(self.stub, method)(request, timeout=240)
        except grpc.RpcError as exc:
            raise ProviderCallError(method, exc.code(), exc.details() or "") from None

    def check(self, urn: str, olds: dict, news: dict) -> tuple[dict, list[tuple[str, str]]]:
        resp = self._call("Check", provider_pb2.CheckRequest(urn=urn, olds=_serialize(olds), news=_serialize(news)))
        return _deserialize(resp.inputs), [(f.property, f.reason) for f in resp.failures]

    def diff(self, urn: str, id_: str, olds: dict, news: dict,
             old_inputs: dict | None = None) -> provider_pb2.DiffResponse:
        return self._call("Diff", provider_pb2.DiffRequest(id=id_, urn=urn, olds=_serialize(olds), news=_serialize(news),
                                                           old_inputs=_serialize(old_inputs or {})))

    def create(self, urn: str, props: dict) -> tuple[str, dict]:
        resp = self._call("Create", provider_pb2.CreateRequest(urn=urn, properties=_serialize(props)))
        return resp.id, _deserialize(resp.properties)

    def update(self, urn: str, id_: str, olds: dict, news: dict, old_inputs: dict | None = None) -> dict:
        resp = self._call("Update", provider_pb2.UpdateRequest(id=id_, urn=urn, olds=_serialize(olds),
                                                               news=_serialize(news),
                                                               old_inputs=_serialize(old_inputs or {})))
        return _deserialize(resp.properties)

    def read(self, urn: str, id_: str, props: dict, inputs: dict) -> tuple[str, dict, dict | None]:
        resp = self._call("Read", provider_pb2.ReadRequest(id=id_, urn=urn, properties=_serialize(props),
                                                           inputs=_serialize(inputs)))
        new_inputs = _deserialize(resp.inputs) if resp.HasField("inputs") else None
        return resp.id, _deserialize(resp.properties), new_inputs

    def delete(self, urn: str, id_: str, props: dict, old_inputs: dict | None = None) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(id=id_, urn=urn, properties=_serialize(props),
                                                        old_inputs=_serialize(old_inputs or {})))

    def close(self) -> None:
        self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._reader.join(timeout=5)

    def __enter__(self) -> "ProviderProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
