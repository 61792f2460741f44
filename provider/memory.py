"""What one provider process remembers, piece by piece: each piece a narrow collaborator.

The engine keeps a provider process for a whole command (``up --refresh`` runs the refresh and
the update in the same one: docs/engine.md, "Process scoping: one process is not one command"), serves up to four calls at once on threads, and
never tells the provider which resource (URN) a call is for. So the rules that protect a fleet
need memory shared by every call of the process. Each piece below is one kind of that memory,
thread-safe, and handed to exactly the code that needs it through its constructor (kopf's and
resolvelib's style: the core gets its collaborators, it never reaches for a global):

- ``ReadCache``: a read may be reused for a few seconds by the next operation on the number
  (the executor's reads);
- ``Listings``: business accounts' listings, one fetch per account shared by every read that
  needs it (the reader); ``AccountLimits``: the accounts that reached Meta's hourly limit;
- ``AttemptBook``: per number, a lock serialising its calls and what failed attempts left behind:
  their register/deregister calls (not in state, yet they count against Meta's 72-hour budget) and
  why a retry must be refused (the executor);
- ``CutoverGate``: cutover slots (``maxConcurrentCutovers``) and the circuit breaker (the runner);
- ``Deployment``: what the deployment declares (the region each ``check`` saw per number) and the
  numbers a create or update converged (the adapter, for ``on_delete``);
- ``SeenCalls``: the register/deregister calls every entry for a number carried or made, on any
  call (the adapter: a Create for the number counts them);
- ``DroppedFields``: the optional node fields Meta rejects (the client).

``fleet.Fleet`` holds one of each for the process. Nothing here reads the environment or prints.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .ledger import CallLedger

if TYPE_CHECKING:
    from .errors import AccountLimitReached
    from .models import LiveNumber, PhoneNumberNode, StorageConfiguration

READ_REUSE_SECONDS = 5.0


class ReadCache:
    """Live reads by (API, number), reused for ``READ_REUSE_SECONDS``; a mutating call forgets them.

    A read's two parts may come from different moments (the node from an account's listing, the
    storage from the number's own settings read): each keeps its own time, and a read is only as
    fresh as its older part. ``storage`` lets a read whose node is too old keep a storage read
    that is not (a refresh's Diff right after its Read)."""

    def __init__(self, reuse_seconds: float = READ_REUSE_SECONDS) -> None:
        self._lock = threading.Lock()
        self._reads: dict[tuple[str, str], tuple[float, float, "LiveNumber"]] = {}
        self._reuse = reuse_seconds

    def _fresh(self, at: float) -> bool:
        return time.monotonic() - at < self._reuse

    def get(self, key: tuple[str, str]) -> "LiveNumber | None":
        with self._lock:
            cached = self._reads.get(key)
        if cached and self._fresh(min(cached[0], cached[1])):
            return cached[2]
        return None

    def storage(self, key: tuple[str, str]) -> "tuple[float, StorageConfiguration] | None":
        """When the number's storage was read and what it was, if that is less than ``READ_REUSE_SECONDS`` ago."""
        with self._lock:
            cached = self._reads.get(key)
        return (cached[1], cached[2].storage) if cached and self._fresh(cached[1]) else None

    def put(self, key: tuple[str, str], live: "LiveNumber", *, node_at: float | None = None,
            storage_at: float | None = None) -> None:
        """``node_at``/``storage_at``: when each part was read (monotonic; default: now)."""
        now = time.monotonic()
        with self._lock:
            self._reads[key] = (now if node_at is None else node_at, now if storage_at is None else storage_at, live)

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._reads.pop(key, None)


LISTING_PAGE = 100  # numbers per page of an account's listing the client asks for: Meta's maximum

@dataclass(frozen=True)
class Listing:
    """One business account's listing: the node of every number it lists, as of ``at`` (monotonic).
    ``nodes`` is None when the account cannot be listed (its numbers are read one by one)."""

    at: float
    nodes: "dict[str, PhoneNumberNode] | None"


class Listings:
    """Business accounts' listings by (API, account), so that one listing call reads up to 100
    numbers' nodes: the first reader that needs an account's listing fetches it, the others wait
    for it (a lock per account), and the process keeps it. A read bounded by ``max_age`` (a Diff's or
    an Update's preflight) uses a kept listing that young; an older one is fetched again when it is
    one page (a call, as the node read, that serves the account's other numbers too), and otherwise
    the number's node is read (fetching many pages for one node costs more, and the listing is
    already old when it arrives). A mutating call drops the number from it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._listings: dict[tuple[str, str], Listing] = {}

    def get(self, key: tuple[str, str], fetch: "Callable[[], dict[str, PhoneNumberNode] | None]",
            *, max_age: float | None) -> Listing:
        """The account's listing: this process's, or ``fetch()``'s (raises what it raises; nothing kept)."""
        with self._lock:
            account_lock = self._locks.setdefault(key, threading.Lock())
        with account_lock:
            with self._lock:
                kept = self._listings.get(key)
            if kept is not None and (kept.nodes is None or max_age is None or time.monotonic() - kept.at < max_age):
                return kept
            if kept is not None and max_age is not None and len(kept.nodes or ()) > LISTING_PAGE:
                # fetching a listing of several pages again for one Diff's node costs more than the
                # node read (and it is already old when it arrives): not listed here, the node is read
                return Listing(time.monotonic(), None)
            at = time.monotonic()  # as of the request: a change made while it was read is not in it
            listing = Listing(at, fetch())
            with self._lock:
                self._listings[key] = listing
            return listing

    def forget(self, api: str, number_id: str) -> None:
        """A mutating call was made on the number: no listing of this process speaks for it any more."""
        with self._lock:
            for (key_api, waba), listing in list(self._listings.items()):
                if key_api == api and listing.nodes is not None and number_id in listing.nodes:
                    nodes = {k: v for k, v in listing.nodes.items() if k != number_id}
                    self._listings[(key_api, waba)] = Listing(listing.at, nodes)


class AccountLimits:
    """Business accounts that reached Meta's hourly limit (80008), until access returns: their
    numbers are not read again. Under ``None``: a limit met by a number whose account is not
    declared, which stops the node reads of every such number (any of them may be in it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped: dict[str | None, "AccountLimitReached"] = {}

    def stop(self, waba_id: str | None, error: "AccountLimitReached") -> None:
        with self._lock:
            self._stopped.setdefault(waba_id, error)

    def stopped(self, waba_id: str | None) -> "AccountLimitReached | None":
        """The limit that stops reading ``waba_id`` (None: the numbers without one), while it lasts."""
        with self._lock:
            error = self._stopped.get(waba_id)
            if error is not None and error.retry_at is not None and error.retry_at <= time.time():
                del self._stopped[waba_id]
                return None
        # a copy per number: raising one instance from many threads stacks every raise's frames on
        # its traceback, which Pulumi prints in full for each resource
        return None if error is None else _fresh(error)


def _fresh(error: "AccountLimitReached") -> "AccountLimitReached":
    """The same error as a new instance, without a traceback (``copy.copy`` would run its
    ``__init__`` again on the message alone and lose the facts it was built from)."""
    clone = type(error).__new__(type(error), *error.args)
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    return clone


@dataclass(frozen=True)
class Attempt:
    """What failed attempts for one number left behind in this process."""

    calls: CallLedger = CallLedger()  # the register/deregister calls they made
    refusal: str | None = None  # why a further attempt must not run, if one must not


class AttemptBook:
    """Per number: the lock that serialises its calls, and its failed attempts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._attempts: dict[str, Attempt] = {}

    def lock(self, number_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(number_id, threading.Lock())

    def of(self, number_id: str) -> Attempt:
        with self._lock:
            return self._attempts.get(number_id) or Attempt()

    def record_failure(self, number_id: str, calls: CallLedger, refusal: str | None) -> None:
        """A failed attempt made ``calls`` (new calls: added); its own reason for refusing a retry,
        if it has one, says more than an earlier "cutover failed"."""
        with self._lock:
            earlier = self._attempts.get(number_id) or Attempt()
            self._attempts[number_id] = Attempt(earlier.calls + calls, refusal or earlier.refusal)

    def refuse(self, number_id: str, reason: str) -> None:
        """Refuse further attempts for the number, unless a reason is recorded already."""
        with self._lock:
            earlier = self._attempts.get(number_id) or Attempt()
            self._attempts[number_id] = Attempt(earlier.calls, earlier.refusal or reason)


class CutoverGate:
    """Cutover slots and the circuit breaker of one process (docs/contract.md, "Cutovers")."""

    def __init__(self, attempts: AttemptBook) -> None:
        self._lock = threading.Lock()
        self._attempts = attempts
        self._slots: threading.BoundedSemaphore | None = None
        self._size = 0
        self._breaker: str | None = None

    def slots(self, size: int) -> threading.BoundedSemaphore:
        """The process's ``maxConcurrentCutovers`` slots (a new configuration may resize them)."""
        with self._lock:
            if self._slots is None or self._size != size:
                self._slots = threading.BoundedSemaphore(size)
                self._size = size
            return self._slots

    @property
    def breaker(self) -> str | None:
        """Which cutover failed first in this process (``ID: ErrorClass``), or None while closed."""
        with self._lock:
            return self._breaker

    def trip(self, number_id: str, cause: BaseException) -> None:
        """A cutover failed: open the breaker (the first cause is kept) and refuse further attempts
        for this number. The only place the breaker trips; it runs before the failure is reported
        (which takes reads), so that no slot freed meanwhile lets another number go offline."""
        with self._lock:
            self._breaker = self._breaker or f"{number_id}: {type(cause).__name__}"
        self._attempts.refuse(number_id, f"its cutover failed ({type(cause).__name__})")


class Deployment:
    """What the resources of this process declare (``check``) and converged (create, update)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._declared: dict[str, str] = {}
        self._converged: set[str] = set()

    def declare(self, number_id: str, region: str) -> str | None:
        """Record that a resource of this deployment declares ``region`` for the number. Returns the
        other region when another resource already declared a different one: two resources really
        manage the number. The same region again (a retry, a replacement's second check, a
        duplicate that agrees) is not a conflict."""
        with self._lock:
            seen = self._declared.setdefault(number_id, region)
        return seen if seen != region else None

    def mark_converged(self, number_id: str) -> None:
        with self._lock:
            self._converged.add(number_id)

    def wants(self, number_id: str) -> bool:
        """A resource of this deployment declares or converged the number: ``on_delete: disable``
        of another resource must not undo it. Refresh (read, diff) records nothing here."""
        with self._lock:
            return number_id in self._declared or number_id in self._converged


class SeenCalls:
    """The register/deregister calls the entries for each number carried or made in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, CallLedger] = {}

    def saw(self, number_id: str, calls: CallLedger) -> CallLedger:
        """Merge what one entry carries (``|``: the same calls on two entries count once); returns
        everything seen for the number."""
        with self._lock:
            merged = self._seen[number_id] = self._seen.get(number_id, CallLedger()) | calls
            return merged

    def of(self, number_id: str) -> CallLedger:
        with self._lock:
            return self._seen.get(number_id, CallLedger())


class DroppedFields:
    """Optional node fields Meta rejected as nonexisting: never asked for again in this process
    (every client of the process talks to the same Graph API)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()

    def drop(self, name: str) -> bool:
        """Never ask for ``name`` again; True the first time."""
        with self._lock:
            first = name not in self._names
            self._names.add(name)
            return first

    def dropped(self, name: str) -> bool:
        with self._lock:
            return name in self._names
