"""Typed views of what the Graph API returns about a phone number, parsed case-insensitively."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from .regions import DEFAULT


def id_order(number_id: str) -> tuple[int, str]:
    """How phone number (and business account) IDs are listed everywhere: numerically, without
    ``int()`` (an ID is digits of any length; shorter first, then by text)."""
    return (len(number_id), number_id)


class StorageStatus(str, Enum):
    """Where a number keeps message content at rest, as this project reports it."""

    IN_COUNTRY_STORAGE_ENABLED = "IN_COUNTRY_STORAGE_ENABLED"
    DEFAULT = "DEFAULT"
    NO_STORAGE_ENABLED = "NO_STORAGE_ENABLED"
    UNKNOWN = "UNKNOWN"

    @property
    def managed(self) -> bool:
        """Only default and in-country storage are managed; No Storage and unknown states are left alone."""
        return self in (StorageStatus.IN_COUNTRY_STORAGE_ENABLED, StorageStatus.DEFAULT)


_STATUS_ALIASES = {
    "IN_COUNTRY_STORAGE_ENABLED": StorageStatus.IN_COUNTRY_STORAGE_ENABLED,
    "IN_COUNTRY_STORAGE_DISABLED": StorageStatus.DEFAULT,
    "DEFAULT": StorageStatus.DEFAULT,
    "NO_STORAGE_ENABLED": StorageStatus.NO_STORAGE_ENABLED,
}


class StorageConfiguration(BaseModel):
    """The ``storage_configuration`` settings object. A missing object means Meta's default storage."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: StorageStatus = StorageStatus.DEFAULT
    data_localization_region: str | None = None
    retention_minutes: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _enabled_without_region(cls, data: Any) -> Any:
        """In-country storage that names no region is not a state this provider knows (UNKNOWN):
        it cannot tell whether the number already has the declared region, nor restore it after a
        failed settings call, so it must not plan a cutover from it."""
        if (isinstance(data, dict)
                and str(data.get("status") or "").strip().upper() == StorageStatus.IN_COUNTRY_STORAGE_ENABLED.value
                and not str(data.get("data_localization_region") or "").strip()):
            return {**data, "status": StorageStatus.UNKNOWN.value}
        return data

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> StorageStatus:
        if value is None:
            return StorageStatus.DEFAULT
        return _STATUS_ALIASES.get(str(value).strip().upper(), StorageStatus.UNKNOWN)

    @field_validator("data_localization_region", mode="before")
    @classmethod
    def _region(cls, value: Any) -> str | None:
        return str(value).strip().upper() or None if value is not None else None

    @property
    def region(self) -> str | None:
        """A region code, DEFAULT, or None for storage this provider does not manage."""
        if self.status is StorageStatus.DEFAULT:
            return DEFAULT
        if self.status is StorageStatus.IN_COUNTRY_STORAGE_ENABLED and self.data_localization_region:
            return self.data_localization_region
        return None

    @classmethod
    def from_settings(cls, settings: Any) -> "StorageConfiguration":
        raw = settings.get("storage_configuration") if isinstance(settings, dict) else None
        return cls.model_validate(raw) if isinstance(raw, dict) else cls()


NODE_FIELDS = (
    "id",
    "display_phone_number",
    "verified_name",
    "code_verification_status",
    "status",
    "platform_type",
    "is_on_biz_app",
    "is_pin_enabled",
)
# Fields no safety decision reads: when Meta rejects one as nonexisting, the client reads on
# without it. platform_type (registered?), code_verification_status (can it register?) and
# is_on_biz_app (coexistence: never deregister) are required.
OPTIONAL_NODE_FIELDS = frozenset({"is_pin_enabled", "verified_name", "display_phone_number", "status"})


class PhoneNumberNode(BaseModel):
    """The phone number node (``GET /{id}?fields=...``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    display_phone_number: str | None = None
    verified_name: str | None = None
    code_verification_status: str | None = None
    status: str | None = None
    platform_type: str | None = None
    is_on_biz_app: bool = False
    is_pin_enabled: bool | None = None

    @field_validator("code_verification_status", "status", "platform_type", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> str | None:
        return str(value).strip().upper() if value is not None else None

    @property
    def registered(self) -> bool:
        """Registered with Cloud API. ``status`` is only a secondary signal, so it is not used."""
        return self.platform_type == "CLOUD_API"

    @property
    def verified(self) -> bool:
        return self.code_verification_status == "VERIFIED"


class LiveNumber(BaseModel):
    """A number as read now: its node and its storage, from one concurrent pair of reads."""

    model_config = ConfigDict(frozen=True)

    node: PhoneNumberNode
    storage: StorageConfiguration

    @property
    def id(self) -> str:
        return self.node.id

    @property
    def registered(self) -> bool:
        return self.node.registered

    @property
    def region(self) -> str | None:
        return self.storage.region

    @property
    def storage_status(self) -> StorageStatus:
        return self.storage.status
