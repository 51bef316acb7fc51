"""Sync health: how far behind each partnership (and each engagement) is.

Every figure comes from a few aggregate queries, never a loop over rows, so
it stays cheap with 100,000 engagements and a long outbox history:

- per partner: last successful poll, last successful delivery, outbox depth
  (pending messages), dead letters, and the lag;
- per engagement: the same for its own messages.

The *lag* is the longer of two waits: the age of the oldest message still
pending (what we owe the partner) and, for an active partner, the time since
its change feed was last read successfully (what the partner may have said
that we have not seen). A partner that was never polled counts from when it
was added. A partner is unhealthy when its lag exceeds its bound:
``OUTSOURCE_PARTNER_MAX_LAG[name]`` or else ``OUTSOURCE_MAX_LAG``. Dead
letters are reported but do not make a partner unhealthy: they wait for a
person, and retrying them is a decision, not an outage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from outsource_plugin.db.models import Engagement, MessageState, OutboxMessage, Partner, utcnow
from outsource_plugin.state import OutsourceState

log = logging.getLogger(__name__)

#: the name of the check that the database answers
DATABASE_CHECK = "database"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _age(since: datetime | None, now: datetime) -> float | None:
    return max(0.0, (now - since).total_seconds()) if since else None


@dataclass
class SyncFigures:
    """The figures shared by a partner and an engagement."""

    last_poll_at: datetime | None = None
    last_delivery_at: datetime | None = None
    pending: int = 0
    dead_letters: int = 0
    oldest_pending_at: datetime | None = None
    #: seconds the oldest pending message has waited
    outbox_lag: float | None = None
    #: seconds since the last successful poll (or since the partner was added)
    poll_lag: float | None = None

    @property
    def lag(self) -> float:
        """The longer wait of the two, in seconds; 0 when nothing waits."""
        return max(self.outbox_lag or 0.0, self.poll_lag or 0.0)

    def as_json(self) -> dict[str, Any]:
        return {
            "last_poll_at": _iso(self.last_poll_at),
            "last_delivery_at": _iso(self.last_delivery_at),
            "pending": self.pending,
            "dead_letters": self.dead_letters,
            "oldest_pending_at": _iso(self.oldest_pending_at),
            "outbox_lag_seconds": self.outbox_lag,
            "poll_lag_seconds": self.poll_lag,
            "lag_seconds": self.lag,
        }


@dataclass
class PartnerHealth(SyncFigures):
    partner_id: int = 0
    name: str = ""
    active: bool = True
    last_poll_error: str | None = None
    max_lag: float = 0.0
    #: failed polls in a row, and when the poll job asks the partner next while it backs off
    poll_failures: int = 0
    next_poll_at: datetime | None = None

    @property
    def check(self) -> str:
        """The check's name: the partner's id, so anonymous monitoring does not learn partner names."""
        return f"partner_lag:{self.partner_id}"

    @property
    def healthy(self) -> bool:
        return self.lag <= self.max_lag

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.partner_id,
            "name": self.name,
            "active": self.active,
            "healthy": self.healthy,
            "max_lag_seconds": self.max_lag,
            "last_poll_error": self.last_poll_error,
            "poll_failures": self.poll_failures,
            "next_poll_at": _iso(self.next_poll_at),
            **super().as_json(),
        }


@dataclass
class HealthReport:
    """The overall verdict, the names of the failing checks, and the per-partner figures."""

    database: bool
    partners: list[PartnerHealth] = field(default_factory=list)

    @property
    def failing(self) -> list[str]:
        checks = [] if self.database else [DATABASE_CHECK]
        return checks + [p.check for p in self.partners if not p.healthy]

    @property
    def healthy(self) -> bool:
        return not self.failing

    def summary(self) -> dict[str, Any]:
        return {"status": "ok" if self.healthy else "unhealthy", "failing": self.failing}

    def as_json(self) -> dict[str, Any]:
        return {**self.summary(), "partners": [p.as_json() for p in self.partners]}


def max_lag_for(config: dict[str, Any], partner_name: str) -> float:
    """The partner's lag bound in seconds: its own entry, else the default."""
    per_partner = config.get("OUTSOURCE_PARTNER_MAX_LAG") or {}
    return float(per_partner.get(partner_name, config["OUTSOURCE_MAX_LAG"]))


def _outbox_by_state(session: Session, *where: Any) -> list[Any]:
    """Count, oldest creation and newest delivery per (partner, state): one grouped query."""
    query = (
        select(
            OutboxMessage.partner_id,
            OutboxMessage.state,
            func.count(),
            func.min(OutboxMessage.created_at),
            func.max(OutboxMessage.delivered_at),
        )
        .where(*where)
        .group_by(OutboxMessage.partner_id, OutboxMessage.state)
    )
    return list(session.execute(query))


def _fold(figures: SyncFigures, rows: list[Any], now: datetime) -> None:
    for _partner_id, state, count, oldest, newest_delivery in rows:
        if state is MessageState.PENDING:
            figures.pending += count
            figures.oldest_pending_at = oldest
        elif state is MessageState.DEAD:
            figures.dead_letters += count
        elif newest_delivery is not None:
            figures.last_delivery_at = newest_delivery
    figures.outbox_lag = _age(figures.oldest_pending_at, now)


def partner_health(state: OutsourceState, *, now: datetime | None = None) -> list[PartnerHealth]:
    """Every partner's figures, in id order, from two queries."""
    now = now or utcnow()
    session = state.session
    rows: dict[int, list[Any]] = {}
    for row in _outbox_by_state(session):
        rows.setdefault(row[0], []).append(row)
    result = []
    for partner in session.scalars(select(Partner).order_by(Partner.id)):
        health = PartnerHealth(
            partner_id=partner.id,
            name=partner.name,
            active=partner.active,
            last_poll_at=partner.last_poll_at,
            last_poll_error=partner.last_poll_error,
            poll_failures=partner.poll_failures or 0,
            next_poll_at=partner.poll_due_at,
            max_lag=max_lag_for(state.config, partner.name),
        )
        _fold(health, rows.get(partner.id, []), now)
        if partner.active:
            health.poll_lag = _age(partner.last_poll_at or partner.created_at, now)
        result.append(health)
    return result


def engagement_health(state: OutsourceState, engagement: Engagement, *, now: datetime | None = None) -> SyncFigures:
    """One engagement's figures: its messages (one grouped query) and its partner's last poll.

    The last delivery is the newest delivered message, not ``last_sync_at``,
    which a change arriving from the partner also moves.
    """
    now = now or utcnow()
    figures = SyncFigures(last_poll_at=engagement.partner.last_poll_at)
    _fold(figures, _outbox_by_state(state.session, OutboxMessage.engagement_uid == engagement.uid), now)
    if engagement.partner.active:
        figures.poll_lag = _age(engagement.partner.last_poll_at or engagement.partner.created_at, now)
    return figures


def check_health(state: OutsourceState, *, now: datetime | None = None) -> HealthReport:
    """Each partner's lag against its bound; ``database`` fails when the plugin's tables do not answer.

    The database check is the figures' own queries rather than ``SELECT 1``,
    which SQLite answers without opening the file at all.
    """
    try:
        partners = partner_health(state, now=now)
    except SQLAlchemyError as err:
        state.session.rollback()
        # the error's class only: its text can quote connection details
        log.warning("health check: the database did not answer (%s)", type(err).__name__)
        return HealthReport(database=False)
    return HealthReport(database=True, partners=partners)
