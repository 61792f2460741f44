"""The stack's compliance policy: where its numbers may keep message content at rest.

``whatsapp-local-storage:allowedRegions`` is an optional list of region codes (``DEFAULT``, Meta's
default storage, is allowed only when listed). One parser serves the stack program, the
provider's ``check`` (the engine hands dynamic providers the whole stack config, structured
values as JSON text), and the CLI. Pure: no network, no Pulumi.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import PolicyError as PolicyError  # defined in the error tree; importable from here too
from .regions import InvalidRegion, describe, normalize_region

ALLOWED_REGIONS_KEY = "whatsapp-local-storage:allowedRegions"
SETTING = "allowedRegions"
EXAMPLE = "e.g. allowedRegions: [BR, DE] in the stack file, or pulumi config set --path 'allowedRegions[0]' BR"


def parse_allowed_regions(value: Any) -> frozenset[str] | None:
    """The allowed codes, upper-case, or None when no policy is set (every region allowed).

    Accepts a list, or the JSON text of one (how the engine passes structured config). An empty
    list allows nothing: every declared number then violates the policy, which is what it says.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise PolicyError(f"{SETTING} must be a list of region codes, not the text {value!r} ({EXAMPLE})") from None
    if not isinstance(value, list):
        raise PolicyError(f"{SETTING} must be a list of region codes, not {type(value).__name__} ({EXAMPLE})")
    codes, problems = set(), []
    for index, item in enumerate(value):
        try:
            codes.add(normalize_region(item))
        except InvalidRegion as exc:
            problems.append(f"{SETTING}[{index}]: {exc}")
    if problems:
        raise PolicyError("; ".join(problems))
    return frozenset(codes)


def allowed_regions_from(config: Mapping[str, Any]) -> frozenset[str] | None:
    """The policy from a fully qualified stack config mapping (``whatsapp-local-storage:allowedRegions``)."""
    return parse_allowed_regions(config.get(ALLOWED_REGIONS_KEY))


def allows(allowed: frozenset[str] | None, region: str | None) -> bool:
    """Whether data may rest in ``region`` (None: storage this provider does not manage, never allowed
    by a policy that exists, since nobody declared it)."""
    if allowed is None:
        return True
    return region is not None and region in allowed


@dataclass(frozen=True)
class Violation:
    """The policy's verdict on one region when it is NO: the one place its sentence is written.

    Every caller (the provider's ``check`` and ``diff``, ``safety``'s preflight, the stack program,
    ``import``'s proposal, the CLI's plan/drift/report) renders a violation with ``message`` and
    adds only its own fix: each reader is told the same thing about the same region.
    """

    region: str | None
    allowed: frozenset[str]

    def message(self, subject: str = "storage", setting: str = ALLOWED_REGIONS_KEY) -> str:
        """``storage IN (India) is outside whatsapp-local-storage:allowedRegions (BR, DE): ...``.

        ``setting`` is how the reader spells the key (the stack file says ``allowedRegions``)."""
        where = describe(self.region) if self.region is not None else "unmanaged storage (nobody declared it)"
        listed = ", ".join(sorted(self.allowed)) or "none"
        head = f"{subject} {where}" if subject else where
        return f"{head} is outside {setting} ({listed}): this stack's policy does not let data rest there"


def verdict(allowed: frozenset[str] | None, region: str | None) -> Violation | None:
    """None when the policy lets data rest in ``region``; else the violation, to be rendered."""
    if allowed is None or allows(allowed, region):  # no policy allows everything
        return None
    return Violation(region, allowed)


def outside(regions_by_id: Mapping[str, str | None], allowed: frozenset[str] | None) -> list[str]:
    """IDs, in the given order, whose region the policy does not allow."""
    return [number_id for number_id, region in regions_by_id.items() if not allows(allowed, region)]


def describe_policy(allowed: frozenset[str] | None) -> str:
    if allowed is None:
        return f"no {SETTING}: every region allowed"
    return f"{SETTING}: {', '.join(sorted(allowed)) or 'none'}"
