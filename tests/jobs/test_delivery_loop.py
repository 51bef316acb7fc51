"""The worker's delivery loop: a wake-up runs a round at once, whatever the interval."""

from __future__ import annotations

from flask import Flask

from examples.helpdesk.models import Note, db
from outsource_plugin.jobs.delivery_loop import DeliveryLoop
from outsource_plugin.workflow import Status
from tests.blueprints.api_helpers import add_engagement, add_ticket
from tests.conftest import memory_partner
from tests.polling import eventually


def test_a_woken_loop_delivers_without_waiting_for_its_interval(app: Flask, partner_id: int) -> None:
    ticket = add_ticket(app)
    add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket)
    with app.test_request_context():
        db.session.add(Note(ticket_id=int(ticket), author="Tech", body="Fan replaced"))
        db.session.commit()  # no scheduler in this app: nothing nudges, nothing delivers
    partner = memory_partner(app, partner_id)
    loop = DeliveryLoop(app, interval=3600).start()
    try:
        assert partner.received == []
        loop.wake(partner_id)
        eventually(lambda: len(partner.received) == 1, what="the note delivered")
    finally:
        loop.stop()
