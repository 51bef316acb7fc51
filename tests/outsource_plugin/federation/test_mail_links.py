"""Links and reply tokens of the e-mail partner: made and read under the app's key, and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from outsource_plugin.errors import ConfigurationError, MailLinkRefused
from outsource_plugin.federation.mail_links import LinkAction, MailLink, app_key, read_link, reply_token, sign_link

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
KEY = b"the app's secret key"


def test_a_signed_link_reads_back_until_it_expires():
    link = MailLink("a" * 32, LinkAction.DECLINE, NOW + timedelta(hours=2))
    token = sign_link(KEY, link)
    assert read_link(KEY, token, NOW) == link
    with pytest.raises(MailLinkRefused) as expired:
        read_link(KEY, token, NOW + timedelta(hours=2))
    assert expired.value.status_code == 410
    with pytest.raises(MailLinkRefused) as forged:
        read_link(b"another key", token, NOW)
    assert forged.value.status_code == 403


def test_reply_tokens_are_stable_per_engagement_and_key():
    token = reply_token(KEY, "a" * 32)
    assert token == reply_token(KEY, "a" * 32) and len(token) == 24 and token.isalnum() and token.islower()
    assert token != reply_token(KEY, "b" * 32)
    assert token != reply_token(b"another key", "a" * 32)


def test_the_key_is_the_apps_secret_key():
    assert app_key({"SECRET_KEY": "s"}) == b"s" == app_key({"SECRET_KEY": b"s"})
    with pytest.raises(ConfigurationError):
        app_key({"SECRET_KEY": None})
