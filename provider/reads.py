"""The reads assessing needs, with the fewest calls against Meta's hourly limits.

``LiveReader`` is the one door (``assessment`` re-exports it): the CLI reads many numbers at once
through ``read_live``, the adapter one at a time through ``read_one`` with the process's memory.

- **Listings, not node reads.** Meta counts `GET /{phone_number_id}` and each page of
  `GET /{waba_id}/phone_numbers` against the business account's hourly limit, and a listing
  page carries 100 numbers' node fields (docs/graph-api.md, "Rate limits" and
  "Phone number fields"). So a
  number whose `wabaId` is declared takes its node from its account's listing: fetched once per
  account (the first reader fetches, the others wait: ``memory.Listings``), with every page. Its
  storage (`/settings`) is read per number, as before. A number the listing lacks falls back to
  a node read (the "cannot see" and "gone" rules are the adapter's, unchanged), and so does every
  number of an account the token cannot list.
- **How old.** A refresh's Read and the CLI take the listing this process fetched, whatever its
  age within the command; a Diff and an Update's preflight never use a node or a storage read
  more than ``memory.READ_REUSE_SECONDS`` old: an older listing is fetched again when it is one
  page, else the number's node is read (never many pages again for one number).
- **Stopped at the limit.** An 80008 that the client did not wait for (access returns in more
  than a minute) stops reading its business account for the command (``memory.AccountLimits``):
  each of its numbers gets the same error, naming the account and when access returns, and no
  further call goes to it. An 80008 met by a number whose account is not declared also stops the
  node reads of every number without a `wabaId`: any of them may be in the limited account.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from .errors import (
    AccountLimitReached,
    AuthenticationFailed,
    GraphUnreachable,
    InvalidParameter,
    NetworkError,
    ObjectNotFound,
    PermissionDenied,
    WhatsAppError,
)
from .memory import READ_REUSE_SECONDS, AccountLimits, Listings, ReadCache
from .models import NODE_FIELDS, LiveNumber, PhoneNumberNode, StorageConfiguration
from .notices import Notice, Notices

__all__ = ["LiveRead", "LiveReader", "NumberReads", "Wanted", "unlisted_notice"]


def unlisted_notice(without_account: int, total: int) -> Notice | None:
    """Said once per command: the numbers that cost a node read each, and what fills their `wabaId`."""
    if not without_account:
        return None
    return Notice("unlisted", (
        f"{without_account} of {total} numbers have no `wabaId`, so each costs a node read against Meta's hourly "
        "limit of its business account (200 calls an hour, 5,000 with a registered number) instead of a share of "
        "one listing call per 100 numbers; `python -m provider import --stack NAME --waba-id ID` fills it in"))


class NumberReads(Protocol):
    """The Graph reads assessing needs (``client.GraphClient`` has them)."""

    def read(self, number_id: str) -> LiveNumber: ...

    def get_number(self, number_id: str, *, deadline: float | None = None) -> PhoneNumberNode: ...

    def get_storage(self, number_id: str, *, deadline: float | None = None) -> StorageConfiguration: ...

    def list_phone_numbers(self, waba_id: str, fields: tuple[str, ...]) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Wanted:
    """A number to read. ``node``: its node as an account's listing gave it (only its storage is read
    then); ``waba_id``: its declared business account, whose listing gives its node."""

    number_id: str
    node: PhoneNumberNode | None = None
    waba_id: str | None = None


@dataclass(frozen=True)
class LiveRead:
    """One number's read: the live number, or the error, or not read (the run stopped first)."""

    number_id: str
    live: LiveNumber | None = None
    error: WhatsAppError | None = None

    @property
    def skipped(self) -> bool:
        return self.live is None and self.error is None


class _Answers:
    """Whether the Graph host answers at all. After a first round of connection failures and no
    answer, the remaining numbers are not read: the run reports the cause once."""

    def __init__(self, first_round: int) -> None:
        self._lock = threading.Lock()
        self._first_round = first_round
        self.answered = 0
        self.unreachable: list[NetworkError] = []
        self.stop: BaseException | None = None

    def skip(self) -> bool:
        with self._lock:
            return self.stop is not None or (not self.answered and len(self.unreachable) >= self._first_round)

    def record(self, exc: BaseException | None) -> None:
        with self._lock:
            if isinstance(exc, NetworkError) and exc.unreachable:
                self.unreachable.append(exc)
            else:
                self.answered += 1
            if isinstance(exc, AuthenticationFailed):
                self.stop = exc


