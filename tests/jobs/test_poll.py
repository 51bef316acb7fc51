"""The poll job under OUTSOURCE_POLL_HOLD: held rounds back to back, until the partners stop holding."""

from __future__ import annotations

from flask import Flask

from outsource_plugin.jobs.poll import follow_feeds
from outsource_plugin.state import current_outsource
from tests.conftest import memory_partner


def test_held_polls_give_way_to_the_interval_when_no_partner_holds(app: Flask, partner_id: int) -> None:
    """The memory partner answers at once and cannot hold: one round, then the next interval."""
    partner = memory_partner(app, partner_id)
    assert not partner.holds_feed
    with app.app_context():
        assert follow_feeds(current_outsource()) == 0
