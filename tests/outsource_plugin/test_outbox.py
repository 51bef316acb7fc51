"""Outbox leases: a live lease is respected, an expired one is taken over and logged as such."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import db
from outsource_plugin.models import Engagement, MessageKind, OutboxMessage, Partner, utcnow
from outsource_plugin.outbox import claim, enqueue, release
from outsource_plugin.workflow import Side, Status

LEASE = timedelta(seconds=30)


def queue_two(app: Flask, partner_id: int) -> None:
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        engagement = Engagement(uid="e" * 32, role=Side.LEAD, ticket_id="1", partner=partner, status=Status.ASSIGNED)
        db.session.add(engagement)
        db.session.flush()
        for n in range(2):
            enqueue(db.session, engagement, MessageKind.ENTRY, {"n": n})
        db.session.commit()


def test_expired_lease_is_taken_over_and_logged(app: Flask, partner_id: int, caplog: pytest.LogCaptureFixture):
    queue_two(app, partner_id)
    start = utcnow()
    with app.app_context(), caplog.at_level(logging.WARNING, logger="outsource_plugin.outbox"):
        first = claim(db.session, "worker-a", limit=10, lease=LEASE, now=start)
        assert len(first) == 2
        assert claim(db.session, "worker-b", limit=10, lease=LEASE, now=start + timedelta(seconds=5)) == []
        assert caplog.records == []
        taken = claim(db.session, "worker-b", limit=10, lease=LEASE, now=start + LEASE + timedelta(seconds=1))
        owners = set(db.session.scalars(select(OutboxMessage.claimed_by)))
    assert taken == first and owners == {"worker-b"}
    [record] = caplog.records
    assert "worker-b took over the expired lease of 2 outbox message(s) from worker worker-a" in record.getMessage()
    assert record.outbox_message_ids == first


def test_a_released_lease_is_not_a_takeover(app: Flask, partner_id: int, caplog: pytest.LogCaptureFixture):
    queue_two(app, partner_id)
    with app.app_context(), caplog.at_level(logging.WARNING, logger="outsource_plugin.outbox"):
        ids = claim(db.session, "worker-a", limit=10, lease=LEASE)
        for message in db.session.scalars(select(OutboxMessage)):
            release(message)
        db.session.commit()
        assert claim(db.session, "worker-b", limit=10, lease=LEASE) == ids
    assert caplog.records == []
