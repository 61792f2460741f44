"""Reading Meta for the import: GET calls only, bounded concurrency, progress on stderr."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Sequence, TextIO

from ..client import READ_WORKERS, GraphClient
from ..errors import (
    AuthenticationFailed,
    InvalidParameter,
    ObjectNotFound,
    PermissionDenied,
    AccountNotVisible,
    GraphAPIError,
    WhatsAppError,
)
from ..models import NODE_FIELDS, LiveNumber, PhoneNumberNode
from ..progress import Progress
from .proposal import Found


def _account_error(waba_id: str, exc: GraphAPIError) -> AccountNotVisible:
    if isinstance(exc, (ObjectNotFound, PermissionDenied)):
        return AccountNotVisible(
            f"cannot list WhatsApp Business Account {waba_id}: it does not exist, or the token lacks "
            f"whatsapp_business_management on it ({exc.reference}); check the ID (WhatsApp Manager > "
            "Account tools), and grant the system user that permission on this account")
    return AccountNotVisible(f"cannot list WhatsApp Business Account {waba_id} ({exc.reference}): is {waba_id} a "
                             f"business account ID, not a phone number ID? {exc}")


def read_accounts(client: GraphClient, waba_ids: Sequence[str], err: TextIO) -> list[Found]:
    """Every number of every account (all pages), then each one's storage, ``READ_WORKERS`` at a time."""
    listed: list[tuple[str, PhoneNumberNode]] = []
    for waba_id in waba_ids:
        try:
            items = client.list_phone_numbers(waba_id, NODE_FIELDS)
        except (ObjectNotFound, PermissionDenied, InvalidParameter) as exc:
            raise _account_error(waba_id, exc) from None
        listed.extend((waba_id, PhoneNumberNode.model_validate({**item, "id": str(item["id"])}))
                      for item in items if item.get("id"))
        print(f"listed {len(items)} numbers in WhatsApp Business Account {waba_id}", file=err, flush=True)
    found: list[Found] = []
    if not listed:
        return found
    progress = Progress(err, len(listed), label="reading storage")
    progress.start()
    try:
        with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(listed)), thread_name_prefix="import") as pool:
            futures = {pool.submit(client.get_storage, node.id): (waba_id, node) for waba_id, node in listed}
            try:
                for future in as_completed(futures):
                    waba_id, node = futures[future]
                    try:
                        found.append(Found(node.id, waba_id, LiveNumber(node=node, storage=future.result())))
                    except AuthenticationFailed:
                        raise
                    except WhatsAppError as exc:
                        found.append(Found(node.id, waba_id, error=f"cannot read its storage: {exc}"))
                    progress.advance()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:  # also when a read stops the import: a terminal's counter line needs its newline
        progress.finish()
    return found
