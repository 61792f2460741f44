"""What one Pulumi command shares inside its provider process: one object, one reset.

The engine keeps a provider process for a whole command (``up --refresh`` runs the refresh and
the update in the same one, ENGINE_PROTOCOL.md), serves up to four calls at once on threads, and
never tells the provider which resource (URN) a call is for. So the rules that protect a fleet
need memory shared by every call of the process, and it lives here:

- per-number locks: the calls for one number are serialised;
- the read cache: a read may be reused for a few seconds by the next operation on the number;
- cutover slots (``maxConcurrentCutovers``) and the circuit breaker;
- what the deployment declares: the region each ``check`` saw per number (two different regions
  for one number are two resources that really conflict), and the numbers a create or update
  converged;
- per-number attempt records: the register/deregister calls failed attempts made (they are not
  in state, yet they count against Meta's 72-hour budget), and why a retry must be refused;
- the register/deregister calls this process saw per number, on any entry (a Read, Diff, Update
  or Delete of an old resource, a pending delete): a Create for the number counts them;
- the stack configuration ``configure`` received;
- one executor (and so one connection pool) per configuration;
- what the process learnt once: the notices it printed, the optional fields Meta rejects.

The provider object holds no attributes (it is pickled into state), so this is module state,
reached only through ``current()``; tests that play several commands in one process call
``reset_process_state()``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

READ_REUSE_SECONDS = 5.0


@dataclass
class AttemptRecord:
    """What failed attempts for one number left behind in this process."""

    registration_calls: list[str] = field(default_factory=list)  # register/deregister timestamps (ISO-8601 UTC)
    refusal: str | None = None  # why a further attempt must not run, if one must not


class Fleet:
    """Fleet-wide safety state of one provider process (one Pulumi command)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._number_locks: dict[str, threading.Lock] = {}
        self._reads: dict[tuple[str, str], tuple[float, Any]] = {}
        self._slots: threading.BoundedSemaphore | None = None
        self._slots_size = 0
        self.breaker: str | None = None
        self._declared: dict[str, str] = {}
        self._converged: set[str] = set()
        self._attempts: dict[str, AttemptRecord] = {}
        self._executors: dict[Any, Any] = {}
        self._seen_once: set[str] = set()
        self._dropped_fields: set[str] = set()
        self._seen_calls: dict[str, Counter[str]] = {}
        self.stack_config: dict[str, Any] = {}

    def configure(self, config: dict[str, Any]) -> None:
        """The stack configuration ``configure`` received (the provider object holds none)."""
        with self._lock:
            self.stack_config = dict(config)

    # -- serialisation and cutover slots --------------------------------------------------------

    def number_lock(self, number_id: str) -> threading.Lock:
        with self._lock:
            return self._number_locks.setdefault(number_id, threading.Lock())

    def cutover_slots(self, size: int) -> threading.BoundedSemaphore:
        with self._lock:
            if self._slots is None or self._slots_size != size:
                self._slots = threading.BoundedSemaphore(size)
                self._slots_size = size
            return self._slots

    def trip(self, number_id: str, cause: BaseException) -> None:
        """A cutover failed: open the breaker (the first cause is kept) and refuse further attempts
        for this number. The only place the breaker trips; it runs before the failure is reported
        (which takes reads), so that no slot freed meanwhile lets another number go offline."""
        with self._lock:
            self.breaker = self.breaker or f"{number_id}: {type(cause).__name__}"
            record = self._attempts.setdefault(number_id, AttemptRecord())
            record.refusal = record.refusal or f"its cutover failed ({type(cause).__name__})"

    # -- reads ----------------------------------------------------------------------------------

    def cached_read(self, key: tuple[str, str]) -> Any | None:
        with self._lock:
            cached = self._reads.get(key)
        if cached and time.monotonic() - cached[0] < READ_REUSE_SECONDS:
            return cached[1]
        return None

    def remember_read(self, key: tuple[str, str], live: Any) -> None:
        with self._lock:
            self._reads[key] = (time.monotonic(), live)

    def forget_read(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._reads.pop(key, None)

    # -- what the deployment declares ------------------------------------------------------------

    def declare(self, number_id: str, region: str) -> str | None:
        """Record that a resource of this deployment declares ``region`` for the number (its
        ``check``). Returns the other region when another resource already declared a different
        one: two resources really manage the number. The same region again (a retry, a
        replacement's second check, a duplicate that agrees) is not a conflict."""
        with self._lock:
            seen = self._declared.setdefault(number_id, region)
        return seen if seen != region else None

    def mark_converged(self, number_id: str) -> None:
        with self._lock:
            self._converged.add(number_id)

    def wanted_by_deployment(self, number_id: str) -> bool:
        """A resource of this deployment declares or converged the number: ``on_delete: disable``
        of another resource must not undo it. Refresh (read, diff) records nothing here."""
        with self._lock:
            return number_id in self._declared or number_id in self._converged

    # -- register/deregister calls seen on any entry ---------------------------------------------

    def saw_calls(self, number_id: str, calls: Any) -> None:
        """Remember the register/deregister timestamps an entry for the number carried or made.
        Timestamps have one-second resolution, so a deregister and a register can share one:
        entries are merged as multisets (the most times each timestamp appears in one entry),
        so the same calls carried by two entries (an old resource and its successor) count once."""
        if not isinstance(calls, (list, tuple)):
            return
        with self._lock:
            seen = self._seen_calls.setdefault(number_id, Counter())
            seen |= Counter(c for c in calls if isinstance(c, str))

    def seen_calls(self, number_id: str) -> Counter[str]:
        with self._lock:
            return Counter(self._seen_calls.get(number_id, Counter()))

    # -- attempts -----------------------------------------------------------------------------

    def attempts(self, number_id: str) -> AttemptRecord:
        with self._lock:
            record = self._attempts.get(number_id) or AttemptRecord()
            return AttemptRecord(list(record.registration_calls), record.refusal)

    def record_failure(self, number_id: str, registration_calls: list[str], refusal: str | None) -> None:
        with self._lock:
            record = self._attempts.setdefault(number_id, AttemptRecord())
            record.registration_calls.extend(registration_calls)
            record.refusal = refusal or record.refusal  # the error's own reason says more than "cutover failed"

    # -- what the process learnt once: a notice printed, a field Meta rejects ----------------------

    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is asked in this process: one notice per process, although
        the provider reloads its configuration on every call (``config``)."""
        with self._lock:
            first = key not in self._seen_once
            self._seen_once.add(key)
            return first

    def drop_field(self, name: str) -> bool:
        """Never ask for the optional node field ``name`` again in this process (Meta rejects it as
        nonexisting: every client of the process talks to the same Graph API). True the first time."""
        with self._lock:
            first = name not in self._dropped_fields
            self._dropped_fields.add(name)
            return first

    def dropped(self, name: str) -> bool:
        with self._lock:
            return name in self._dropped_fields

    # -- executors ------------------------------------------------------------------------------

    def executor_for(self, config: Any, build: Callable[[], Any]) -> Any:
        with self._lock:
            executor = self._executors.get(config)
            if executor is None:
                executor = self._executors[config] = build()
            return executor

    def close(self) -> None:
        with self._lock:
            executors, self._executors = list(self._executors.values()), {}
        for executor in executors:
            executor.client.close()


_current = Fleet()


def current() -> Fleet:
    return _current


def reset_process_state() -> None:
    """Forget everything this module holds (tests that play several Pulumi commands in one process).

    The one reset: every per-process memory lives in ``Fleet`` (notices, dropped fields and the
    stack configuration ``configure`` received included), except one on purpose: ``redact``'s
    secret registry is never cleared. A secret registered once may still sit in a string, an
    exception or a buffer this process holds, and forgetting it would let the next ``redact``
    print it (remembering a stale secret only masks more)."""
    global _current
    old, _current = _current, Fleet()
    old.close()
