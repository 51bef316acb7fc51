"""A host whose notes or attachments have no internal flag must say where the partner's entries go."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from outsource_plugin import EntryKind, EntryMap, Outsourcing, SQLAlchemyHost
from outsource_plugin.errors import ConfigurationError
from tests.outsource_plugin.host.plain_desk import REPLY_FIELDS, Reply, Upload, plain_host


def mount(host: SQLAlchemyHost, db: SQLAlchemy) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", SQLALCHEMY_DATABASE_URI="sqlite://", OUTSOURCE_CREATE_TABLES=False)
    db.init_app(app)
    Outsourcing(app, host=host)
    return app


def test_init_refuses_a_note_map_without_internal_and_no_policy() -> None:
    db = SQLAlchemy()
    with pytest.raises(ConfigurationError) as refused:
        mount(plain_host(db, partner_entries=None), db)
    message = refused.value.message
    assert "note model Reply has no internal field" in message
    assert 'partner_entries="held"' in message
    assert 'partner_entries="public"' in message


def test_an_attachment_map_without_internal_is_refused_too() -> None:
    db = SQLAlchemy()
    host = plain_host(db, partner_entries=None)
    host.entries = {EntryKind.ATTACHMENT: EntryMap(Upload, {"filename": "name"})}
    with pytest.raises(ConfigurationError, match="attachment model Upload has no internal field"):
        mount(host, db)


@pytest.mark.parametrize("policy", ["held", "public"])
def test_a_stated_policy_mounts(policy: str) -> None:
    db = SQLAlchemy()
    app = mount(plain_host(db, partner_entries=policy), db)
    assert app.extensions["outsource"].host.partner_entries == policy


def test_with_internal_mapped_nothing_is_asked() -> None:
    db = SQLAlchemy()
    host = plain_host(db, partner_entries=None)
    host.entries[EntryKind.NOTE] = EntryMap(Reply, {**REPLY_FIELDS, "internal": "hours"})
    app = mount(host, db)
    assert app.extensions["outsource"].host.partner_entries is None


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="partner_entries"):
        plain_host(SQLAlchemy(), partner_entries="hidden")
