"""The blue bar's sync line for a technician: when the ticket last synced, or what is wrong, in words.

The recorded errors (an engagement's ``last_sync_error``, its partner's ``last_poll_error``, a
dead letter's ``last_error``) are written for operators: they can quote an exception, a partner's
URL and the credentials in it. A technician gets a sentence chosen by where the problem is, never
that text; partner managers see the recorded errors beside the sync figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outsource_plugin.db.models import Engagement
from outsource_plugin.ops.health import SyncFigures
from outsource_plugin.workflow import OPEN_STATUSES, Status


@dataclass(frozen=True)
class SyncLine:
    text: str
    problem: bool = False


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def ago(moment: datetime, now: datetime) -> str:
    """How long ago, as a person says it: a technician wants "2 minutes ago", not a timestamp."""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "less than a minute ago"
    if seconds < 3600:
        return f"{_plural(seconds // 60, 'minute')} ago"
    if seconds < 48 * 3600:
        return f"{_plural(seconds // 3600, 'hour')} ago"
    return f"{_plural(seconds // 86400, 'day')} ago"


def _problems(engagement: Engagement, figures: SyncFigures) -> list[str]:
    partner = engagement.partner.name
    problems = []
    if figures.dead_letters:
        problems.append(f"{_plural(figures.dead_letters, 'change')} could not be sent to {partner}")
    elif engagement.last_sync_error:
        # without a dead letter the error is a change one side refused: it did not arrive
        problems.append(f"a change between this ticket and {partner} did not sync")
    if engagement.partner.last_poll_error:
        problems.append(f"updates from {partner} are not coming through")
    return problems


def sync_line(engagement: Engagement, figures: SyncFigures, now: datetime) -> SyncLine | None:
    """ "Synced 2 minutes ago", "Not synced yet" or "Sync problem: …"; None before anything is sent.

    A partnership that ended (either side disabled it) keeps the engagement as history:
    nothing syncs any more, and that outweighs any older problem."""
    if not engagement.partner.active and engagement.status in OPEN_STATUSES:
        return SyncLine(f"Not syncing: the partnership with {engagement.partner.name} has ended", problem=True)
    problems = _problems(engagement, figures)
    if problems:
        return SyncLine(f"Sync problem: {'; '.join(problems)}. A partner manager can see the details.", problem=True)
    if engagement.last_sync_at is not None:
        return SyncLine(f"Synced {ago(engagement.last_sync_at, now)}")
    if engagement.status is Status.UNSENT:
        return None
    return SyncLine("Not synced yet")
