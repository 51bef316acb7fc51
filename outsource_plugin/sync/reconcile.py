"""Reconciliation: compare both sides of each syncing engagement, and repair what we owe.

Delivery is at-least-once and receivers are idempotent, so drift should not
happen; this finds it when it does (a lost row, a restored backup, a bug):
entries missing on one side, entries whose content differs, statuses that
disagree. Only engagements whose sync is active (Accepted, In Progress) are
compared, and only entries that crossed: what was added during a suspension
window or after Complete never crosses, so it can be neither drift nor
repaired. A repair re-sends one of *our* entries through the outbox (the
partner applies it idempotently, by entry key) and is written to the audit
history; what the partner owns, only the partner's reconciliation can repair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from outsource_plugin.adapters.base import Capability, EngagementRef, EntryFacts, RemoteState
from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.core.engagements import record_event
from outsource_plugin.db.models import Engagement, EntryLink, Partner
from outsource_plugin.errors import AdapterError
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.sync.capture import send_delete, send_values
from outsource_plugin.sync.entry_facts import in_flight_keys, local_facts
from outsource_plugin.workflow import Action, Status

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState

#: the statuses in which entries sync, and so the engagements that are compared
SYNCING = (Status.ACCEPTED, Status.IN_PROGRESS)


class DriftKind(str, Enum):
    MISSING_ON_PARTNER = "missing_on_partner"
    MISSING_HERE = "missing_here"
    DIFFERS = "differs"
    NOT_DELETED_ON_PARTNER = "not_deleted_on_partner"
    STATUS = "status"
    UNREACHABLE = "unreachable"


@dataclass
class Drift:
    """One disagreement; ``repairable`` when this side owns the fix."""

    engagement_uid: str
    kind: DriftKind
    detail: str
    entry_key: str | None = None
    repairable: bool = False
    repaired: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "engagement_uid": self.engagement_uid,
            "kind": self.kind.value,
            "entry_key": self.entry_key,
            "detail": self.detail,
            "repairable": self.repairable,
            "repaired": self.repaired,
        }


@dataclass
class Report:
    checked: int = 0
    drifts: list[Drift] = field(default_factory=list)
    #: engagement uid -> why it was not compared (the partner's adapter cannot list entries)
    not_supported: dict[str, str] = field(default_factory=dict)

    @property
    def unresolved(self) -> list[Drift]:
        return [d for d in self.drifts if not d.repaired]

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "drifts": [d.to_json() for d in self.drifts],
            "repaired": sum(d.repaired for d in self.drifts),
            "not_supported": self.not_supported,
        }


def syncing_engagements(state: OutsourceState, partner: Partner | None = None) -> list[Engagement]:
    """Engagements whose sync is active, with active partners, oldest first."""
    query = (
        select(Engagement)
        .join(Partner, Engagement.partner_id == Partner.id)
        .where(Engagement.status.in_(SYNCING), Partner.active.is_(True))
        .order_by(Engagement.id)
    )
    if partner is not None:
        query = query.where(Engagement.partner_id == partner.id)
    return list(state.session.scalars(query))


def reconcile_and_commit(
    state: OutsourceState,
    engagements: Sequence[Engagement],
    *,
    repair: bool = False,
    progress: Callable[[Sequence[str]], Iterable[str]] = iter,
) -> Report:
    """Compare each engagement with the partner's side; with ``repair``, re-send what we owe.

    It commits, which core functions otherwise leave to their caller: the caller's
    transaction first, then each engagement on its own, so that no transaction is
    held across the call to the partner.
    """
    report = Report()
    uids = [e.uid for e in engagements]
    session = state.session
    session.commit()
    for uid in progress(uids):
        engagement = session.scalars(select(Engagement).where(Engagement.uid == uid)).one()
        report.checked += 1
        if Capability.LIST_ENTRIES not in adapter_class(engagement.partner.adapter).capabilities:
            report.not_supported[uid] = f"the {engagement.partner.adapter} adapter cannot list a partner's entries"
            continue
        adapter = state.adapter_for(engagement.partner)
        ref = EngagementRef(uid=uid, remote_ref=engagement.remote_ref, status=engagement.status.value)
        session.commit()
        try:
            remote = adapter.list_entries(ref)
        except AdapterError as err:
            report.drifts.append(Drift(uid, DriftKind.UNREACHABLE, f"{engagement.partner.name}: {err.message}"))
            continue
        engagement = session.scalars(select(Engagement).where(Engagement.uid == uid)).one()
        drifts = compare(engagement, local_facts(state, engagement), remote, in_flight_keys(state, engagement))
        if repair and engagement.status in SYNCING:
            for drift in drifts:
                if drift.repairable:
                    _repair(state, engagement, drift)
        report.drifts.extend(drifts)
        session.commit()
    return report


def compare(engagement: Engagement, here: Sequence[EntryFacts], there: RemoteState, in_flight: set[str]) -> list[Drift]:
    """What disagrees between our facts and the partner's; entries with a change in flight are skipped."""
    uid = engagement.uid
    drifts: list[Drift] = []
    if there.status != engagement.status.value:
        shown = there.status or "unknown"
        drifts.append(Drift(uid, DriftKind.STATUS, f"{engagement.status.value} here, {shown} at the partner"))
    ours = {f.entry_key: f for f in here}
    theirs = {f.entry_key: f for f in there.entries}
    for key in sorted(set(ours) | set(theirs)):
        if key in in_flight:
            continue
        mine, other = ours.get(key), theirs.get(key)
        sample = mine if mine is not None else theirs[key]
        drift = _entry_drift(mine, other, owned=sample.owner == engagement.role.value)
        if drift is not None:
            kind, detail, repairable = drift
            drifts.append(Drift(uid, kind, f"{sample.kind} {key}: {detail}", key, repairable))
    return drifts


