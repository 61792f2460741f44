"""Play the Pulumi engine's call sequences against the provider (docs/engine.md).

``Engine`` keeps the engine's state (``{id, inputs, outputs}`` per resource, the config saved by
the last deployment that registered the provider, the entries marked ``delete: true`` that share
their URN with the live one, and ``pendingReplacement`` entries) and sends the calls of
``preview``, ``up``, ``refresh``, ``destroy`` and ``import_`` as pkg/resource/deploy does
(pulumi/pulumi 1b59498, CLI 3.260; Python SDK 3.272; each rule below cites the file it follows):

- ``--parallel`` defaults to 8 in every command, refresh and destroy included (GOMAXPROCS x 4 on
  a 2-core runner, ``pkg/cmd/pulumi/operations/up.go`` ``defaultParallel``); ``parallel=1`` where a
  test is about order;
- ``target=``/``exclude=`` (``step_generator.go``): an untargeted resource of the program gets a
  stub Check returning its old inputs and no Diff (``NewUntargetedSameStep``), an untargeted new
  one is skipped (``SkippedCreate``), only targeted entries are refreshed and deleted; providers
  are always included, so the config is still saved;
- the default provider is registered, and the whole current config saved in state, when the
  program registers its first dynamic resource (``deploy/providers/registry.go``); a program
  with no resource (``phoneNumbers: {}``) saves nothing and its Deletes run on the saved config
  (``Deployment.EnsureProvider``), and so do refresh and destroy without ``run_program``;
- ``refresh(run_program=True)`` (RefreshV2, ``step_generator.go``): each program resource gets Read
  + refresh Diff as it registers; a pending delete whose name the program registered gets no Read
  (``isOperatedOn``); entries no longer in the program (and the other pending deletes) are
  refreshed only after the program finishes (``GenerateRefreshes`` in ``deployment_executor.go``
  ``performPostSteps``), new ones are skipped, and the config is saved; ``up(refresh=True,
  run_program=True)``: no up-front refresh, per resource Read, Diff(refresh), Check(olds = Read's
  inputs), Diff, Create/Update, and removed entries are deleted without a refresh;
- every refresh Reads the ``delete: true`` entries too; ``destroy`` deletes them;
  ``pendingReplacement`` entries are neither refreshed nor deleted again, and the next ``up``
  replaces them with no Delete (``step_generator.go`` ``old.PendingReplacement``);
- Configure carries the config with the secret keys wrapped (``KeepSecrets``) plus ``variables``
  (``plugin/provider_plugin.go`` ``Configure``);
- ``on_error`` hooks exist only where the program runs (not in ``destroy`` without
  ``run_program``), and before CLI 3.244 retry a Create or Update only on a partial failure, which
  a dynamic provider never returns (``deploy/retries.go``);
- ``import_`` sends Read with the id alone: the servicer fails with KeyError ``__provider``;

- every command previews first in its own process unless ``skip_preview`` (``--skip-preview``):
  ``up`` is a preview deployment (Check/Diff only), then the update in a new process;
- ``refresh=True`` refreshes every resource in state first (Read, then Diff(olds=read outputs,
  news=stored inputs); ReadResult.inputs stored), in parallel, and any failure fails the command;
  the update or destroy then runs in the SAME process while the stack config equals the saved one
  (``providers/registry.go`` ``Same``), else in a new process with the current config;
- ``refresh`` and ``destroy`` use the config saved in state unless ``run_program``;
  ``destroy(refresh=True, run_program=True)`` refreshes on the saved config first (``destroy.go``
  sets DestroyProgram, not RefreshProgram, so ``deployment_executor.go`` refreshes before the
  program runs), then deletes on the current config, in a new process when it changed;
- Check/Diff run serially in program order, Create/Update/Delete on ``parallel`` workers; a
  failed step stops every step not yet started and every delete unless ``continue_on_error``; a
  Check failure always stops the deployment;
- a replacement re-Checks without olds; create-before-delete deletes the old resource at the end,
  only if nothing failed (else it stays pending, ``delete: true``); ``delete_before_replace``
  deletes first, and the old entry stays ``pendingReplacement`` until the Create succeeds. A resource that left the program (a rename without alias) is deleted at the end,
  in the same process; ``Options(aliases=...)`` makes a rename a Check/Diff/Update, no Delete;
- ``Options(on_error_retries=N)``: an ``on_error`` hook re-sending a failed Create, Update or
  Delete for the same URN to the same process (at most 100 attempts, ``deploy/retries.go``).

``calls`` records each command's provider calls as ``Call(method, resource, process index)``.
The process itself is ``tests/engine_process.py``; any object with its methods
(``reliability_report.InProcessProvider``) can stand in for it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Mapping

import grpc
from pulumi.runtime.proto import provider_pb2

from tests.engine_process import (  # noqa: F401 - re-exported: the tests import them from here
    ROOT,
    SECRET_CONFIG,
    SECRET_KEY,
    SECRET_SIG,
    TYPE,
    ProviderCallError,
    ProviderProcess,
    capture_resource,
    hermetic_env,
    provider_blob,
    unwrap_secret,
)

MAX_ERROR_HOOK_ATTEMPTS = 100  # pkg/resource/deploy/retries.go: maxErrorHookRetries
DEFAULT_PARALLEL = 8  # GOMAXPROCS x 4 on a 2-core runner, capped by the provider's gRPC threads
ON_ERROR_ANY_FAILURE = (3, 244)  # from this CLI on, on_error retries a Create/Update on any error




def urn(name: str) -> str:
    return f"urn:pulumi:stack::whatsapp-local-storage::{TYPE}::{name}"


@dataclass(frozen=True)
class Options:
    """The resource options the engine acts on."""

    aliases: tuple[str, ...] = ()
    delete_before_replace: bool | None = None  # None: what the provider's Diff asks for
    retain_on_delete: bool = False
    on_error_retries: int = 0  # how many times an on_error hook asks for the failed call again


@dataclass
class ResourceState:
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    pending_replacement: bool = False  # deleted by a delete-before-replace whose create has not run


@dataclass
class Step:
    """What one resource did in a command: same, create, update, replace, delete, drift, deleted
    (gone on refresh), error, or skipped (never started: an earlier step failed)."""

    name: str
    op: str
    error: ProviderCallError | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    new_inputs: dict[str, Any] | None = None  # refresh: what Read returned as inputs

    @property
    def failure(self) -> ProviderCallError:
        """The error of a step a test expects to have failed: a step that did not fail fails the
        test here, with its name and what it did, instead of an AttributeError on None."""
        assert self.error is not None, f"{self.name}: {self.op}, no error"
        return self.error


@dataclass(frozen=True)
class Call:
    method: str
    name: str
    process: int  # index in Engine.processes: equal indexes mean the same provider process


@dataclass
class _Planned:
    name: str
    op: str  # create, update, same, replace
    checked: dict[str, Any]
    old_name: str | None = None
    old: ResourceState | None = None
    delete_before_replace: bool = False


class _Bail(Exception):
    """The step generator stopped the deployment at this resource (a Check failure, a Diff error)."""

    def __init__(self, name: str, error: ProviderCallError) -> None:
        super().__init__(name)
        self.name, self.error = name, error


class Engine:
    """A stack's state and the call sequences of the CLI's commands."""

    def __init__(self, config: Mapping[str, str], env: Mapping[str, str] | None = None, blob: str | None = None,
                 *, continue_on_error: bool = False, skip_preview: bool = False,
                 provider: Callable[..., Any] = ProviderProcess, cli_version: tuple[int, int] = (3, 260)) -> None:
        self.config = dict(config)
        # Every command with --skip-preview (a common CI form): for tests of the provider's own rules
        # in Create/Update/Delete, where a preview adds only a process start and a read.
        self.skip_preview = skip_preview
        self.env = hermetic_env(**dict(env or {}))  # the CLI's whole environment, as the process gets it
        self.blob = blob or provider_blob()
        self.continue_on_error = continue_on_error
        self.cli_version = cli_version
        self._provider = provider
        self.state: dict[str, ResourceState] = {}
        self.saved_config: dict[str, str] | None = None
        # `delete: true` entries: replaced (create-before-delete) resources whose Delete has not run,
        # under the same URN as the live entry of that name
        self.pending_deletes: list[tuple[str, ResourceState]] = []
        self.processes: list[Any] = []
        self.calls: list[Call] = []
        self.last_stderr = ""
        self._lock = threading.Lock()

    # -- processes --------------------------------------------------------------------------------

    def process(self, config: Mapping[str, str] | None = None):
        """A provider process configured with ``config`` (default: the current stack config)."""
        return self._provider(dict(self.config if config is None else config), self.env)

    def _start(self, config: Mapping[str, str]):
        proc = self.process(config)
        self.processes.append(proc)
        return proc

    @contextmanager
    def _command(self) -> Iterator[None]:
        self.processes, self.calls = [], []
        try:
            yield
        finally:
            for proc in self.processes:
                proc.close()
            self.last_stderr = "".join(proc.stderr for proc in self.processes)

    def _rpc(self, proc, method: str, name: str, call: Callable[[], Any]) -> Any:
        with self._lock:
            self.calls.append(Call(method, name, self.processes.index(proc)))
        return call()

    def _stored_config(self) -> dict[str, str]:
        """What refresh and destroy configure the provider with: the config saved in state."""
        return dict(self.saved_config if self.saved_config is not None else self.config)

    def _program_config(self, program: Mapping[str, Any]) -> dict[str, str]:
        """The config of a deployment that runs ``program``: the current one once the program
        registers a dynamic resource (which registers the default provider), else the saved one
        (``Deployment.EnsureProvider`` loads the provider of the state's entries)."""
        return dict(self.config) if program else self._stored_config()

    def _save_config(self, program: Mapping[str, Any]) -> None:
        """The default provider's registration stores the whole current config in state, even if
        the deployment fails later; a program with no dynamic resource registers no provider."""
        if program:
            self.saved_config = dict(self.config)

    def _news(self, props: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in props.items() if v is not None}, "__provider": self.blob}

    @staticmethod
    def _targeted(name: str, target: Iterable[str] | None, exclude: Iterable[str] | None) -> bool:
        """``--target``/``--exclude`` (``deploy/target.go``): no target list means every resource."""
        return (target is None or name in set(target)) and (exclude is None or name not in set(exclude))

    # -- refresh ----------------------------------------------------------------------------------

    def _refresh_one(self, proc, state: dict[str, ResourceState], name: str) -> Step:
        """Read, then Diff against the stored inputs; ``state`` takes what Read returned."""
        old = state[name]
        try:
            id_, outs, read_inputs = self._rpc(proc, "Read", name,
                                               lambda: proc.read(urn(name), old.id, old.outputs, old.inputs))
            if not id_:
                state.pop(name, None)
                return Step(name, "deleted")
            inputs = read_inputs if read_inputs is not None else old.inputs
            resp = self._rpc(proc, "Diff", name,
                             lambda: proc.diff(urn(name), id_, outs, old.inputs, old_inputs=inputs))
            state[name] = ResourceState(id_, inputs, outs)
            return Step(name, "drift" if _changed(resp, inputs, old.inputs) else "same", outputs=outs,
                        new_inputs=read_inputs)
        except ProviderCallError as exc:
            return Step(name, "error", error=exc)

    def _refresh_pending(self, proc, pending: list[tuple[str, ResourceState]], i: int) -> Step:
        """A ``delete: true`` entry is refreshed like any other (``refresh.go`` reads every
        resource of the base state); gone, it leaves the state."""
        name, old = pending[i]
        scratch = {name: old}
        step = self._refresh_one(proc, scratch, name)
        with self._lock:
            if step.op == "deleted":
                pending[i] = (name, None)  # type: ignore[assignment]  # gone: _refresh_all drops it
            elif step.error is None:
                pending[i] = (name, scratch[name])
        return step

    def _refresh_all(self, proc, state: dict[str, ResourceState], parallel: int, *,
                     names: list[str] | None = None,
                     pending: list[tuple[str, ResourceState]] | None = None,
                     targeted: Callable[[str], bool] = lambda _name: True) -> dict[str, Step]:
        """Every (or each named) live entry of ``state`` and every targeted pending delete, on
        ``parallel`` workers. Errors never stop the other refreshes (the refresh step executor ignores
        them until the end). Pending deletes' steps are keyed ``"<name> (pending delete)"``.
        ``pendingReplacement`` entries are not refreshed; nor is anything ``--target``/``--exclude``
        leaves out, a pending delete included (``targeted``)."""
        names = [n for n in (list(state) if names is None else names)
                 if n in state and not state[n].pending_replacement]
        pending = self.pending_deletes if pending is None else pending
        jobs: list[tuple[str, Callable[[], Step]]] = [(n, partial(self._refresh_one, proc, state, n)) for n in names]
        jobs += [(f"{name} (pending delete)", partial(self._refresh_pending, proc, pending, i))
                 for i, (name, _) in enumerate(pending) if targeted(name)]
        steps = _each([key for key, _ in jobs], dict(jobs).__getitem__, parallel, call=True)
        pending[:] = [p for p in pending if p[1] is not None]
        return steps

    def _refreshed_process(self, state: dict[str, ResourceState], config: dict[str, str],
                           parallel: int, pending, names: list[str] | None = None,
                           targeted: Callable[[str], bool] = lambda _name: True) -> tuple[Any, dict[str, Step] | None]:
        """``--refresh``: refresh in a process configured from state, then keep that process for
        the rest of the deployment if ``config`` is the same, else start one with ``config``
        (``providers/registry.go`` ``Same``)."""
        stored = self._stored_config()
        proc = self._start(stored)
        errors = {n: s for n, s in self._refresh_all(proc, state, parallel, names=names, pending=pending,
                                                      targeted=targeted).items() if s.error}
        if errors:
            return proc, errors
        return (proc if config == stored else self._start(config)), None

    # -- commands ---------------------------------------------------------------------------------

    def preview(self, program: dict[str, dict[str, Any]], *, refresh: bool = False,
                options: Mapping[str, Options] | None = None, parallel: int = DEFAULT_PARALLEL,
                target: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, str]:
        """``pulumi preview``: Check and Diff only. Raises the first error, as the CLI stops there."""
        ops: dict[str, str] = {}
        with self._command():
            failed = self._preview(program, dict(options or {}), refresh, parallel, ops, target, exclude)
        if failed:
            raise next(s.error for s in failed.values() if s.error)
        return ops

    def _preview(self, program, options, refresh, parallel, ops: dict[str, str], target=None,
                 exclude=None, *, inline: bool = False) -> dict[str, Step] | None:
        """The preview deployment on a copy of the state; the failed steps, or None."""
        state = dict(self.state)
        config = self._program_config(program)
        if refresh and not inline:
            names = [n for n in state if self._targeted(n, target, exclude)]
            proc, errors = self._refreshed_process(state, config, parallel, list(self.pending_deletes), names)
            if errors:
                return errors
        else:
            proc = self._start(config)
        try:
            consumed = StepGenerator(self, proc, state, target, exclude, refresh_inline=inline).plan_all(
                program, options, lambda p: ops.update({p.name: p.op}) or True)
        except _Bail as bail:
            return {bail.name: Step(bail.name, "error", error=bail.error)}
        ops.update({name: "delete" for name in state if name not in program and name not in consumed
                    and self._targeted(name, target, exclude)})
        return None

    def up(self, program: dict[str, dict[str, Any]], *, parallel: int = DEFAULT_PARALLEL, refresh: bool = False,
           run_program: bool = False, skip_preview: bool | None = None,
           options: Mapping[str, Options] | None = None, before_apply: Callable[[], None] | None = None,
           target: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, Step]:
        """``pulumi up``. ``before_apply`` runs before each Create/Update/replace is sent.
        ``refresh=True, run_program=True`` is ``up --refresh --run-program`` (no up-front refresh)."""
        options = dict(options or {})
        with self._command():
            if not self._skips_preview(skip_preview):
                failed = self._preview(program, options, refresh, parallel, {}, target, exclude,
                                       inline=refresh and run_program)
                if failed:
                    return {**{n: Step(n, "skipped") for n in program}, **failed}
            return _Deployment(self, program, options, parallel, before_apply, target, exclude).run(
                refresh, inline_refresh=refresh and run_program)

    def refresh(self, *, preview_only: bool = False, parallel: int = DEFAULT_PARALLEL, run_program: bool = False,
                program: Mapping[str, Any] | None = None, skip_preview: bool | None = None,
                target: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, Step]:
        """``pulumi refresh``: a preview refresh (state untouched), then the refresh itself.

        ``run_program`` (RefreshV2): the program runs (``program``, default: every entry in state,
        as declared), so the provider is configured with the current config and the config is
        saved, unless the program declares no resource; each program resource is refreshed as it
        registers, then the entries no longer in the program."""
        program = dict(program if program is not None else {n: s.inputs for n, s in self.state.items()})
        if run_program:
            config = self._program_config(program)
        else:
            config = self._stored_config()
        def targeted(name: str) -> bool:
            return self._targeted(name, target, exclude)

        in_state = [n for n in self.state if targeted(n)]
        with self._command():
            if preview_only or not self._skips_preview(skip_preview):
                steps = self._refresh_command(self._start(config), dict(self.state), list(self.pending_deletes),
                                              parallel, in_state, program if run_program else None, targeted)
                if preview_only or any(s.error for s in steps.values()):
                    return steps
            if run_program:
                self._save_config(program)
            return self._refresh_command(self._start(config), self.state, self.pending_deletes, parallel, in_state,
                                         program if run_program else None, targeted)

    def _refresh_command(self, proc, state: dict[str, ResourceState], pending: list[tuple[str, ResourceState]],
                         parallel: int, in_state: list[str], program: Mapping[str, Any] | None,
                         targeted: Callable[[str], bool]) -> dict[str, Step]:
        """A refresh's reads. Without a program: every targeted entry and pending delete at once.
        With one (RefreshV2, ``step_generator.go``): the program's resources as they register; a
        pending delete whose name the program registered is "already operated on"
        (``isOperatedOn``) and gets no Read; the entries the program dropped (and the other pending
        deletes) are refreshed only after the program finishes (``GenerateRefreshes`` in
        ``performPostSteps``)."""
        if program is None:
            return self._refresh_all(proc, state, parallel, names=in_state, pending=pending, targeted=targeted)
        registered = [n for n in program if n in in_state]
        steps = self._refresh_all(proc, state, parallel, names=registered, pending=[])
        dropped = [n for n in in_state if n not in program]
        steps.update(self._refresh_all(proc, state, parallel, names=dropped, pending=pending,
                                       targeted=lambda name: targeted(name) and name not in program))
        return steps

    def destroy(self, *, refresh: bool = False, run_program: bool = False, parallel: int = DEFAULT_PARALLEL,
                skip_preview: bool | None = None, options: Mapping[str, Options] | None = None,
                program: Mapping[str, Any] | None = None, target: Iterable[str] | None = None,
                exclude: Iterable[str] | None = None) -> dict[str, Step]:
        """``pulumi destroy``: Delete with the stored outputs, the ``delete: true`` entries too.
        Without ``run_program`` the program is not run: the saved config, and no ``on_error`` hook
        (``deploy/retries.go``: hooks are registered by the program)."""
        program = dict(program if program is not None else {n: s.inputs for n, s in self.state.items()})
        if run_program:
            config = self._program_config(program)
        else:
            config = self._stored_config()
        options = dict(options or {})
        def targeted(name: str) -> bool:
            return self._targeted(name, target, exclude)

        names = [n for n in self.state if targeted(n)]
        with self._command():
            # a destroy preview calls the provider only to refresh; the refresh runs before the
            # program, so on the saved config (destroy.go sets DestroyProgram, not RefreshProgram)
            if refresh and not self._skips_preview(skip_preview):
                steps = self._refresh_all(self._start(self._stored_config()), dict(self.state), parallel, names=names,
                                          pending=list(self.pending_deletes), targeted=targeted)
                if any(s.error for s in steps.values()):
                    return steps
            if refresh:  # then the deletes on the current config, in a new process when it changed
                proc, errors = self._refreshed_process(self.state, config, parallel, self.pending_deletes, names,
                                                       targeted)
                if errors:
                    return errors
            else:
                proc = self._start(config)
            if run_program:
                self._save_config(program)
            cancelled = threading.Event()
            for name in names:  # deleted by the delete-before-replace already: never deleted again
                if self.state[name].pending_replacement:
                    del self.state[name]
            doomed = [(n, self.state[n], False) for n in names if n in self.state]
            doomed += [(n, old, True) for n, old in self.pending_deletes if targeted(n)]
            deleted = _each(list(range(len(doomed))), lambda i: self._delete(
                proc, doomed[i][0], doomed[i][1], options, cancelled, pending=doomed[i][2], hooked=run_program),
                parallel)
            return {(n if not pending else f"{n} (pending delete)"): deleted[i]
                    for i, (n, _, pending) in enumerate(doomed)}

    def import_(self, name: str, id_: str) -> Step:
        """``pulumi import`` / ``import_=``: Read with the id alone, no properties and no inputs
        (``step.go`` ``ImportStep``). The Python servicer finds no ``__provider`` in them."""
        with self._command():
            proc = self._start(self.config)
            try:
                self._rpc(proc, "Read", name, lambda: proc.read(urn(name), id_, {}, {}))
            except ProviderCallError as exc:
                return Step(name, "error", error=exc)
        return Step(name, "import")

    def _skips_preview(self, skip_preview: bool | None) -> bool:
        return self.skip_preview if skip_preview is None else skip_preview

    def check(self, program: dict[str, dict[str, Any]]) -> dict[str, Step]:
        """Check alone for each resource, in one process: what each resource's own preview would
        send first. Unlike a deployment, one failure does not hide the next resource's."""
        steps: dict[str, Step] = {}
        with self._command():
            proc = self._start(self.config)
            for name, props in program.items():
                try:
                    StepGenerator(self, proc, {}).check(name, {}, self._news(props))
                    steps[name] = Step(name, "checked")
                except ProviderCallError as exc:
                    steps[name] = Step(name, "error", error=exc)
        return steps

    # -- steps ------------------------------------------------------------------------------------

    def _retrying(self, proc, method: str, name: str, opts: Options, call: Callable[[], Any], *,
                  hooked: bool = True) -> Any:
        """A provider call, re-sent to the same process while the on_error hook asks for it: only
        where the program registered the hook, and for Create/Update before CLI 3.244 only on a
        partial failure, which a dynamic provider never returns (``deploy/retries.go``)."""
        retried = hooked and (method == "Delete" or self.cli_version >= ON_ERROR_ANY_FAILURE)
        attempts = min(1 + max(0, opts.on_error_retries), MAX_ERROR_HOOK_ATTEMPTS) if retried else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._rpc(proc, method, name, call)
            except ProviderCallError:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def _delete(self, proc, name: str, old: ResourceState, options: Mapping[str, Options],
                cancelled: threading.Event, *, pending: bool = False, hooked: bool = True) -> Step:
        if cancelled.is_set():  # a failed step stops every delete not yet started
            return Step(name, "skipped")
        opts = options.get(name, Options())
        try:
            if not opts.retain_on_delete:
                self._retrying(proc, "Delete", name, opts,
                               lambda: proc.delete(urn(name), old.id, old.outputs, old_inputs=old.inputs),
                               hooked=hooked)
        except ProviderCallError as exc:
            if not self.continue_on_error:
                cancelled.set()
            return Step(name, "error", error=exc)
        with self._lock:
            if pending:
                self.pending_deletes = [p for p in self.pending_deletes if p[1] is not old]
            elif self.state.get(name) is old:
                del self.state[name]
        return Step(name, "delete")


