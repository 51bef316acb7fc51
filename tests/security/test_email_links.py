"""The e-mail partner's links and e-mails: forged, altered, expired and replayed links change nothing,
and nothing a ticket or a partner writes can add a header to an e-mail."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select

from examples.helpdesk.models import db
from outsource_plugin.adapters.base import Outbound
from outsource_plugin.adapters.email_messages import Thread, offer_email
from outsource_plugin.blueprints.csrf import SESSION_KEY
from outsource_plugin.db.models import Engagement, EntryLink, MessageKind, OutboxMessage, Partner, utcnow
from outsource_plugin.federation.mail_links import LinkAction, MailLink, app_key, sign_link
from outsource_plugin.state import current_outsource
from outsource_plugin.wire import OfferMessage, message_from_wire
from tests.adapters.email_partner import links
from tests.conftest import Api
from tests.security.helpers import COUNTS

CONFIG = {
    "addresses": ["partner@example.test"],
    "mailbox": "desk@example.test",
    "smtp_host": "127.0.0.1",
    "smtp_port": 9,
    "imap_host": "127.0.0.1",
    "imap_user": "desk",
    "imap_secret": "imap-secret",
}


@pytest.fixture
def offered(app: Flask, api: Api, ticket_id: str) -> tuple[str, MailLink]:
    """An engagement offered to an e-mail partner (not delivered: no mail server needed) and its Accept link."""
    created = api.post("/partners", json={"name": "Cabling Ltd", "adapter": "email", "config": CONFIG})
    assert created.status_code == 201, created.get_json()
    assert api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": created.get_json()["id"]}).status_code == 201
    answer = api.post(f"/tickets/{ticket_id}/outsource/actions", json={"action": "send"})
    assert answer.status_code == 200, answer.get_json()
    uid = answer.get_json()["engagement"]["uid"]
    return uid, MailLink(uid, LinkAction.ACCEPT, utcnow() + timedelta(hours=1))


def url(app: Flask, link: MailLink) -> str:
    return f"/outsource/mail/{sign_link(app_key(app.config), link)}"


def status(app: Flask, uid: str) -> str:
    with app.app_context():
        engagement = db.session.query(Engagement).filter_by(uid=uid).one()
        return engagement.status.value


def submit(client: FlaskClient, path: str, **form: str) -> Any:
    page = client.get(path)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    data = {"csrf_token": token.group(1) if token else "", **form}
    return page, client.post(path, data=data)


def test_forged_and_altered_links_are_refused(app: Flask, offered: tuple[str, MailLink]):
    uid, link = offered
    good = url(app, link).rsplit("/", 1)[1]
    body, _, signature = good.rpartition(".")
    other = sign_link(app_key({"SECRET_KEY": "another host's key"}), link)
    forgeries = {
        "no signature": body,
        "a wrong signature": f"{body}.{signature[:-2]}AA",
        "another key's signature": other,
        "the decline action under accept's signature": good.replace(".accept.", ".decline."),
        "a later expiry": re.sub(r"\.(\d+)\.", lambda m: f".{int(m.group(1)) + 3600}.", good),
        "another engagement": good.replace(uid, "0" * 32),
        "junk": "<script>alert(1)</script>",
    }
    client = app.test_client()
    for name, token in forgeries.items():
        page, post = submit(client, f"/outsource/mail/{token}")
        assert page.status_code in (403, 404), (name, page.status_code)
        assert post.status_code in (400, 403, 404), (name, post.status_code)
        assert "<script>alert(1)</script>" not in page.get_data(as_text=True)
    assert status(app, uid) == "assigned"
    COUNTS["email_link_forgeries"] = len(forgeries)


def test_an_expired_link_is_refused(app: Flask, offered: tuple[str, MailLink]):
    uid, _link = offered
    expired = MailLink(uid, LinkAction.ACCEPT, utcnow() - timedelta(seconds=1))
    page, post = submit(app.test_client(), url(app, expired))
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    assert post.status_code in (400, 410)  # without the page, no form token either
    assert status(app, uid) == "assigned"


def test_a_used_link_is_refused_and_so_is_the_other(app: Flask, offered: tuple[str, MailLink]):
    uid, link = offered
    client = app.test_client()
    _page, done = submit(client, url(app, link))
    assert done.status_code == 200 and status(app, uid) == "accepted"
    page, again = submit(client, url(app, link))
    assert page.status_code == 403 and "already used" in page.get_data(as_text=True)
    assert again.status_code in (400, 403)
    decline = url(app, MailLink(uid, LinkAction.DECLINE, link.expires))
    assert client.get(decline).status_code == 403
    with client.session_transaction() as session:  # the form token the first page gave this session
        form_token = session.get(SESSION_KEY)
    declined = client.post(decline, data={"csrf_token": form_token or "", "reason": "changed my mind"})
    assert declined.status_code == 403 and status(app, uid) == "accepted"


def test_an_answer_without_the_pages_form_token_is_refused(app: Flask, offered: tuple[str, MailLink]):
    uid, link = offered
    refused = app.test_client().post(url(app, link), data={"reason": ""})
    assert refused.status_code == 400 and status(app, uid) == "assigned"


def test_a_decline_reason_is_shown_as_text(app: Flask, offered: tuple[str, MailLink]):
    uid, link = offered
    decline = MailLink(uid, LinkAction.DECLINE, link.expires)
    page, missing = submit(app.test_client(), url(app, decline), reason=" ")
    assert missing.status_code == 400
    _page, done = submit(app.test_client(), url(app, decline), reason="<b>busy</b><script>alert(1)</script>")
    assert done.status_code == 200 and status(app, uid) == "declined"
    with app.app_context():
        engagement = db.session.query(Engagement).filter_by(uid=uid).one()
        assert engagement.decline_reason == "<b>busy</b><script>alert(1)</script>"
    assert "<script>" not in page.get_data(as_text=True).split("</form>")[0].split("<form")[-1]


def test_no_header_can_be_injected_through_a_title_or_a_name():
    thread = Thread(
        uid="a" * 32,
        title="Broken\r\nBcc: stranger@example.test",
        org="Northwind\nX-Evil: 1",
        mailbox="desk@example.test",
        recipients=("partner@example.test",),
        secret_key=b"key",
    )
    links = {action: f"https://desk.example/mail/{action.value}" for action in LinkAction}
    email = offer_email(thread, "m1", OfferMessage({"title": thread.title, "number": "T\r\n1"}), links)
    headers = email.as_bytes().split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers and b"\nX-Evil:" not in headers
    assert email["Bcc"] is None and email["X-Evil"] is None
    assert str(email["Subject"]).startswith("Offer: Broken Bcc: stranger@example.test")
    assert "\n" not in str(email["From"])
    COUNTS["email_header_injections"] = 3


def accepted_link(app: Flask, offered: tuple[str, MailLink]) -> tuple[FlaskClient, MailLink]:
    """The offer accepted through its link; the engagement's "Work is done" link."""
    uid, link = offered
    client = app.test_client()
    _page, done = submit(client, url(app, link))
    assert done.status_code == 200 and status(app, uid) == "accepted"
    return client, MailLink(uid, LinkAction.DONE, utcnow() + timedelta(days=1))


