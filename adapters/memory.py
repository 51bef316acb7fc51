"""An in-memory partner system that plays the service (or lead) partner.

It lets every row of the transition table run end to end, in one process,
without a second host: what the plugin sends is recorded in ``received``, and
tests make the partner act by calling ``accept``, ``decline``, ``submit`` and
so on, which queue changes for the next poll.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from marshmallow import Schema, fields

from outsource_plugin.adapters.base import (
    Capability,
    ChangeBatch,
    ChangeKind,
    DeliveryResult,
    EngagementRef,
    EntryFacts,
    Outbound,
    PartnerAdapter,
    RemoteChange,
    RemoteState,
)
from outsource_plugin.db.models import utcnow
from outsource_plugin.errors import AdapterError
from outsource_plugin.host.entries import EntryKind, to_wire
from outsource_plugin.wire import (
    ActionMessage,
    EntryMessage,
    OfferMessage,
    Origin,
    WireOp,
    digest,
    entry_key,
)
from outsource_plugin.workflow import ACTION_FACTS, Action, Side, Status, permits, target


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
        #: each engagement's status as this partner sees it; tests may overwrite one to make drift
        self.statuses: dict[str, Status] = {}
        #: the entries this partner made itself, per engagement uid and entry key
        self.own_entries: dict[str, dict[str, EntryFacts]] = {}

    def deliver(self, message: Outbound) -> DeliveryResult:
        if self.failures:
            raise self.failures.pop(0)
        if any(m.message_id == message.message_id for m in self.received):
            return DeliveryResult(remote_ref=f"mem-{message.engagement_uid}")
        self.received.append(message)
        body = message.message
        if isinstance(body, OfferMessage):
            self.statuses[message.engagement_uid] = Status.ASSIGNED
            if self.config.get("autopilot"):
                self.accept(message.engagement_uid)
        elif isinstance(body, ActionMessage):
            self._advance(message.engagement_uid, body.action)
        return DeliveryResult(remote_ref=f"mem-{message.engagement_uid}")

    def fetch_changes(self, cursor: str | None, engagements: Sequence[EngagementRef] = ()) -> ChangeBatch:
        start = int(cursor or 0)
        return ChangeBatch(changes=tuple(self.feed[start:]), cursor=str(len(self.feed)))

    def test_connection(self) -> str:
        return "in-memory partner is always reachable"

    def list_entries(self, ref: EngagementRef) -> RemoteState:
        """What this partner holds: the entries it received (replayed in order) and its own."""
        held: dict[str, EntryFacts] = {}
        for message in self.received:
            entry = message.message
            if message.engagement_uid != ref.uid or not isinstance(entry, EntryMessage) or entry.op is WireOp.REFUSED:
                continue  # a refusal is about one of our entries: this partner holds no copy
            owner = str(entry.origin.side.value if entry.origin.side else None)
            deleted = entry.op is WireOp.DELETE
            held[entry.entry_key] = EntryFacts(entry.entry_key, entry.entry_kind.value, owner, entry.digest(), deleted)
        held.update(self.own_entries.get(ref.uid, {}))
        status = self.statuses.get(ref.uid)
        return RemoteState(status=status.value if status else None, entries=tuple(held.values()))

    def add_entry(
        self,
        uid: str,
        kind: EntryKind,
        values: dict[str, Any],
        *,
        side: str = "service",
        seen: int | None = None,
        at: datetime | None = None,
        key: str | None = None,
        user: str = "partner user",
    ) -> RemoteChange:
        """Queue an entry made (or, with ``key``, edited) by the partner's user; it reaches us with the next poll.

        ``seen`` plays a peer's read position of our feed, ``at`` the partner's clock and ``user`` its person.
        """
        key = key or entry_key(Side(side), kind, f"mem-{next(self._ids)}")
        self.own_entries.setdefault(uid, {})[key] = EntryFacts(key, kind.value, side, digest(kind, values))
        origin = Origin(Side(side), "memory", user, (at or utcnow()).isoformat())
        entry = EntryMessage(key, WireOp.UPSERT, kind, to_wire(kind, values), origin, seen=seen)
        change = RemoteChange(
            kind=ChangeKind.ENTRY, engagement_uid=uid, change_id=f"mem-change-{next(self._ids)}", data=entry.to_wire()
        )
        self.feed.append(change)
        return change

    def _advance(self, uid: str, action: Action) -> None:
        """Follow the transition table, as the partner's copy of the engagement would."""
        current, side = self.statuses.get(uid), ACTION_FACTS[action].side
        if current is None or side is None or not permits(current, action, side):
            return
        after = target(current, action, side)
        if after is not None:
            self.statuses[uid] = after

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
        self._advance(uid, action)
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
        self.statuses[uid] = Status.ASSIGNED
        self.feed.append(change)
        return change
