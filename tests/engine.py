"""Drive the provider the way the Pulumi engine does: ``python -m pulumi.dynamic`` over gRPC.

The ``pulumi`` CLI cannot be installed here, so this module plays the engine (ENGINE_PROTOCOL.md):

- ``capture_resource()`` builds a real ``PhoneNumberStorage`` under ``pulumi.runtime.set_mocks``
  in a clean subprocess and returns what the engine would receive: the type token, the inputs
  and the dill-pickled ``__provider`` blob;
- ``ProviderProcess`` starts ``python -u -m pulumi.dynamic`` with the project root as working
  directory, reads its port, and exposes Configure/Check/Diff/Create/Update/Read/Delete;
- ``Engine`` keeps ``{id, inputs, outputs}`` per resource, as the engine's state would, and runs
  the call sequences of ``pulumi preview``, ``up``, ``refresh`` and ``destroy``, one fresh
  provider process per simulated CLI command.

Used by the tests and by benchmarks/.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
TYPE = "pulumi-python:dynamic/whatsapp:PhoneNumberStorage"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SECRET_KEY = "4dabf18193072939515e22adb298388d"

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
    """One ``python -u -m pulumi.dynamic`` process, as the engine starts it for one command."""

    def __init__(self, config: dict[str, str] | None = None, env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("WHATSAPP_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"], cwd=ROOT, env=full_env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
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
        self.stub.Configure(provider_pb2.ConfigureRequest(args=_serialize(dict(config or {})), acceptSecrets=True))

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def _call(self, method: str, request):
        try:
            return getattr(self.stub, method)(request, timeout=240)
        except grpc.RpcError as exc:
            raise ProviderCallError(method, exc.code(), exc.details() or "") from None

    def check(self, urn: str, olds: dict, news: dict) -> tuple[dict, list[tuple[str, str]]]:
        resp = self._call("Check", provider_pb2.CheckRequest(urn=urn, olds=_serialize(olds), news=_serialize(news)))
        return _deserialize(resp.inputs), [(f.property, f.reason) for f in resp.failures]

    def diff(self, urn: str, id_: str, olds: dict, news: dict) -> provider_pb2.DiffResponse:
        return self._call("Diff", provider_pb2.DiffRequest(id=id_, urn=urn, olds=_serialize(olds), news=_serialize(news)))

    def create(self, urn: str, props: dict) -> tuple[str, dict]:
        resp = self._call("Create", provider_pb2.CreateRequest(urn=urn, properties=_serialize(props)))
        return resp.id, _deserialize(resp.properties)

    def update(self, urn: str, id_: str, olds: dict, news: dict) -> dict:
        resp = self._call("Update", provider_pb2.UpdateRequest(id=id_, urn=urn, olds=_serialize(olds), news=_serialize(news)))
        return _deserialize(resp.properties)

    def read(self, urn: str, id_: str, props: dict, inputs: dict) -> tuple[str, dict, dict | None]:
        resp = self._call("Read", provider_pb2.ReadRequest(id=id_, urn=urn, properties=_serialize(props),
                                                           inputs=_serialize(inputs)))
        new_inputs = _deserialize(resp.inputs) if resp.HasField("inputs") else None
        return resp.id, _deserialize(resp.properties), new_inputs

    def delete(self, urn: str, id_: str, props: dict) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(id=id_, urn=urn, properties=_serialize(props)))

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


@dataclass
class ResourceState:
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class Step:
    """What one resource did in a simulated command: same, create, update, replace, delete, read, drift."""

    name: str
    op: str
    error: ProviderCallError | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


def urn(name: str) -> str:
    return f"urn:pulumi:stack::whatsapp-local-storage::{TYPE}::{name}"


class Engine:
    """The engine's state for a stack and the call sequences of the CLI's commands."""

    def __init__(self, config: dict[str, str], env: dict[str, str] | None = None, blob: str | None = None) -> None:
        self.config = dict(config)
        self.env = env
        self.blob = blob or provider_blob()
        self.state: dict[str, ResourceState] = {}
        self.last_stderr = ""

    def process(self) -> ProviderProcess:
        return ProviderProcess(self.config, self.env)

    def _news(self, props: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in props.items() if v is not None}, "__provider": self.blob}

    def _run(self, fn):
        proc = self.process()
        try:
            return fn(proc)
        finally:
            proc.close()
            self.last_stderr = proc.stderr

    def _plan_one(self, proc: ProviderProcess, name: str, props: dict[str, Any]) -> tuple[str, dict, Any]:
        old = self.state.get(name)
        checked, failures = proc.check(urn(name), old.inputs if old else {}, self._news(props))
        if failures:
            raise ProviderCallError("Check", grpc.StatusCode.INVALID_ARGUMENT,
                                    "\n".join(f"{p}: {r}" for p, r in failures))
        if old is None:
            return "create", checked, None
        resp = proc.diff(urn(name), old.id, old.outputs, checked)
        if resp.replaces:
            return "replace", checked, resp
        if resp.changes == provider_pb2.DiffResponse.DIFF_SOME:
            return "update", checked, resp
        return "same", checked, resp

    def preview(self, program: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Check and Diff only; Create/Update are never sent during preview."""
        def run(proc: ProviderProcess) -> dict[str, str]:
            ops = {name: self._plan_one(proc, name, props)[0] for name, props in program.items()}
            ops.update({name: "delete" for name in self.state if name not in program})
            return ops
        return self._run(run)

    def up(self, program: dict[str, dict[str, Any]], *, parallel: int = 1, refresh: bool = False) -> dict[str, Step]:
        """``pulumi up``: per resource Check, Diff, then Create/Update; then deletes. Errors are
        collected per resource (the engine goes on with independent resources)."""
        def one(proc: ProviderProcess, name: str, props: dict[str, Any]) -> Step:
            try:
                if refresh and name in self.state:
                    self._refresh_one(proc, name, preview_only=False)
                op, checked, _ = self._plan_one(proc, name, props)
                old = self.state.get(name)
                if op == "create":
                    id_, outs = proc.create(urn(name), checked)
                    self.state[name] = ResourceState(id_, checked, outs)
                elif op == "update":
                    outs = proc.update(urn(name), old.id, old.outputs, checked)
                    self.state[name] = ResourceState(old.id, checked, outs)
                elif op == "replace":
                    id_, outs = proc.create(urn(name), checked)
                    proc.delete(urn(name), old.id, old.outputs)
                    self.state[name] = ResourceState(id_, checked, outs)
                return Step(name, op, outputs=self.state[name].outputs if name in self.state else {})
            except ProviderCallError as exc:
                return Step(name, "error", error=exc)

        def run(proc: ProviderProcess) -> dict[str, Step]:
            steps = _each(list(program), lambda n: one(proc, n, program[n]), parallel)
            for name in [n for n in self.state if n not in program]:
                steps[name] = self._delete(proc, name)
            return steps
        return self._run(run)

    def _refresh_one(self, proc: ProviderProcess, name: str, *, preview_only: bool) -> Step:
        old = self.state[name]
        id_, outs, new_inputs = proc.read(urn(name), old.id, old.outputs, old.inputs)
        if not id_:
            if not preview_only:
                del self.state[name]
            return Step(name, "deleted")
        resp = proc.diff(urn(name), id_, outs, old.inputs)
        drift = resp.changes == provider_pb2.DiffResponse.DIFF_SOME
        if not preview_only:
            self.state[name] = ResourceState(id_, new_inputs if new_inputs is not None else old.inputs, outs)
        step = Step(name, "drift" if drift else "same", outputs=outs)
        step.new_inputs = new_inputs  # type: ignore[attr-defined]
        return step

    def refresh(self, *, preview_only: bool = False, parallel: int = 1) -> dict[str, Step]:
        """``pulumi refresh``: Read then Diff(olds=read outputs, news=old inputs) per resource."""
        def one(proc: ProviderProcess, name: str) -> Step:
            try:
                return self._refresh_one(proc, name, preview_only=preview_only)
            except ProviderCallError as exc:
                return Step(name, "error", error=exc)

        return self._run(lambda proc: _each(list(self.state), lambda n: one(proc, n), parallel))

    def _delete(self, proc: ProviderProcess, name: str) -> Step:
        old = self.state[name]
        try:
            proc.delete(urn(name), old.id, old.outputs)
        except ProviderCallError as exc:
            return Step(name, "error", error=exc)
        del self.state[name]
        return Step(name, "delete")

    def destroy(self) -> dict[str, Step]:
        """``pulumi destroy``: Delete with the stored outputs; the program is not run."""
        return self._run(lambda proc: {name: self._delete(proc, name) for name in list(self.state)})


def _each(names: list[str], fn, parallel: int) -> dict[str, Any]:
    """Run ``fn`` per name, one at a time or on ``parallel`` threads (Pulumi's --parallel)."""
    if parallel <= 1:
        return {name: fn(name) for name in names}
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return dict(zip(names, pool.map(fn, names)))
