"""The one base class every partner adapter subclasses, and its value objects.

Adapters speak in neutral, frozen value objects so that the sync engine never
learns a partner system's vocabulary; anything system-specific rides in
``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from marshmallow import Schema

from outsource_plugin.workflow import Action


class Capability(str, Enum):
    """What a partner system can carry; pages and the sync engine read these."""

    NOTES = "notes"
    PRIVATE_NOTES = "private_notes"
    TIME_ENTRIES = "time_entries"
    CHARGES = "charges"
    ATTACHMENTS = "attachments"
    OFFERS_IN = "offers_in"


class ChangeKind(str, Enum):
    OFFER = "offer"
    ACTION = "action"


@dataclass(frozen=True)
class Outbound:
    """One outbox message as an adapter sees it."""

    message_id: str
    kind: str
    engagement_uid: str
    remote_ref: str | None
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class DeliveryResult:
    remote_ref: str | None = None
    remote_ticket_number: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteChange:
    """Something the partner did, in neutral terms.

    ``engagement_uid`` names the engagement the change is about; ``data`` holds
    the offer (for OFFER) and ``action``/``reason`` the outsource action.
    """

    kind: ChangeKind
    engagement_uid: str
    change_id: str
    action: Action | None = None
    reason: str | None = None
    actor: str | None = None
    ticket_number: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeBatch:
    changes: tuple[RemoteChange, ...]
    cursor: str | None


class EmptyConfig(Schema):
    pass


class PartnerAdapter:
    """Base class: subclasses set the class attributes and implement the three calls."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    config_schema: ClassVar[type[Schema]] = EmptyConfig
    #: config keys that are write-only: stored, never returned or logged
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, partner_id: int, config: Mapping[str, Any]) -> None:
        self.partner_id = partner_id
        self.config = dict(config)

    def deliver(self, message: Outbound) -> DeliveryResult:
        """Hand one outbox message to the partner; raise an AdapterError subclass on failure."""
        raise NotImplementedError

    def fetch_changes(self, cursor: str | None) -> ChangeBatch:
        """Everything the partner did since ``cursor``, and the cursor to resume from."""
        raise NotImplementedError

    def test_connection(self) -> str:
        """A one-line description of a successful round trip; raise on failure."""
        raise NotImplementedError
