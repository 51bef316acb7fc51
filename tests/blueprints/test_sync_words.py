"""How long ago, as the blue bar's sync line says it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from outsource_plugin.blueprints.sync_words import ago

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