def _present(facts: EntryFacts | None) -> bool:
    return facts is not None and not facts.deleted and facts.digest is not None


def _entry_drift(
    mine: EntryFacts | None, other: EntryFacts | None, *, owned: bool
) -> tuple[DriftKind, str, bool] | None:
    """One entry's drift as (kind, detail, repairable here), or None when both sides agree."""
    if owned and mine is not None and mine.deleted:
        if _present(other):
            return DriftKind.NOT_DELETED_ON_PARTNER, "deleted here, still on the partner's ticket", True
        return None
    if not _present(mine) and not _present(other):
        return None
    if not _present(mine):
        why = "our entry is gone from our ticket" if owned else "the partner's entry is not on our ticket"
        return DriftKind.MISSING_HERE, why, False
    if not _present(other):
        deleted = other is not None and other.deleted
        why = "the partner deleted its copy" if deleted else "not on the partner's ticket"
        return DriftKind.MISSING_ON_PARTNER, why, owned and not deleted
    if mine is not None and other is not None and mine.digest != other.digest:
        return DriftKind.DIFFERS, "the two copies differ", owned
    return None


def _repair(state: OutsourceState, engagement: Engagement, drift: Drift) -> None:
    """Re-send our entry (or its deletion) through the outbox, and record it in the audit history."""
    link = state.session.scalars(
        select(EntryLink).where(EntryLink.engagement_uid == engagement.uid, EntryLink.entry_key == drift.entry_key)
    ).one()
    if drift.kind is DriftKind.NOT_DELETED_ON_PARTNER:
        send_delete(state, engagement, link)
    else:
        kind = EntryKind(link.kind)
        values = dict(state.host.list_entries(kind, engagement.ticket_id or "")).get(link.local_id or "")
        if values is None:
            return
        send_values(state, engagement, link, kind, values)
        if not link.sent:
            return
    drift.repaired = True
    record_event(state.session, engagement, "reconciliation", Action.REPAIR, f"re-sent {drift.detail}")
