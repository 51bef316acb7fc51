"""A demo help desk with e-mail on, sending through an in-process SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from examples.helpdesk.models import db
from tests.conftest import Api, make_app, reset_data
from tests.outsource_plugin.notify.smtp_server import SmtpServer, serving

BASE_URL = "https://help.northwind.test"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    yield from serving()


@pytest.fixture(scope="module")
def mail_app_once(database_url: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Flask]:
    app = make_app(
        database_url,
        tmp_path_factory.mktemp("mail-instance"),
        OUTSOURCE_MAIL_ENABLED=True,
        OUTSOURCE_MAIL_SERVER="127.0.0.1",
        OUTSOURCE_MAIL_PORT=smtp.port,
        OUTSOURCE_MAIL_FROM="outsourcing@northwind.test",
        OUTSOURCE_MAIL_TIMEOUT=5.0,
        OUTSOURCE_BASE_URL=BASE_URL,
    )
    yield app
    with app.app_context():
        db.session.remove()


@pytest.fixture
def mail_app(mail_app_once: Flask, smtp: SmtpServer) -> Flask:
    reset_data(mail_app_once)
    smtp.stop()
    smtp.inbox.received.clear()
    smtp.start()
    return mail_app_once


@pytest.fixture
def mail_api(mail_app: Flask) -> Api:
    return Api(mail_app.test_client())
