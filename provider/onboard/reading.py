"""Reading Meta for the import: GET calls only, bounded concurrency, progress on stderr."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Sequence, TextIO

from ..client import GraphClient
from ..errors import (
    AuthenticationFailed,
    InvalidParameter,
    ObjectNotFound,
    PermissionDenied,
    ProviderError,
    WhatsAppError,
)
from ..models import NODE_FIELDS, LiveNumber, PhoneNumberNode
from .proposal import Found

READ_WORKERS = 8
PROGRESS_EVERY_SECONDS = 5.0


class AccountNotVisible(ProviderError):
    """A ``--waba-id`` that the token cannot list: unknown, or missing whatsapp_business_management."""


class Progress:
    """A live counter on a terminal; otherwise a line every few seconds. Always on stderr."""

    def __init__(self, err: TextIO, *, clock: Callable[[], float] = time.monotonic,
                 every: float = PROGRESS_EVERY_SECONDS) -> None:
        self.err = err
        self.live = bool(getattr(err, "isatty", lambda: False)())
        self.clock = clock
        self.every = every
        self._last = clock()

    def say(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def count(self, done: int, total: int, what: str) -> None:
        if self.live:
            self.err.write(f"\r{what}: {done}/{total}" + ("\n" if done == total else ""))
            self.err.flush()
        elif done == total or self.clock() - self._last >= self.every:
            self._last = self.clock()
            self.say(f"{what}: {done}/{total}")


def _account_error(waba_id: str, exc: WhatsAppError) -> AccountNotVisible:
    if isinstance(exc, (ObjectNotFound, PermissionDenied)):
        return AccountNotVisible(
            f"cannot list WhatsApp Business Account {waba_id}: it does not exist, or the token lacks "
            f"whatsapp_business_management on it ({exc.reference}); check the ID (WhatsApp Manager > "
            "Account tools), and grant the system user that permission on this account")
    return AccountNotVisible(f"cannot list WhatsApp Business Account {waba_id} ({exc.reference}): is {waba_id} a "
                             f"business account ID, not a phone number ID? {exc}")


def read_accounts(client: GraphClient, waba_ids: Sequence[str], progress: Progress) -> list[Found]:
    """Every number of every account (all pages), then each one's storage, ``READ_WORKERS`` at a time."""
    listed: list[tuple[str, PhoneNumberNode]] = []
    for waba_id in waba_ids:
        try:
            items = client.list_phone_numbers(waba_id, NODE_FIELDS)
        except (ObjectNotFound, PermissionDenied, InvalidParameter) as exc:
            raise _account_error(waba_id, exc) from None
        listed.extend((waba_id, PhoneNumberNode.model_validate({**item, "id": str(item["id"])}))
                      for item in items if item.get("id"))
        progress.say(f"listed {len(items)} numbers in WhatsApp Business Account {waba_id}")
    found: list[Found] = []
    if not listed:
        return found
    with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(listed)), thread_name_prefix="import") as pool:
        futures = {pool.submit(client.get_storage, node.id): (waba_id, node) for waba_id, node in listed}
        try:
            for done, future in enumerate(as_completed(futures), 1):
                waba_id, node = futures[future]
                try:
                    found.append(Found(node.id, waba_id, LiveNumber(node=node, storage=future.result())))
                except AuthenticationFailed:
                    raise
                except WhatsAppError as exc:
                    found.append(Found(node.id, waba_id, error=f"cannot read its storage: {exc}"))
                progress.count(done, len(futures), "reading storage")
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return found
