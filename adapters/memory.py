"""An in-memory partner system that plays the service (or lead) partner.

It lets every row of the transition table run end to end, in one process,
without a second host: what the plugin sends is recorded in ``received``, and
tests make the partner act by calling ``accept``, ``decline``, ``submit`` and
so on, which queue changes for the next poll.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

from marshmallow import Schema, fields

from outsource_plugin.adapters.base import (
    Capability,
    ChangeBatch,
    ChangeKind,
    DeliveryResult,
    EngagementRef,
    Outbound,
    PartnerAdapter,
    RemoteChange,
)
from outsource_plugin.errors import AdapterError
from outsource_plugin.workflow import Action


class MemoryConfig(Schema):
    #: accept every offer as soon as it is delivered, so a one-host demo can run the whole workflow
    autopilot = fields.Boolean(load_default=False)


class MemoryAdapter(PartnerAdapter):
    name = "memory"
    label = "In-memory partner (tests and demos)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    config_schema = MemoryConfig

    def __init__(self, partner_id: int, config: Any, *, timeout: float = 10.0) -> None:
        super().__init__(partner_id, config, timeout=timeout)
        self.received: list[Outbound] = []
        self.feed: list[RemoteChange] = []
        self.failures: list[AdapterError] = []
        self._numbers = itertools.count(1001)
        self._ids = itertools.count(1)

    def deliver(self, message: Outbound) -> DeliveryResult:
        if self.failures:
            raise self.failures.pop(0)
        if any(m.message_id == message.message_id for m in self.received):
            return DeliveryResult(remote_ref=f"mem-{message.engagement_uid}")
        self.received.append(message)
        if message.kind == "offer" and self.config.get("autopilot"):
            self.accept(message.engagement_uid)
        return DeliveryResult(remote_ref=f"mem-{message.engagement_uid}")

    def fetch_changes(self, cursor: str | None, engagements: Sequence[EngagementRef] = ()) -> ChangeBatch:
        start = int(cursor or 0)
        return ChangeBatch(changes=tuple(self.feed[start:]), cursor=str(len(self.feed)))

    def test_connection(self) -> str:
        return "in-memory partner is always reachable"

    def act(self, uid: str, action: Action, reason: str | None = None, **kw: Any) -> RemoteChange:
        """Queue an outsource action by the partner, as if its user had clicked it."""
        change = RemoteChange(
            kind=ChangeKind.ACTION,
            engagement_uid=uid,
            change_id=f"mem-change-{next(self._ids)}",
            action=action,
            reason=reason,
            actor=kw.pop("actor", "partner user"),
            ticket_number=kw.pop("ticket_number", None),
            data=kw,
        )
        self.feed.append(change)
        return change

    def accept(self, uid: str) -> RemoteChange:
        return self.act(uid, Action.ACCEPT, ticket_number=f"MEM-{next(self._numbers)}")

    def offer(self, uid: str, offer: dict[str, Any], terms: dict[str, Any]) -> RemoteChange:
        """Queue a ticket offered to us, as a lead partner would send it."""
        change = RemoteChange(
            kind=ChangeKind.OFFER,
            engagement_uid=uid,
            change_id=f"mem-change-{next(self._ids)}",
            ticket_number=offer.get("number"),
            data={"offer": offer, "terms": terms},
        )
        self.feed.append(change)
        return change