class StepGenerator:
    """Check and Diff, serially in program order, in one process against one view of the state."""

    def __init__(self, engine: Engine, proc, state: dict[str, ResourceState],
                 target: Iterable[str] | None = None, exclude: Iterable[str] | None = None,
                 refresh_inline: bool = False) -> None:
        self.engine, self.proc, self.state = engine, proc, state
        self.target, self.exclude = target, exclude
        self.refresh_inline = refresh_inline
        self.refreshed: dict[str, Step] = {}

    def plan(self, name: str, props: dict[str, Any], opts: Options) -> _Planned:
        eng, proc, state = self.engine, self.proc, self.state
        old_name = name if name in state else next((a for a in opts.aliases if a in state), None)
        old = state.get(old_name) if old_name else None
        if not eng._targeted(name, self.target, self.exclude):
            # NewUntargetedSameStep: a stub Check returns the old inputs, no Diff; a new untargeted
            # resource is a SkippedCreate (no call, nothing stored)
            if old is None:
                return _Planned(name, "skipped", {})
            return _Planned(name, "same", old.inputs, old_name, old)
        if old is not None and self.refresh_inline and not old.pending_replacement:
            assert old_name is not None  # old was found under it
            # up --refresh --run-program: the resource is refreshed as it registers (RefreshV2)
            step = eng._refresh_one(proc, state, old_name)
            self.refreshed[old_name] = step
            if step.error is not None:
                raise _Bail(name, step.error)
            old = state.get(old_name)
            if old is None:
                old_name = None
        news = eng._news(props)
        checked = self.check(name, old.inputs if old else {}, news)
        if old is None:
            return _Planned(name, "create", checked)
        resp = eng._rpc(proc, "Diff", name,
                        lambda: proc.diff(urn(name), old.id, old.outputs, checked, old_inputs=old.inputs))
        if resp.replaces or old.pending_replacement:
            checked = self.check(name, {}, news)  # a replacement re-Checks without olds
            dbr = resp.deleteBeforeReplace if opts.delete_before_replace is None else opts.delete_before_replace
            return _Planned(name, "replace", checked, old_name, old, dbr or old.pending_replacement)
        return _Planned(name, "update" if _changed(resp, old.inputs, checked) else "same", checked, old_name, old)

    def check(self, name: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        proc = self.proc
        checked, failures = self.engine._rpc(proc, "Check", name, lambda: proc.check(urn(name), olds, news))
        if failures:
            raise ProviderCallError("Check", grpc.StatusCode.INVALID_ARGUMENT,
                                    "\n".join(f"{prop}: {reason}" for prop, reason in failures))
        return checked

    def plan_all(self, program, options, each: Callable[[_Planned], bool]) -> set[str]:
        """Plan resources in program order and hand each to ``each`` (False: stop). Returns the
        names of the state entries the program claimed (its own or an alias)."""
        consumed: set[str] = set()
        for name, props in program.items():
            try:
                planned = self.plan(name, props, options.get(name, Options()))
            except ProviderCallError as exc:
                raise _Bail(name, exc) from None
            if planned.old_name:
                consumed.add(planned.old_name)
            if not each(planned):
                break
        return consumed


class _Deployment:
    """One update deployment: plan serially, apply on ``parallel`` workers, then the deletes."""

    def __init__(self, engine: Engine, program, options, parallel: int, before_apply,
                 target: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> None:
        self.engine, self.program, self.options = engine, program, options
        self.parallel, self.before_apply = max(1, parallel), before_apply
        self.target, self.exclude = target, exclude
        self.cancelled = threading.Event()
        self.steps: dict[str, Step] = {}

    def run(self, refresh: bool, *, inline_refresh: bool = False) -> dict[str, Step]:
        eng = self.engine
        config = eng._program_config(self.program)
        if refresh and not inline_refresh:
            def targeted(name: str) -> bool:
                return eng._targeted(name, self.target, self.exclude)

            names = [n for n in eng.state if targeted(n)]
            proc, errors = eng._refreshed_process(eng.state, config, self.parallel, None, names, targeted)
            if errors:
                return errors
        else:
            proc = eng._start(config)
        eng._save_config(self.program)
        futures = {}
        generator = StepGenerator(eng, proc, eng.state, self.target, self.exclude, refresh_inline=inline_refresh)
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            def each(planned: _Planned) -> bool:
                if planned.op == "same":
                    old, old_name = planned.old, planned.old_name
                    assert old is not None and old_name is not None  # "same" always has a prior state
                    with eng._lock:  # an alias moves the entry to its new name, as _apply does
                        if old_name != planned.name:
                            eng.state.pop(old_name, None)
                        eng.state[planned.name] = ResourceState(old.id, planned.checked, old.outputs)
                    self.steps[planned.name] = Step(planned.name, "same", outputs=old.outputs)
                elif planned.op == "skipped":
                    self.steps[planned.name] = Step(planned.name, "skipped")
                else:
                    futures[planned.name] = pool.submit(self._apply, proc, planned)
                return not self.cancelled.is_set()
            try:
                consumed = generator.plan_all(self.program, self.options, each)
            except _Bail as bail:
                self.steps[bail.name] = Step(bail.name, "error", error=bail.error)
                self.cancelled.set()
                consumed = set()
        self.steps.update({name: f.result() for name, f in futures.items()})
        for name in self.program:
            self.steps.setdefault(name, Step(name, "skipped"))
        targeted = lambda name: eng._targeted(name, self.target, self.exclude)  # noqa: E731
        for n in [n for n in list(eng.state) if n not in self.program and n not in consumed and targeted(n)
                  and eng.state[n].pending_replacement]:
            del eng.state[n]  # deleted already by its delete-before-replace: never deleted again
        removed = [(n, eng.state[n], False) for n in list(eng.state)
                   if n not in self.program and n not in consumed and targeted(n)]
        doomed = removed + [(n, old, True) for n, old in list(eng.pending_deletes) if targeted(n)]
        deleted = _each(list(range(len(doomed))), lambda i: eng._delete(
            proc, doomed[i][0], doomed[i][1], self.options, self.cancelled, pending=doomed[i][2]), self.parallel)
        for i, step in deleted.items():
            name, _, pending = doomed[i]
            if not pending:
                self.steps[name] = step
            elif step.error is not None:  # the replaced resource's delete failed: it stays pending
                prior = self.steps.get(name)
                self.steps[name] = Step(name, "error", error=step.error, outputs=prior.outputs if prior else {})
        return self.steps

    def _apply(self, proc, planned: _Planned) -> Step:
        eng, name = self.engine, planned.name
        if self.cancelled.is_set():
            return Step(name, "skipped")
        if self.before_apply:
            self.before_apply()
        opts = self.options.get(name, Options())
        old, old_name = planned.old, planned.old_name
        try:
            if planned.op == "update":
                assert old is not None  # an update has a prior state
                outs = eng._retrying(proc, "Update", name, opts, lambda: proc.update(
                    urn(name), old.id, old.outputs, planned.checked, old_inputs=old.inputs))
                new = ResourceState(old.id, planned.checked, outs)
            else:
                replaced: tuple[str, ResourceState] | None = None
                if planned.op == "replace":
                    assert old is not None and old_name is not None  # a replacement has a prior state
                    replaced = (old_name, old)
                    if planned.delete_before_replace and not old.pending_replacement:
                        eng._retrying(proc, "Delete", old_name, opts, lambda: proc.delete(
                            urn(old_name), old.id, old.outputs, old_inputs=old.inputs))
                        with eng._lock:  # step.go DeleteStep: the old entry stays, marked pendingReplacement
                            eng.state[old_name] = ResourceState(old.id, old.inputs, old.outputs, True)
                id_, outs = eng._retrying(proc, "Create", name, opts, lambda: proc.create(urn(name), planned.checked))
                new = ResourceState(id_, planned.checked, outs)
                if replaced is not None and not planned.delete_before_replace:
                    with eng._lock:  # the old one waits for the end of the deployment
                        eng.pending_deletes.append(replaced)
        except ProviderCallError as exc:
            if not eng.continue_on_error:
                self.cancelled.set()
            return Step(name, "error", error=exc)
        with eng._lock:
            if planned.old_name and planned.old_name != name:
                eng.state.pop(planned.old_name, None)
            eng.state[name] = new
        return Step(name, planned.op, outputs=outs)


def _changed(resp: provider_pb2.DiffResponse, old_inputs: dict[str, Any], news: dict[str, Any]) -> bool:
    """DIFF_UNKNOWN (``DiffResult(changes=None)``) makes the engine compare old and new inputs
    itself (step_generator.go ``diffResource``)."""
    if resp.changes == provider_pb2.DiffResponse.DIFF_UNKNOWN:
        return old_inputs != news
    return resp.changes == provider_pb2.DiffResponse.DIFF_SOME


def _each(names: list, fn, parallel: int, *, call: bool = False) -> dict:
    """Run ``fn`` per name, one at a time or on ``parallel`` threads (Pulumi's --parallel)."""
    if parallel <= 1:
        return {name: (fn(name)() if call else fn(name)) for name in names}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return dict(zip(names, pool.map((lambda n: fn(n)()) if call else fn, names)))
