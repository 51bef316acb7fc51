"""Structured logs: records name the engagement, message and partner, render as JSON, and
never carry a partner's secret settings."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement, OutboxMessage, Partner, new_id, utcnow
from outsource_plugin.errors import PermanentAdapterError, TransientAdapterError
from outsource_plugin.ops.logs import FIELDS, JsonFormatter
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.core.test_lifecycle import act, sync

SECRET = "s3cret-partner-token-7731"


def test_records_carry_ids_render_as_json_and_hold_no_secret(
    app: Flask, api: Api, ticket_id: str, partner_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    with app.app_context():
        db.session.get(Partner, partner_id).config = {"api_token": SECRET, "password": SECRET}
        db.session.commit()
    assert api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id}).status_code == 201
    uid = act(api, ticket_id, "send")["engagement"]["uid"]
    partner = memory_partner(app, partner_id)
    partner.failures.extend([TransientAdapterError("busy"), PermanentAdapterError("refused")])
    partner.accept(new_id())  # an action for an engagement this host does not know

    caplog.set_level(logging.DEBUG, logger="outsource_plugin")
    sync(app)
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        engagement = db.session.query(Engagement).filter_by(uid=uid).one()
        engagement_id, message_id = engagement.id, db.session.query(OutboxMessage).one().message_id
    sync(app)

    ours = [r for r in caplog.records if r.name.startswith("outsource_plugin")]
    dead = next(r for r in ours if "dead-lettered" in r.getMessage())
    retry = next(r for r in ours if "retry in" in r.getMessage())
    unknown = next(r for r in ours if "unknown engagement" in r.getMessage())
    for record in (retry, dead):
        assert record.outbox_message_id == message_id  # type: ignore[attr-defined]
        assert record.engagement_uid == uid  # type: ignore[attr-defined]
        assert record.engagement_id == engagement_id  # type: ignore[attr-defined]
        assert record.partner_id == partner_id  # type: ignore[attr-defined]
    assert retry.partner == "Contoso"  # type: ignore[attr-defined]
    assert unknown.partner_id == partner_id and unknown.partner == "Contoso"  # type: ignore[attr-defined]

    rendered = json.loads(JsonFormatter().format(dead))
    assert rendered["level"] == "WARNING" and rendered["logger"] == "outsource_plugin.jobs.deliver"
    assert "dead-lettered" in rendered["message"]
    assert {k: rendered[k] for k in FIELDS if k in rendered} == {
        "partner_id": partner_id,
        "engagement_id": engagement_id,
        "engagement_uid": uid,
        "outbox_message_id": message_id,
    }
    for record in caplog.records:
        assert SECRET not in JsonFormatter().format(record)
        assert SECRET not in repr(vars(record))
