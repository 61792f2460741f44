"""One provider process's memory, held together: reached only by the engine adapter.

The provider object holds no attributes (it is pickled into state), so what one Pulumi command
shares across its calls is module state: one ``Fleet``, reached through ``current()`` by the
adapter (``resource.py``) alone. Everything below the adapter gets the piece it needs
(``memory``) through its constructor; the CLI builds its own pieces per command. Tests that play
several Pulumi commands in one process call ``reset_process_state()``.

What it holds: the pieces of ``memory`` (reads, listings, account limits, attempts, the cutover
gate, the deployment's declarations, the calls seen, the dropped fields), the notice sink (each
notice once per process), the stack configuration ``configure`` received, and one executor (so one connection
pool) per configuration.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .memory import AccountLimits, AttemptBook, CutoverGate, Deployment, DroppedFields, Listings, ReadCache, SeenCalls
from .notices import Notices

if TYPE_CHECKING:
    from .config import ProviderConfig
    from .executor import Executor


class Fleet:
    """Fleet-wide safety state of one provider process (one Pulumi command)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reads = ReadCache()
        self.listings = Listings()
        self.limits = AccountLimits()
        self.attempts = AttemptBook()
        self.gate = CutoverGate(self.attempts)
        self.deployment = Deployment()
        self.calls = SeenCalls()
        self.fields = DroppedFields()
        self.notices = Notices()
        self.stack_config: dict[str, Any] = {}
        self._executors: dict[ProviderConfig, Executor] = {}

    def configure(self, config: dict[str, Any]) -> None:
        """The stack configuration ``configure`` received (the provider object holds none)."""
        with self._lock:
            self.stack_config = dict(config)

    def executor_for(self, config: "ProviderConfig") -> "Executor":
        """One executor (and so one connection pool) per configuration, with this process's pieces.
        Imported here: the stack program imports the adapter and never calls the Graph API, so it
        does not pay for requests and pydantic."""
        from .client import GraphClient
        from .executor import Executor

        with self._lock:
            executor = self._executors.get(config)
            if executor is None:
                client = GraphClient(config, fields=self.fields, notices=self.notices)
                executor = self._executors[config] = Executor(
                    client, cache=self.reads, gate=self.gate, attempts=self.attempts, notices=self.notices,
                    listings=self.listings, limits=self.limits)
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
