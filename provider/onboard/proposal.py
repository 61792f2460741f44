"""Which listed numbers may be adopted as they are, and how declared ones differ. Pure: no I/O.

A number is proposed only when the entry written for it (its live region) makes the first
`pulumi up` adopt it with zero mutating calls; every other number is left out with the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .. import assessment
from ..assessment import Context
from ..compliance import verdict
from ..inputs import from_stack_entry
from ..models import LiveNumber, StorageStatus, id_order
from ..errors import InvalidRegion
from ..regions import describe, normalize_region
from ..stackfile import without_secrets

COEXISTENCE_NOTE = ("shared with the WhatsApp Business app: adopted as it is; it can never be cut over "
                    "(Meta does not let it be deregistered through the API), so it needs no PIN")


@dataclass(frozen=True)
class Found:
    """One number listed in a business account, with its storage, or the error reading it."""

    number_id: str
    waba_id: str
    live: LiveNumber | None = None
    error: str | None = None

    @property
    def never_cut_over(self) -> bool:
        """Shared with the WhatsApp Business app (coexistence): Meta refuses to deregister it, so no
        plan for it ever registers, and a PIN would never be used."""
        return self.live is not None and self.live.node.is_on_biz_app

    @property
    def label(self) -> str:
        """``ID  +1 555-0100  Acme Support``: how a person recognises the number."""
        if self.live is None:
            return self.number_id
        node = self.live.node
        return "  ".join(bit for bit in (self.number_id, node.display_phone_number, node.verified_name) if bit)


@dataclass(frozen=True)
class Proposal:
    """An entry to add: the number exactly as it is, so adopting it makes no call."""

    found: Found
    entry: dict[str, str]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotAdded:
    """A number that is not added: left out (with reasons), declared already, or unreadable."""

    found: Found
    reasons: tuple[str, ...] = ()


@dataclass
class Proposed:
    proposals: list[Proposal] = field(default_factory=list)
    left_out: list[NotAdded] = field(default_factory=list)
    declared: list[NotAdded] = field(default_factory=list)  # reasons: the differences (none: in sync)
    errors: list[NotAdded] = field(default_factory=list)


def reasons_to_leave_out(live: LiveNumber, allowed: frozenset[str] | None) -> list[str]:
    """Why adopting this number as it is would be wrong; empty when it may be adopted."""
    node, number_id = live.node, live.id
    reasons: list[str] = []
    if not node.verified:
        reasons.append(f"not verified (code_verification_status {node.code_verification_status or 'unknown'}): "
                       f"run `python -m provider verify --phone-number-id {number_id}` first")
    if not live.registered:
        reasons.append(f"not registered (platform_type {node.platform_type or 'unknown'}): `pulumi up` registers "
                       "every declared number, so adopting it would register it; declare it by hand when you "
                       "mean to bring it online")
    if live.storage_status is StorageStatus.NO_STORAGE_ENABLED:
        reasons.append("No Storage (NO_STORAGE_ENABLED): this provider does not manage it")
    elif live.region is None:
        reasons.append(f"unknown storage ({live.storage_status.value}"
                       f"{', no region' if live.storage_status.managed else ''}): this provider does not manage it")
    else:
        try:
            normalize_region(live.region)
        except InvalidRegion:
            reasons.append(f"its region {live.region} is not one this provider knows (`python -m provider regions`)")
        else:
            if (violation := verdict(allowed, live.region)) is not None:
                reasons.append(violation.message("its live storage") + "; the stack program refuses such an "
                               "entry, so move the number's data in WhatsApp Manager or widen the policy, then "
                               "import again")
    return reasons


def entry_for(found: Found, live: LiveNumber, region: str) -> dict[str, str]:
    """``region`` = the live region, ``name`` = the verified name (when Meta has one), ``wabaId``."""
    entry = {"region": region}
    if live.node.verified_name:
        entry["name"] = live.node.verified_name
    entry["wabaId"] = found.waba_id
    return entry


def differences(found: Found, live: LiveNumber, declared: Any, context: Context) -> list[str]:
    """How a declared entry and its live number differ, and what `pulumi up` would do about it
    (the assessment's plan, as the provider makes it)."""
    declaration, failures = from_stack_entry(found.number_id, without_secrets(declared), today=context.now.date())
    if declaration is None:
        return ["invalid declaration: " + "; ".join(map(str, failures))]
    diffs: list[str] = []
    if declaration.waba_id and declaration.waba_id != found.waba_id:
        diffs.append(f"wabaId: declared {declaration.waba_id}, listed in {found.waba_id}")
    live_storage = describe(live.region) if live.region is not None else live.storage_status.value
    if live.region != declaration.region:
        diffs.append(f"region: declared {describe(declaration.region)}, live {live_storage}")
    if not live.registered:
        diffs.append("live: not registered, so `pulumi up` would register it")
    plan = assessment.assess(declaration, live, context).plan
    if plan is not None and not plan.in_sync:
        diffs.append("`pulumi up` would call: " + " -> ".join(map(str, plan.calls))
                        + ("; the number goes offline in between" if plan.deregisters else ""))
    return diffs


def propose(found: Iterable[Found], declared: Mapping[str, Any], *, context: Context) -> Proposed:
    """Sort every listed number into: add, leave out, declared already, or could not read.
    ``context``: the policy (``allowed_regions``), the flow and the day the declared ones are assessed on."""
    result = Proposed()
    seen: set[str] = set()
    for item in sorted(found, key=lambda item: id_order(item.number_id)):
        if item.number_id in seen:
            continue
        seen.add(item.number_id)
        live = item.live
        if live is None:
            result.errors.append(NotAdded(item, (item.error or "not read",)))
        elif item.number_id in declared:
            diff = differences(item, live, declared[item.number_id], context)
            result.declared.append(NotAdded(item, tuple(diff)))
        elif (reasons := reasons_to_leave_out(live, context.allowed_regions)) or live.region is None:
            result.left_out.append(NotAdded(item, tuple(reasons)))
        else:
            notes = (COEXISTENCE_NOTE,) if item.never_cut_over else ()
            result.proposals.append(Proposal(item, entry_for(item, live, live.region), notes))
    return result
