"""Reading Meta for the import: GET calls only, bounded concurrency, progress on stderr.

Each account is listed here (all pages, the node fields of every number); each listed number's
storage is then read through the one door for the reads assessing needs
(``assessment.LiveReader.read_live``), given the node the listing already holds.
"""

from __future__ import annotations

from typing import Sequence, TextIO

from ..assessment import LiveReader, Wanted
from ..client import READ_WORKERS, GraphClient
from ..errors import (
    InvalidParameter,
    ObjectNotFound,
    PermissionDenied,
    GraphAPIError,
)
from ..errors import AccountNotVisible as AccountNotVisible  # defined in the error tree; importable from here too
from ..models import NODE_FIELDS, PhoneNumberNode
from ..progress import Progress
from ..redact import redact
from ..wording import counted
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
        print(f"listed {counted(len(items), 'number')} in WhatsApp Business Account {waba_id}", file=err, flush=True)
    found: list[Found] = []
    if not listed:
        return found
    config = client.config
    reader = LiveReader(client, target=redact(config.graph_api_url), api=f"{config.graph_api_url}/{config.api_version}")
    progress = Progress(err, len(listed), label="reading storage")
    progress.start()
    try:
        reads = reader.read_live([Wanted(node.id, node=node) for _waba_id, node in listed], workers=READ_WORKERS,
                                 advance=progress.advance)
    finally:  # also when a read stops the import: a terminal's counter line needs its newline
        progress.finish()
    for (waba_id, node), read in zip(listed, reads):
        if read.live is not None:
            found.append(Found(node.id, waba_id, read.live))
        elif read.error is not None:
            found.append(Found(node.id, waba_id, error=f"cannot read its storage: {read.error}"))
        else:
            found.append(Found(node.id, waba_id, error="not read: the import stopped before this number"))
    return found
