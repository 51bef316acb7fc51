"""Which partners the poll job asks this round: a partner whose polls fail is asked at growing waits.

After ``k`` failed polls in a row the next attempt waits ``OUTSOURCE_POLL_INTERVAL * 2**k``
seconds, at most ``OUTSOURCE_POLL_BACKOFF_MAX``; the first good poll ends the backoff. The
waits carry no jitter: one partner's rounds are what they space, and the rounds of several
workers are already spread. The count and the due time are in the partner's row, so every
worker and web process agrees on them and a restarted worker does not start hammering again.

Only the scheduled job backs off: a poll run by hand (``poll_all``, ``run_once``) asks every
partner at once, and its success ends the backoff as any other does; a peer that pushes us a
message ahead of one we miss is up, and is asked at the next round (``ask_next_round``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from outsource_plugin.db.models import Partner
from outsource_plugin.state import OutsourceState


def poll_wait(failures: int, interval: float, cap: float) -> float:
    """Seconds from a failed attempt to the next, after ``failures`` failures in a row."""
    return min(cap, interval * 2.0**failures)


def due_partners(state: OutsourceState, now: datetime) -> list[Partner]:
    """The active partners to poll in a round starting at ``now``.

    The rounds come every poll interval, a little late or early each: a due time within half an
    interval counts as due, so a wait of two intervals is two rounds, not sometimes three. No wait
    is longer than the cap: a due time further off was set by a clock that was ahead, and is due.
    """
    slack = timedelta(seconds=float(state.config["OUTSOURCE_POLL_INTERVAL"]) / 2)
    cap = timedelta(seconds=float(state.config["OUTSOURCE_POLL_BACKOFF_MAX"]))
    due = or_(Partner.poll_due_at.is_(None), Partner.poll_due_at <= now + slack, Partner.poll_due_at > now + cap)
    query = select(Partner).where(Partner.active.is_(True), due).order_by(Partner.id)
    return list(state.session.scalars(query).all())


def back_off(state: OutsourceState, partner: Partner, attempted_at: datetime) -> None:
    """Count a failed poll and set when the job tries the partner next; the caller commits."""
    partner.poll_failures = (partner.poll_failures or 0) + 1
    wait = poll_wait(
        partner.poll_failures,
        float(state.config["OUTSOURCE_POLL_INTERVAL"]),
        float(state.config["OUTSOURCE_POLL_BACKOFF_MAX"]),
    )
    partner.poll_due_at = attempted_at + timedelta(seconds=wait)


def end_backoff(partner: Partner) -> None:
    """A good poll: the partner is asked at every round again; the caller commits."""
    partner.poll_failures = 0
    partner.poll_due_at = None


def ask_next_round(partner: Partner) -> None:
    """The partner showed it is up (it pushed to us): the poll job asks it at its next round, and
    a new failure still waits by the failures counted so far; the caller commits."""
    partner.poll_due_at = None