def test_a_forged_work_is_done_link_is_refused(app: Flask, offered: tuple[str, MailLink]):
    client, done = accepted_link(app, offered)
    good = url(app, done)
    body, _, signature = good.rpartition(".")
    for forged in (f"{body}.{signature[:-2]}AA", good.replace(".done.", ".accept."), body):
        page, post = submit(client, forged)
        assert page.status_code == 403 and post.status_code in (400, 403), forged
    assert status(app, done.engagement_uid) == "accepted"


def test_a_work_is_done_link_submits_once(app: Flask, offered: tuple[str, MailLink]):
    client, done = accepted_link(app, offered)
    page, submitted = submit(client, url(app, done))
    assert page.status_code == 200 and "Work is done" in page.get_data(as_text=True)
    assert submitted.status_code == 200 and status(app, done.engagement_uid) == "waiting_approval"
    again, replayed = submit(client, url(app, done))
    assert again.status_code == 403 and "already used" in again.get_data(as_text=True)
    assert replayed.status_code in (400, 403) and status(app, done.engagement_uid) == "waiting_approval"


def test_an_expired_work_is_done_link_is_refused(app: Flask, offered: tuple[str, MailLink]):
    client, done = accepted_link(app, offered)
    expired = MailLink(done.engagement_uid, LinkAction.DONE, utcnow() - timedelta(seconds=1))
    page, post = submit(client, url(app, expired))
    assert page.status_code == 410 and post.status_code in (400, 410)
    assert status(app, done.engagement_uid) == "accepted"


def logged_times(app: Flask, uid: str) -> list[str]:
    with app.app_context():
        keys = db.session.scalars(select(EntryLink.entry_key).where(EntryLink.engagement_uid == uid)).all()
        return [key for key in keys if ":time:" in key]


