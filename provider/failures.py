"""A converge that failed part-way, as data, and the tables that explain it: one per resource kind.

kopf keeps a handler's outcome as data and decides from it once; octoDNS's
``TooMuchChange(why, ...)`` carries its reasons. Here:

- ``StepFailure``: what the runner saw (which planned call failed, why, what the recovery did);
- ``FailureTable``: a resource kind's ways to fail, one ``Case`` per row. A row names the step it
  explains and how to recognise the failure within it, what must be read afterwards to know where
  the object was left (``Look``), what is known without reading, and how the message reads. A
  step that no row names gets ``UNKNOWN_STEP``, a generic row that claims nothing it cannot know,
  never an exception: a new planned step is explained badly until it has its rows, not fatally.
- ``PHONE_NUMBER_STORAGE``: the table of ``PhoneNumberStorage`` (its steps are ``planner.Step``
  and ``READBACK``). A new resource kind declares its own ``FailureTable`` in its own module and
  passes it to ``analyse``.

``analyse`` picks the row, asks a ``Reader`` for exactly the read the row names, and builds the
``ConvergeFailed``, which renders the same row's message. Nothing else branches on step names to
explain a failure. ``executor`` is the only caller of ``analyse`` (it passes itself as the
``Reader``, reading outside the cutover slot: the breaker is already open by then).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Protocol, Sequence

from .errors import GraphAPIError, NetworkError, ProviderError, ReadBackMismatch, TransientError
from .planner import Step
from .regions import describe

# The step of a plan that ran, when only reading the object back afterwards failed.
READBACK = "readback"


@dataclass(frozen=True)
class StepFailure:
    """A planned call failed, and what recovery did (after a failed ``settings`` only).

    ``step``: the planned step that failed (``planner.Step``'s values for a phone number), or
    ``READBACK`` when the plan ran and only reading the number back failed. ``recovery_step``/``recovery_cause``: the
    recovery call after a failed ``settings`` that failed too (``settings`` to restore, or
    ``register``); ``restored``: the recovery put the number back as it was, registered.
    """

    step: str
    cause: BaseException
    restored: bool = False
    recovery_step: str | None = None
    recovery_cause: BaseException | None = None


class Look(str, Enum):
    """What must be read after the failure to say where the number was left."""

    NOTHING = "nothing"  # the run itself knows
    REGISTERED = "registered"  # the failed call's outcome is unknown (a transient failure): read the node
    STORAGE = "storage"  # certainly offline: read its storage, to say what it has now


class Known(str, Enum):
    """The storage the run last knew the number to have, before any read."""

    PREVIOUS = "previous"  # as it was before the run
    DESIRED = "desired"  # as this run last set it
    READ_BACK = "read_back"  # as the read-back after the plan found it (``ReadBackMismatch``)


class Reader(Protocol):
    def registered_now(self, number_id: str) -> bool | None:
        """Whether the number is registered now; None when reading it failed."""

    def storage_now(self, number_id: str) -> str | None:
        """Its storage now (a code, DEFAULT, or None for unmanaged). Raises GraphAPIError."""


@dataclass(frozen=True)
class Case:
    """One row of a table: a way a step fails, the facts to pick, the sentence to say."""

    name: str
    step: str | None  # the step whose failure this row explains; None: any step (the generic row)
    look: Look
    offline: bool  # without a read (a read overrides it)
    known: Known = Known.PREVIOUS
    storage_read: bool = True  # False: the storage is unknown (only what was last set)
    render: Callable[["ConvergeFailed"], str] = lambda error: ""
    when: Callable[[StepFailure], bool] = lambda failure: True  # which failures of its step

    def applies(self, failure: StepFailure) -> bool:
        return self.step in (None, failure.step) and self.when(failure)


@dataclass(frozen=True)
class FailureTable:
    """A resource kind's ways to fail, its rows ordered from the most specific within a step."""

    kind: str  # the resource type whose failures this table explains
    cases: tuple[Case, ...]

    def case_for(self, failure: StepFailure) -> Case:
        """The first row that applies; a step no row names gets the generic row, never an exception."""
        return next((case for case in self.cases if case.applies(failure)), UNKNOWN_STEP)

    @property
    def steps(self) -> frozenset[str]:
        """The steps this table has rows for."""
        return frozenset(case.step for case in self.cases if case.step is not None)


def do_not_rerun_clause(reason: str) -> str:
    """The one wording of "a person must not simply re-run" (the message and the retry refusal)."""
    return f"Do NOT re-run automatically: {reason}"


# -- the sentences ------------------------------------------------------------------------------


def _stop(e: "ConvergeFailed") -> str:
    return f" {do_not_rerun_clause(e.do_not_rerun)}." if e.do_not_rerun else ""


_RESUME = " Once the cause is fixed, re-running `pulumi up` resumes from the live state."


def _spent(e: "ConvergeFailed") -> str:
    return f" This run made {len(e.registration_calls)} register/deregister calls."


def _readback(e: "ConvergeFailed") -> str:
    return (f"whatsapp {e.number_id}: the plan ran ({' -> '.join(e.ran)}), so the number should now be registered "
            f"with storage {describe(e.desired)}, but reading it back failed: {e.cause}. Fix the cause, then run "
            "`pulumi refresh` to record its live state.")


def _readback_mismatch(e: "ConvergeFailed") -> str:
    state = "registered" if not e.offline else "NOT registered (offline: it cannot send or receive messages)"
    return (f"whatsapp {e.number_id}: the plan ran ({' -> '.join(e.ran)}) and Meta accepted every call, but the "
            f"number reads back {state} with storage {describe(e.storage)}, not registered with "
            f"{describe(e.desired)} as declared: the change did not take effect as planned. Check the number in "
            f"WhatsApp Manager before anything else.{_stop(e)}{_spent(e)}")


def _set_pin(e: "ConvergeFailed") -> str:
    return (f"whatsapp {e.number_id}: set_pin failed before the number was deregistered: {e.cause}. Nothing else "
            f"was changed: it still serves traffic with storage {describe(e.previous)}.{_stop(e)}{_RESUME}")


def _deregister(e: "ConvergeFailed") -> str:
    if not e.offline:
        after = (f"The number is still registered and serving traffic with storage {describe(e.storage)}; nothing "
                 "was changed.")
    elif not e.storage_read:
        after = "Reading it back failed too, so it may be offline: check it in WhatsApp Manager."
    else:
        after = ("The number is NOT registered (offline: it cannot send or receive messages). Re-running "
                 "`pulumi up` registers it again.")
    return f"whatsapp {e.number_id}: deregister failed: {e.cause}. {after}{_stop(e)}{_RESUME}"


def _settings_restored(e: "ConvergeFailed") -> str:
    return (f"whatsapp {e.number_id}: settings({e.desired}) failed after deregister: {e.cause}. The number was "
            f"restored to its previous storage {describe(e.previous)} and registered again, so it serves traffic "
            f"as before this run. Nothing else changed.{_spent(e)}{_stop(e)} Fix the cause and re-run `pulumi up`.")


def _settings_unregistered(e: "ConvergeFailed") -> str:
    return (f"whatsapp {e.number_id}: settings failed: {e.cause}. The number was not registered before this run "
            f"and still is not; its storage is unchanged ({describe(e.previous)}).{_stop(e)} Fix the cause and "
            "re-run.")


def _restore_failed(e: "ConvergeFailed") -> str:
    return (f"whatsapp {e.number_id}: settings({e.desired}) failed after deregister ({e.cause}), and restoring the "
            f"previous storage {describe(e.previous)} also failed ({e.recovery_cause}). The number is NOT "
            "registered: it was left offline rather than registered with storage nobody declared."
            f"{_stop(e)} Fix the cause, then re-run `pulumi up`, which resumes from the live state.{_spent(e)}")


def _register_failed(e: "ConvergeFailed") -> str:
    """``register`` failed, as planned or after restoring a failed ``settings``."""
    after_settings = e.recovery_step == "register"
    cause = e.recovery_cause if after_settings else e.cause
    context = f"settings({e.desired}) failed ({e.cause}); " if after_settings else ""
    storage = describe(e.storage) + ("" if e.storage_read else " (as last set; could not read it back)")
    fix = getattr(cause, "fix", "")
    fix = f" Fix: {fix}." if fix and fix not in str(cause) else ""
    return (f"whatsapp {e.number_id}: {context}register failed: the number is NOT registered (offline: it cannot "
            f"send or receive messages). Current storage: {storage}. Cause: {cause}.{fix}{_stop(e)} This run made "
            f"{len(e.registration_calls)} register/deregister calls; Pulumi keeps no outputs from a failed run, so "
            f"count them against the budget yourself.{_RESUME}")


def _register_unknown(e: "ConvergeFailed") -> str:
    """``register`` failed transiently (no answer, or a temporary error): Meta may have registered it.

    The node was read once after the failure; the message says what that read found, never a guess."""
    storage = f"{describe(e.storage)} (as this run set it; not read back)"
    if e.offline and e.storage_read:
        found = ("and the number reads back NOT registered (offline: it cannot send or receive messages). "
                 f"Storage: {storage}. Re-running `pulumi up` registers it again.")
    elif not e.offline:
        found = ("but the number reads back registered: Meta took the register, so it serves traffic again. "
                 f"Storage: {storage}. Run `pulumi refresh`, then `pulumi up` to check the rest.")
    else:
        found = ("and reading the number afterwards failed too, so whether Meta registered it is unknown: it may "
                 f"be offline. Storage: {storage}. Check it in WhatsApp Manager and run `pulumi refresh` before "
                 "anything else.")
    opening = ("register's answer did not arrive" if isinstance(e.cause, NetworkError)
               else "register failed with a temporary error")  # Meta answered: busy, throttled, 5xx
    return (f"whatsapp {e.number_id}: {opening} ({e.cause}), {found}{_stop(e)} This run made "
            f"{len(e.registration_calls)} register/deregister calls; count them against the budget yourself.")


def _unknown_step(e: "ConvergeFailed") -> str:
    ran = f" (before it, this run applied {' -> '.join(e.ran)})" if e.ran else ""
    return (f"whatsapp {e.number_id}: {e.step} failed{ran}: {e.cause}. No failure analysis knows the step "
            f"{e.step!r}, so where the number was left is not known: it may be offline, and its storage is "
            "unknown. Check it in WhatsApp Manager and run `pulumi refresh` before anything else."
            f"{_stop(e)}{_spent(e)}")


# -- the tables -----------------------------------------------------------------------------------

# Any kind's failure of a step its table has no row for: claims nothing that was not read.
UNKNOWN_STEP = Case("unknown_step", None, Look.NOTHING, offline=True, storage_read=False, render=_unknown_step)


PHONE_NUMBER_STORAGE = FailureTable("PhoneNumberStorage", (
    Case("readback_mismatch", READBACK, Look.NOTHING, offline=False, known=Known.READ_BACK,
         render=_readback_mismatch, when=lambda f: isinstance(f.cause, ReadBackMismatch)),
    Case("readback", READBACK, Look.NOTHING, offline=False, known=Known.DESIRED, render=_readback),
    Case("set_pin", Step.SET_PIN.value, Look.NOTHING, offline=False, render=_set_pin),
    Case("deregister_unknown", Step.DEREGISTER.value, Look.REGISTERED, offline=False, render=_deregister,
         when=lambda f: isinstance(f.cause, TransientError)),
    Case("deregister_refused", Step.DEREGISTER.value, Look.NOTHING, offline=False, render=_deregister),
    Case("settings_restored", Step.SETTINGS.value, Look.NOTHING, offline=False, render=_settings_restored,
         when=lambda f: f.restored),
    Case("settings_unregistered", Step.SETTINGS.value, Look.NOTHING, offline=True, render=_settings_unregistered,
         when=lambda f: f.recovery_step is None),
    Case("restore_failed", Step.SETTINGS.value, Look.NOTHING, offline=True, storage_read=False, render=_restore_failed,
         when=lambda f: f.recovery_step == Step.SETTINGS.value),
    Case("register_after_restore_failed", Step.SETTINGS.value, Look.STORAGE, offline=True, render=_register_failed,
         when=lambda f: f.recovery_step == Step.REGISTER.value),
    Case("register_unknown", Step.REGISTER.value, Look.REGISTERED, offline=True, known=Known.DESIRED,
         render=_register_unknown, when=lambda f: isinstance(f.cause, TransientError)),
    Case("register", Step.REGISTER.value, Look.STORAGE, offline=True, known=Known.DESIRED, render=_register_failed),
))
CASES = PHONE_NUMBER_STORAGE.cases  # the rows of the one kind built so far


def analyse(number_id: str, failure: StepFailure, reader: Reader, *, previous: str | None, desired: str,
            registration_calls: Sequence[str] = (), ran: Sequence[str] = (),
            table: FailureTable = PHONE_NUMBER_STORAGE) -> "ConvergeFailed":
    """Pick the kind's row, make the one read it names, and build the error from the facts."""
    case = table.case_for(failure)
    storage = previous if case.known is Known.PREVIOUS else desired
    offline, storage_read = case.offline, case.storage_read
    if case.known is Known.READ_BACK and isinstance(failure.cause, ReadBackMismatch):
        storage, offline = failure.cause.storage, not failure.cause.registered
    if case.look is Look.REGISTERED:
        registered = reader.registered_now(number_id)
        offline, storage_read = registered is not True, registered is not None
    elif case.look is Look.STORAGE:
        try:
            storage, storage_read = reader.storage_now(number_id), True
        except GraphAPIError:
            storage_read = False
    return ConvergeFailed(number_id, failure, offline=offline, storage=storage, storage_read=storage_read,
                          registration_calls=registration_calls, ran=ran, desired=desired, previous=previous,
                          table=table)


class ConvergeFailed(ProviderError):
    """A plan failed part-way. Failures are data (where the number was left, what was tried, what
    it cost); the message is the row's of the resource kind's table, rendered from those fields.

    - ``failure``: the ``StepFailure`` (``step``, ``cause``, ``restored``, ``recovery_*`` are its fields);
    - ``offline``: the number is (or may be) not registered now;
    - ``storage``: its storage now (a code, ``DEFAULT``, or None when unknown), ``storage_read``
      whether that was read back or is only what was last known;
    - ``registration_calls``: the timestamps of the register/deregister calls this attempt made.
    """

    def __init__(self, number_id: str, failure: StepFailure, *, offline: bool, storage: str | None = None,
                 storage_read: bool = True, registration_calls: Sequence[str] = (), ran: Sequence[str] = (),
                 desired: str | None = None, previous: str | None = None,
                 table: FailureTable = PHONE_NUMBER_STORAGE) -> None:
        self.number_id, self.failure, self.case = number_id, failure, table.case_for(failure)
        self.offline, self.storage, self.storage_read = offline, storage, storage_read
        self.registration_calls, self.ran = tuple(registration_calls), tuple(ran)
        self.desired, self.previous = desired, previous
        super().__init__(self.case.render(self))

    @property
    def step(self) -> str:
        return self.failure.step

    @property
    def cause(self) -> BaseException:
        return self.failure.cause

    @property
    def restored(self) -> bool:
        return self.failure.restored

    @property
    def recovery_step(self) -> str | None:
        return self.failure.recovery_step

    @property
    def recovery_cause(self) -> BaseException | None:
        return self.failure.recovery_cause

    @property
    def do_not_rerun(self) -> str:
        """Why a person must not simply re-run ("" when re-running after a fix is fine)."""
        reasons = (getattr(e, "do_not_rerun", "") for e in (self.cause, self.recovery_cause))
        return next((reason for reason in reasons if isinstance(reason, str) and reason), "")

    @property
    def retry_refusal(self) -> str | None:
        """Why a further attempt in this process must be refused (``fleet.record_failure``), or None."""
        if not self.do_not_rerun:
            return None
        return f"{self.step} failed ({getattr(self.cause, 'reference', '')}). {do_not_rerun_clause(self.do_not_rerun)}"