class LiveReader:
    """Reads live numbers through one client. ``cache``, ``listings``, ``limits``: the process's
    memory (the adapter's), or the command's own (the CLI: no cache, fresh listings and limits).

    ``target`` names the Graph API (redacted) for the error that says it cannot be reached;
    ``api`` keys the memory (a read through another URL or version is another read)."""

    def __init__(self, client: NumberReads, *, target: str, api: str, cache: ReadCache | None = None,
                 listings: Listings | None = None, limits: AccountLimits | None = None,
                 notices: Notices | None = None) -> None:
        self._client = client
        self._target = target
        self._api = api
        self._cache = cache
        self._listings = listings if listings is not None else Listings()
        self._limits = limits if limits is not None else AccountLimits()
        self._notices = notices if notices is not None else Notices()

    def read_one(self, number_id: str, *, waba_id: str | None = None, reuse: bool = True,
                 any_listing: bool = False) -> LiveNumber:
        """One number. Raises.

        ``reuse``: a read (or its storage part) made less than a few seconds ago in this process is
        reused, and the node may come from ``waba_id``'s listing; False: the node and the storage
        are read now (the read-back after a change). ``any_listing``: the listing this process
        fetched is good whatever its age (a refresh's Read); otherwise it is at most as old as a
        reused read (a Diff, an Update's preflight)."""
        key = (self._api, number_id)
        cached = self._cache.get(key) if reuse and self._cache is not None else None
        if cached is not None:
            return cached
        node: PhoneNumberNode | None = None
        node_at: float | None = None
        if reuse and waba_id:
            node, node_at = self._listed(waba_id, number_id, max_age=None if any_listing else READ_REUSE_SECONDS)
        kept = self._cache.storage(key) if reuse and self._cache is not None else None
        live = self._fetch(number_id, waba_id, node, kept[1] if kept else None)
        if self._cache is not None:
            self._cache.put(key, live, node_at=node_at, storage_at=kept[0] if kept else None)
        return live

    def forget(self, number_id: str) -> None:
        """A mutating call was made: the next read is a fresh one, its node included."""
        if self._cache is not None:
            self._cache.forget((self._api, number_id))
        self._listings.forget(self._api, number_id)

    def read_live(self, wanted: Sequence[Wanted], *, workers: int = 1,
                  advance: Callable[[], None] | None = None) -> list[LiveRead]:
        """Every number, ``workers`` at a time; per number its read or its error, in order.

        A rejected token is the same answer for every number: the first one raises. When no read
        got an answer and the first round could not connect, the rest are not read and
        ``GraphUnreachable`` is raised with the cause, once."""
        if not wanted:
            return []
        answers = _Answers(first_round=max(1, min(workers, len(wanted))))

        def one(item: Wanted) -> LiveRead:
            try:
                if answers.skip():
                    return LiveRead(item.number_id)
                try:
                    live = self._read(item)
                except AuthenticationFailed as exc:
                    answers.record(exc)
                    raise
                except WhatsAppError as exc:
                    answers.record(exc)
                    return LiveRead(item.number_id, error=exc)
                answers.record(None)
                return LiveRead(item.number_id, live=live)
            finally:
                if advance is not None:
                    advance()

        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted))), thread_name_prefix="read") as pool:
            futures = [pool.submit(one, item) for item in wanted]
            try:
                results = [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        if answers.unreachable and not answers.answered:
            raise GraphUnreachable(self._target, answers.unreachable[-1], len(answers.unreachable), len(wanted))
        return results

    def _read(self, item: Wanted) -> LiveNumber:
        if item.node is None:
            return self.read_one(item.number_id, waba_id=item.waba_id, any_listing=True)
        return self._fetch(item.number_id, item.waba_id, item.node, None)

    # -- behind read_one --------------------------------------------------------------------------

    def _listed(self, waba_id: str, number_id: str, *, max_age: float | None
                ) -> tuple[PhoneNumberNode | None, float | None]:
        """The number's node as its account's listing gives it, and the listing's time (None: not listed)."""
        stopped = self._limits.stopped(waba_id)
        if stopped is not None:
            raise stopped
        listing = self._listings.get((self._api, waba_id), lambda: self._list(waba_id), max_age=max_age)
        node = None if listing.nodes is None else listing.nodes.get(number_id)
        return (node, listing.at) if node is not None else (None, None)

    def _list(self, waba_id: str) -> dict[str, PhoneNumberNode] | None:
        """Every number of the account, every page; None when the token cannot list it."""
        stopped = self._limits.stopped(waba_id)  # a reader that waited for another's fetch, which met the limit
        if stopped is not None:
            raise stopped
        try:
            items = self._client.list_phone_numbers(waba_id, NODE_FIELDS)
        except AccountLimitReached as exc:
            self._stop(exc, waba_id)
            raise
        except (ObjectNotFound, PermissionDenied, InvalidParameter) as exc:
            self._notices.once(Notice(f"listing:{waba_id}", (
                f"cannot list business account {waba_id} ({exc.reference}): its numbers are read one by one, a "
                "node read each against Meta's hourly limit; check their `wabaId` and the token's "
                "whatsapp_business_management permission on the account")))
            return None
        return {str(item["id"]): PhoneNumberNode.model_validate({**item, "id": str(item["id"])})
                for item in items if item.get("id")}

    def _fetch(self, number_id: str, waba_id: str | None, node: PhoneNumberNode | None,
               storage: StorageConfiguration | None) -> LiveNumber:
        """What is not known yet of the number, read now (the node and the storage at once when both)."""
        for account in (waba_id,) if waba_id else ((None,) if node is None else ()):
            stopped = self._limits.stopped(account)
            if stopped is not None:
                raise stopped
        try:
            if node is None and storage is None:
                return self._client.read(number_id)
            if node is None:
                node = self._client.get_number(number_id)
            if storage is None:
                storage = self._client.get_storage(number_id)
        except AccountLimitReached as exc:
            self._stop(exc, waba_id)
            if waba_id is None:
                self._limits.stop(None, exc)
            raise
        return LiveNumber(node=node, storage=storage)

    def _stop(self, exc: AccountLimitReached, waba_id: str | None) -> None:
        """Stop reading the account the answer names and the one being read, until access returns."""
        exc.tie(waba_id)
        for account in {exc.waba_id, waba_id} - {None}:
            self._limits.stop(account, exc)
