"""Reading our feed for a partner, held open until a change comes when the partner asks (a long poll).

Why: a partner that cannot receive our pushes (behind a firewall, a proxy
that drops them) would otherwise learn of a change only at its next poll,
half an interval late on average. Held, its poll answers as the change commits.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from outsource_plugin.db.models import OutboxMessage
from outsource_plugin.state import OutsourceState


def feed_after(state: OutsourceState, partner_id: int, after: int, limit: int) -> list[OutboxMessage]:
    """The partner's feed after its cursor, now."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.partner_id == partner_id, OutboxMessage.seq > after)
        .order_by(OutboxMessage.seq)
        .limit(limit)
    )
    return list(state.session.scalars(query).all())


def held_feed(state: OutsourceState, partner_id: int, after: int, limit: int, wait: float) -> list[OutboxMessage]:
    """The partner's feed after its cursor, waiting up to ``wait`` seconds for a first message.

    Over the process's bound of held requests the answer comes at once, as for a plain poll.
    No transaction stays open while it waits.
    """
    waits = state.feed_waits
    mark = waits.mark(partner_id)
    rows = feed_after(state, partner_id, after, limit)
    if rows or wait <= 0:
        return rows
    with waits.slot() as held:
        if not held:
            return rows
        waits.listen(state.session.get_bind().engine)
        deadline = time.monotonic() + wait
        while not rows and (left := deadline - time.monotonic()) > 0:
            state.session.rollback()
            waits.pause(partner_id, mark, left)
            mark = waits.mark(partner_id)
            rows = feed_after(state, partner_id, after, limit)
    return rows