def test_a_log_time_link_logs_time_once(app: Flask, offered: tuple[str, MailLink]):
    client, done = accepted_link(app, offered)
    log_time = url(app, MailLink(done.engagement_uid, LinkAction.TIME, done.expires))
    page = client.get(log_time)
    assert page.status_code == 200 and "Log time" in page.get_data(as_text=True)
    form = dict(re.findall(r'name="(csrf_token|entry)" value="([^"]+)"', page.get_data(as_text=True)))
    bad = client.post(log_time, data={**form, "hours": "-1", "note": "x"})
    assert bad.status_code == 400 and not logged_times(app, done.engagement_uid)
    assert client.post(log_time, data={**form, "hours": "1.5", "note": "Cable run"}).status_code == 200
    replayed = client.post(log_time, data={**form, "hours": "1.5", "note": "Cable run"})  # a double click
    assert replayed.status_code == 403 and "already used" in replayed.get_data(as_text=True)
    assert len(logged_times(app, done.engagement_uid)) == 1
    forged = log_time.replace(".time.", ".done.")
    assert client.get(forged).status_code == 403
    expired = MailLink(done.engagement_uid, LinkAction.TIME, utcnow() - timedelta(seconds=1))
    assert client.get(url(app, expired)).status_code == 410
    assert client.get(log_time).status_code == 403
    unused = url(app, MailLink(done.engagement_uid, LinkAction.TIME, done.expires + timedelta(seconds=1)))
    submit(client, url(app, done))
    assert status(app, done.engagement_uid) == "waiting_approval"
    assert client.get(unused).status_code == 403  # the work is submitted: no link logs time now


def rejection_links(app: Flask, uid: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The links of the e-mail that tells the partner about a reject, as the adapter writes it (their paths)."""
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_BASE_URL", "http://desk.example.test")
    with app.app_context():
        [sent] = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.engagement_uid == uid, OutboxMessage.kind == MessageKind.ACTION)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).all()
        state = current_outsource()
        adapter = state.adapter_for(state.session.get(Partner, sent.partner_id))
        typed = message_from_wire(sent.kind, sent.payload)
        email = adapter.compose(Outbound(sent.message_id, uid, uid, typed, sent.seq))
        assert email is not None and str(email["Subject"]).startswith("Not approved yet:")
        return {action: link.removeprefix("http://desk.example.test") for action, link in links(email).items()}


def test_a_work_is_done_link_works_once_even_after_a_reject_and_the_rejection_brings_new_links(
    app: Flask, api: Api, ticket_id: str, offered: tuple[str, MailLink], monkeypatch: pytest.MonkeyPatch
):
    client, done = accepted_link(app, offered)
    _page, submitted = submit(client, url(app, done))
    assert submitted.status_code == 200 and status(app, done.engagement_uid) == "waiting_approval"
    rejected = api.post(f"/tickets/{ticket_id}/outsource/actions", json={"action": "reject", "reason": "Not yet"})
    assert rejected.status_code == 200 and status(app, done.engagement_uid) == "in_progress"
    again = client.get(url(app, done))
    assert again.status_code == 403 and "already used" in again.get_data(as_text=True)
    with client.session_transaction() as session:  # the form token the first page gave this session
        form_token = session.get(SESSION_KEY)
    replayed = client.post(url(app, done), data={"csrf_token": form_token or ""})
    assert replayed.status_code == 403 and "already used" in replayed.get_data(as_text=True)
    as_json = client.get(url(app, done), headers={"Accept": "application/json"})
    assert as_json.status_code == 403 and as_json.get_json()["error"] == "link_refused", as_json.get_json()
    assert status(app, done.engagement_uid) == "in_progress"
    fresh = rejection_links(app, done.engagement_uid, monkeypatch)
    assert set(fresh) == {"done", "time"} and fresh["done"] != url(app, done)
    page, resubmitted = submit(client, fresh["done"])
    assert page.status_code == 200 and resubmitted.status_code == 200
    assert status(app, done.engagement_uid) == "waiting_approval"


def host_links(app: Flask) -> list[str]:
    """The demo host's own navigation, as its layout writes it."""
    with app.test_request_context():
        return [f'href="{url_for("helpdesk.index")}"', "Tickets</a>", "Sign out"]


def test_a_stranger_sees_the_link_pages_without_the_hosts_navigation(app: Flask, offered: tuple[str, MailLink]):
    uid, link = offered
    client = app.test_client()
    page = client.get(url(app, link))
    refused = client.get(url(app, MailLink(uid, LinkAction.DONE, link.expires)))  # the work is not open
    no_token = client.post(url(app, link), data={})
    _page, done = submit(client, url(app, link))
    assert [r.status_code for r in (page, refused, no_token, done)] == [200, 403, 400, 200]
    for shown in (page, refused, no_token, done):
        text = shown.get_data(as_text=True)
        assert not [nav for nav in host_links(app) if nav in text], text
        assert 'class="op-nav"' not in text and "Go back" not in text


def test_the_accept_page_says_the_deadline_as_people_write_it(app: Flask, offered: tuple[str, MailLink]):
    uid, _link = offered
    deadline = datetime(2027, 1, 8, 18, 0, tzinfo=timezone.utc)
    page = app.test_client().get(url(app, MailLink(uid, LinkAction.ACCEPT, deadline)))
    assert page.status_code == 200
    assert "<dt>Answer by</dt><dd>Fri 8 Jan 2027, 18:00 UTC</dd>" in page.get_data(as_text=True)
