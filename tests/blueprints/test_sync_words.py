"""How long ago, as the blue bar's sync line says it, and what it says once a partnership ended."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from outsource_plugin.blueprints.sync_words import SyncLine, ago, sync_line
from outsource_plugin.db.models import Engagement, Partner
from outsource_plugin.ops.health import SyncFigures
from outsource_plugin.workflow import Status

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("elapsed", "said"),
    [
        (timedelta(seconds=-5), "less than a minute ago"),  # a partner's clock a little ahead
        (timedelta(seconds=59), "less than a minute ago"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (timedelta(hours=1), "1 hour ago"),
        (timedelta(hours=47), "47 hours ago"),
        (timedelta(days=2), "2 days ago"),
    ],
)
def test_ago_says_it_in_the_largest_whole_unit(elapsed: timedelta, said: str) -> None:
    assert ago(NOW - elapsed, NOW) == said


def test_an_engagement_whose_partnership_ended_says_it_no_longer_syncs() -> None:
    partner = Partner(name="Contoso Field Services", active=False)
    engagement = Engagement(partner=partner, status=Status.IN_PROGRESS, last_sync_at=NOW - timedelta(minutes=5))
    line = sync_line(engagement, SyncFigures(), NOW)
    assert line == SyncLine("Not syncing: the partnership with Contoso Field Services has ended", problem=True)
    engagement.status = Status.COMPLETE  # its sync was over anyway
    assert sync_line(engagement, SyncFigures(), NOW) == SyncLine("Synced 5 minutes ago")
    engagement.status, partner.active = Status.IN_PROGRESS, True
    assert sync_line(engagement, SyncFigures(), NOW) == SyncLine("Synced 5 minutes ago")
