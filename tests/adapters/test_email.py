"""The e-mail partner on real mail servers: what the lead does arrives in the partner's mailbox, threaded."""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from examples.helpdesk.models import db
from outsource_plugin import signals
from outsource_plugin.core.partners import ConnectionTest, check_connection
from outsource_plugin.db.models import (
    Engagement,
    MessageKind,
    MessageState,
    OutboxMessage,
    Partner,
    UnmatchedMail,
    utcnow,
)
from outsource_plugin.jobs.poll import poll_due
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from tests.adapters.email_partner import EmailPartner, answer, links, text_of
from tests.adapters.lead import Lead
from tests.adapters.servers.mail import MailServers
from tests.conftest import Api
from tests.outsource_plugin.test_signals import recorded
from tests.pages.browser import CHROMIUM, LAUNCH_ARGS, shot

pytestmark = pytest.mark.usefixtures("lead_url")


def email_lead(app: Flask, api: Api, mail_servers: MailServers, **config: object) -> tuple[Lead, EmailPartner]:
    mail_servers.empty("desk")  # the lead reads all of our mailbox: only this test's mail
    partner = EmailPartner(mail_servers)
    return Lead(app, api, partner, config=partner.config(**config)), partner


def connection(app: Flask, partner_id: int) -> ConnectionTest:
    with app.app_context():
        state = current_outsource()
        partner = state.session.get(Partner, partner_id)
        assert partner is not None
        return check_connection(state, partner)


def accept(partner: EmailPartner, uid: str) -> None:
    """The partner clicks Accept in the offer e-mail."""
    [offer] = partner.thread(uid)
    assert answer(links(offer)["accept"]).status_code == 200


def outsource_undelivered(lead: Lead, title: str = "Server down") -> str:
    """A ticket sent to the partner, one delivery round run, its outcome not checked; the engagement's uid."""
    ticket_id = lead.ticket(title)
    assert lead.api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": lead.partner_id}).status_code == 201
    uid = str(lead.act(ticket_id, "send")["engagement"]["uid"])
    lead.sync()
    return uid


def lead_engagement_id(app: Flask, uid: str) -> int:
    with app.app_context():
        found = db.session.scalars(select(Engagement.id).where(Engagement.uid == uid)).one()
        return int(found)


def retry_now(app: Flask, message_id: int) -> None:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        assert message is not None
        message.next_attempt_at = utcnow()
        db.session.commit()


def test_the_adapter_is_offered_with_its_settings_and_secrets_never_shown(
    app: Flask, api: Api, mail_servers: MailServers
):
    offered = {a["name"]: a for a in api.get("/adapters", Permission.PARTNER_MANAGEMENT).get_json()["adapters"]}
    email = offered["email"]
    assert email["capabilities"] == ["attachments", "notes", "time_entries"]
    settings = {s["name"]: s for s in email["config"]}
    assert settings["smtp_secret"]["secret"] and settings["imap_secret"]["secret"]
    assert settings["smtp_security"]["choices"] == ["none", "starttls", "tls"]
    assert settings["addresses"]["required"] and settings["mailbox"]["required"]

    config = EmailPartner(mail_servers).config()
    created = api.post(
        "/partners", json={"name": "Cabling Ltd", "adapter": "email", "config": config}, level=Permission.ALL
    )
    assert created.status_code == 201, created.get_json()
    assert config["imap_secret"] not in created.get_data(as_text=True)
    assert config["smtp_secret"] not in created.get_data(as_text=True)
    assert connection(app, created.get_json()["id"]).passed
    with app.app_context():
        partner = db.session.get(Partner, created.get_json()["id"])
        assert partner is not None
        partner.config = {**partner.config, "imap_secret": "not the password"}
        db.session.commit()
    failed = connection(app, created.get_json()["id"])
    assert not failed.passed and "not the password" not in failed.message

    bad = api.post(
        "/partners",
        json={"name": "Bad", "adapter": "email", "config": {**config, "addresses": ["not an address"]}},
        level=Permission.ALL,
    )
    assert bad.status_code == 400 and "addresses" in str(bad.get_json()["details"])


def test_the_offer_reaches_every_partner_address_with_the_ticket_and_the_terms(
    app: Flask, api: Api, mail_servers: MailServers
):
    lead, partner = email_lead(app, api, mail_servers)
    ticket_id, uid, ref = lead.outsource("Replace the RAID disk")
    assert ref == uid and lead.status(ticket_id) == "assigned"
    for person in ("partner", "crew"):
        [offer] = partner.thread(uid, person)
        assert offer["Subject"].startswith("Offer: Replace the RAID disk")
        body = text_of(offer)
        for shown in ("The file server in rack 2 is down", "Priority: High", "Replace the disk", "Outsource rate: 80"):
            assert shown in body, (shown, body)
        assert offer["Message-ID"] == f"<offer.{uid}@example.test>"
        reply_to = str(offer["Reply-To"])
        token = re.fullmatch(r"desk\+o-([a-z2-7]{24})@example\.test", reply_to)
        assert token, reply_to
        assert token.group(1) not in uid


def test_a_cancel_sends_the_withdrawal_in_the_thread(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner = email_lead(app, api, mail_servers)
    ticket_id, uid, _ref = lead.outsource("Move the printer")
    lead.act(ticket_id, "cancel", reason="The customer moved it")
    lead.sync()
    offer, withdrawal = partner.thread(uid)
    assert withdrawal["Subject"] == "Withdrawn: Move the printer"
    assert withdrawal["In-Reply-To"] == offer["Message-ID"] == withdrawal["References"]
    assert withdrawal["Reply-To"] == offer["Reply-To"]
    assert withdrawal["Message-ID"] != offer["Message-ID"]
    assert "The customer moved it" in text_of(withdrawal)


def test_the_leads_public_entries_go_out_and_internal_ones_never_leave(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner = email_lead(app, api, mail_servers)
    ticket_id, uid, _ref = lead.outsource("Rewire rack 3")
    accept(partner, uid)
    assert lead.status(ticket_id) == "accepted"
    lead.add(ticket_id, "notes", body="The customer is in from 9")
    lead.add(ticket_id, "notes", body="internal: margin is thin", internal=True)
    lead.attach(ticket_id, "plan.bin", bytes(range(256)))
    lead.sync()
    thread = partner.thread(uid)
    texts = [text_of(m) for m in thread]
    assert any("The customer is in from 9" in t for t in texts), texts
    assert not any("margin is thin" in t for t in texts)
    [with_file] = [m for m in thread if any(True for _ in m.iter_attachments())]
    [attached] = list(with_file.iter_attachments())
    assert attached.get_filename() == "plan.bin" and attached.get_payload(decode=True) == bytes(range(256))


def test_a_title_cannot_inject_headers(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner = email_lead(app, api, mail_servers)
    uid = outsource_undelivered(lead, "Broken\r\nBcc: stranger@example.test")
    [offer] = partner.thread(uid)
    assert offer["Subject"].startswith("Offer: Broken Bcc: stranger@example.test [")
    assert offer["Bcc"] is None
    assert not partner.thread(uid, "stranger")


def test_a_refused_recipient_dead_letters(app: Flask, api: Api, mail_servers: MailServers):
    lead, _partner = email_lead(app, api, mail_servers, addresses=["nobody@example.test"])
    uid = outsource_undelivered(lead)
    [offer] = lead.messages(uid, MessageKind.OFFER)
    assert offer["state"] is MessageState.DEAD and "nobody@example.test" in offer["last_error"]


def test_a_wrong_smtp_login_dead_letters_without_the_secret(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner = email_lead(app, api, mail_servers, smtp_secret="not the password")
    uid = outsource_undelivered(lead)
    [offer] = lead.messages(uid, MessageKind.OFFER)
    assert offer["state"] is MessageState.DEAD and "535" in offer["last_error"], offer
    assert "not the password" not in offer["last_error"]
    assert not partner.thread(uid)


def test_an_smtp_server_that_is_down_is_retried_and_the_offer_goes_out_once(
    app: Flask, api: Api, mail_servers: MailServers
):
    lead, partner = email_lead(app, api, mail_servers)
    mail_servers.stop_smtp()
    try:
        uid = outsource_undelivered(lead)
        [offer] = lead.messages(uid, MessageKind.OFFER)
        assert offer["state"] is not MessageState.DEAD and offer["last_error"]
    finally:
        mail_servers.start_smtp()
    retry_now(app, offer["id"])
    lead.sync()
    assert [m["state"] for m in lead.messages(uid, MessageKind.OFFER)] == [MessageState.DELIVERED]
    assert len(partner.thread(uid)) == 1


def test_a_bounce_is_a_sync_error_then_a_dead_letter_after_the_retries(
    app: Flask, api: Api, mail_servers: MailServers, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_MAX_ATTEMPTS", 2)
    lead, partner = email_lead(app, api, mail_servers)
    ticket_id, uid, _ref = lead.outsource("Rewire the office")
    [offer] = partner.thread(uid)
    partner.bounce(offer)
    lead.sync()
    [sent] = lead.messages(uid, MessageKind.OFFER)
    assert sent["state"] is MessageState.PENDING and "5.1.1" in sent["last_error"], sent
    assert "mailbox unknown" in str(lead.engagement(ticket_id)["last_sync_error"])
    assert lead.poll_error() is None
    retry_now(app, sent["id"])
    lead.sync()
    assert [m["state"] for m in lead.messages(uid, MessageKind.OFFER)] == [MessageState.DELIVERED]
    lead.reset_cursor()
    lead.sync()  # the same report read again is not a second failure
    assert [m["state"] for m in lead.messages(uid, MessageKind.OFFER)] == [MessageState.DELIVERED]
    resent = partner.thread(uid)[-1]
    partner.bounce(resent)
    lead.sync()
    [dead] = lead.messages(uid, MessageKind.OFFER)
    assert dead["state"] is MessageState.DEAD and "gave up after 2 attempts" in dead["last_error"], dead
    assert "mailbox unknown" in str(lead.engagement(ticket_id)["last_sync_error"])
    with app.app_context():
        kept = db.session.scalars(select(UnmatchedMail).where(UnmatchedMail.partner_id == lead.partner_id)).all()
        assert [(k.engagement_uid, k.reason) for k in kept] == [
            (uid, "it reports that our e-mail could not be delivered")
        ] * 2


def test_the_partner_accepts_with_the_link_once(app: Flask, api: Api, mail_servers: MailServers, lead_url: str):
    lead, partner = email_lead(app, api, mail_servers)
    ticket_id, uid, _ref = lead.outsource("Replace the toner")
    [offer] = partner.thread(uid, "crew")
    found = links(offer)
    assert set(found) == {"accept", "decline"} and found["accept"].startswith(lead_url)
    done = answer(found["accept"])
    assert done.status_code == 200 and "Offer accepted: Replace the toner" in done.text
    assert lead.status(ticket_id) == "accepted"
    assert lead.engagement(ticket_id)["status"] == "accepted"
    again = answer(found["accept"])
    assert again.status_code == 403 and "This link was already used" in again.text
    assert answer(found["decline"], "too late").status_code == 403
    assert lead.status(ticket_id) == "accepted"


def test_the_offer_email_and_the_accept_page_as_the_partner_sees_them(
    app: Flask, api: Api, mail_servers: MailServers, lead_url: str
):
    """The README's pictures (34, 35): the offer as a mail program shows it, and the public Accept page."""
    lead, partner = email_lead(app, api, mail_servers)
    title = "Replace the core switch in rack B"
    ticket_id, uid, _ref = lead.outsource(title)
    [offer] = partner.thread(uid)
    headers = "".join(
        f"<dt>{name}</dt><dd>{html.escape(str(offer[name]))}</dd>" for name in ("From", "To", "Reply-To", "Subject")
    )
    rendered = (
        "<!doctype html><html lang=en><title>Offer e-mail</title>"
        "<body style='font-family:sans-serif;margin:24px;max-width:900px'>"
        f"<dl style='display:grid;grid-template-columns:8em 1fr;background:#f3f3f3;padding:12px'>{headers}</dl>"
        "<pre style='white-space:pre-wrap;overflow-wrap:anywhere;font-size:14px'>"
        f"{html.escape(text_of(offer))}</pre></body></html>"
    )

    def photograph() -> None:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 700})
                page.set_content(rendered)
                expect(page.get_by_text(f"Offer: {title}")).to_be_visible()
                expect(page.get_by_text(links(offer)["accept"])).to_be_visible()
                shot(page, "34-email-offer")
                page.goto(links(offer)["accept"])
                expect(page.get_by_role("heading", name=f"Accept the offer: {title}")).to_be_visible()
                expect(page.get_by_role("button", name="Accept the offer")).to_be_visible()
                shot(page, "35-email-accept-page")
            finally:
                browser.close()

    # in a thread of its own: the sync API refuses a thread where an event loop runs, and an earlier test's
    # library may have left one running in this one
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(photograph).result()
    assert lead.status(ticket_id) == "assigned"


def test_the_acceptance_confirmation_carries_log_time_and_work_is_done_links(
    app: Flask, api: Api, mail_servers: MailServers, lead_url: str
):
    lead, partner, ticket_id, uid = accepted(app, api, mail_servers, "Label the patch panel")
    lead.sync()
    confirmation = partner.thread(uid)[-1]
    assert confirmation["Subject"] == "Accepted: Label the patch panel"
    found = links(confirmation)
    assert set(found) == {"done", "time"} and found["done"].startswith(lead_url)
    assert answer(found["time"], hours="1.5", note="Cable run").status_code == 200
    assert [(t["hours"], t["summary"]) for t in lead.entries(ticket_id)["time_entries"]] == [("1.50", "Cable run")]
    submitted = answer(found["done"])
    assert submitted.status_code == 200 and "Work is done: Label the patch panel" in submitted.text
    assert lead.status(ticket_id) == "waiting_approval"


def test_the_partner_declines_with_a_reason(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner = email_lead(app, api, mail_servers)
    ticket_id, uid, _ref = lead.outsource("Pull new cables")
    decline = links(partner.thread(uid)[0])["decline"]
    missing = answer(decline, "  ")
    assert missing.status_code == 400 and "the reason is required" in missing.text
    assert lead.status(ticket_id) == "assigned"
    assert answer(decline, "No crew free this week").status_code == 200
    assert lead.status(ticket_id) == "declined"
    with app.app_context():
        engagement = db.session.get(Engagement, lead_engagement_id(app, uid))
        assert engagement is not None and engagement.decline_reason == "No crew free this week"


def test_a_canceled_offers_links_stop_working(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner = email_lead(app, api, mail_servers)
    ticket_id, uid, _ref = lead.outsource("Fix the door")
    lead.act(ticket_id, "cancel", reason="Fixed by the customer")
    lead.sync()
    offer = partner.thread(uid)[0]
    refused = answer(links(offer)["accept"])
    assert refused.status_code == 403 and "This offer is closed (canceled)" in refused.text
    assert lead.status(ticket_id) == "canceled"


def accepted(app: Flask, api: Api, mail_servers: MailServers, title: str) -> tuple[Lead, EmailPartner, str, str]:
    lead, partner = email_lead(app, api, mail_servers)
    ticket_id, uid, _ref = lead.outsource(title)
    accept(partner, uid)
    return lead, partner, ticket_id, uid


def cursor(app: Flask, lead: Lead) -> str:
    with app.app_context():
        partner = db.session.get(Partner, lead.partner_id)
        assert partner is not None
        return str(partner.poll_cursor)


def test_a_reply_becomes_an_internal_note_with_its_files_and_without_the_quote(
    app: Flask, api: Api, mail_servers: MailServers
):
    lead, partner, ticket_id, uid = accepted(app, api, mail_servers, "Replace the fan")
    [offer] = partner.thread(uid)
    partner.reply(offer, "Fan ordered, fitting it tomorrow.", files={"quote.pdf": bytes(range(256)) * 3})
    lead.sync()
    ticket = lead.entries(ticket_id)
    [note] = [n for n in ticket["notes"] if "Fan ordered" in n["body"]]
    assert note["body"] == "Fan ordered, fitting it tomorrow.", note
    assert note["internal"] is True
    assert "Pat Field <partner@example.test>" in note["author"] and "email partner" in note["author"], note
    [file] = [a for a in ticket["attachments"] if a["filename"] == "quote.pdf"]
    assert lead.attachment_bytes(file) == bytes(range(256)) * 3
    assert lead.status(ticket_id) == "in_progress"


def test_a_reply_is_applied_once_whatever_the_polls_and_the_mailbox_do(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner, ticket_id, uid = accepted(app, api, mail_servers, "Patch panel")
    [offer] = partner.thread(uid)
    partner.reply(offer, "Panel patched.")
    lead.sync(2)
    lead.reset_cursor()
    lead.sync()
    mail_servers.stop_imap()
    try:
        lead.sync(3)
        assert lead.poll_error() and "IMAP" in str(lead.poll_error())
    finally:
        mail_servers.start_imap()
    partner.reply(offer, "And labelled.", user="crew", name="Sam Crew")
    before = cursor(app, lead)
    mail_servers.renumber("desk")  # a rebuilt folder: a new UIDVALIDITY, every UID new
    lead.sync(2)
    assert lead.poll_error() is None
    assert cursor(app, lead).split(":")[0] != before.split(":")[0], (before, cursor(app, lead))
    bodies = [n["body"] for n in lead.entries(ticket_id)["notes"]]
    assert bodies.count("Panel patched.") == 1 and bodies.count("And labelled.") == 1, bodies


def test_an_imap_server_that_is_down_is_polled_at_growing_waits_and_the_reply_applied_once_after(
    app: Flask, api: Api, mail_servers: MailServers
):
    """The scheduled poll job, run one poll interval after the other on its own clock, with Dovecot stopped."""
    lead, partner, ticket_id, uid = accepted(app, api, mail_servers, "Ladder for the server room")
    [offer] = partner.thread(uid)
    interval = float(app.extensions["outsource"].config["OUTSOURCE_POLL_INTERVAL"])
    start = utcnow()
    reached: list[int] = []

    def job_rounds(rounds: range) -> None:
        for round_no in rounds:
            with recorded(signals.sync_failed) as failed, app.app_context():
                poll_due(current_outsource(), now=start + timedelta(seconds=interval * round_no))
            reached.extend(round_no for f in failed if f["partner_id"] == lead.partner_id)

    mail_servers.stop_imap()
    try:
        partner.reply(offer, "The ladder is in the van.")
        job_rounds(range(16))
        assert reached == [0, 2, 6, 14], reached
        assert "IMAP" in str(lead.poll_error())
        assert not [n for n in lead.entries(ticket_id)["notes"] if "ladder" in n["body"]]
    finally:
        mail_servers.start_imap()
    job_rounds(range(16, 30))  # back, and not asked before its due time: 14 + 80 s / 5 s
    assert reached == [0, 2, 6, 14] and "IMAP" in str(lead.poll_error())
    job_rounds(range(30, 32))
    assert reached == [0, 2, 6, 14] and lead.poll_error() is None
    assert [n["body"] for n in lead.entries(ticket_id)["notes"]].count("The ladder is in the van.") == 1
    lead.sync(2)
    bodies = [n["body"] for n in lead.entries(ticket_id)["notes"]]
    assert bodies.count("The ladder is in the van.") == 1, bodies


def test_a_strangers_mail_is_kept_aside_with_the_reason_not_applied(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner, ticket_id, uid = accepted(app, api, mail_servers, "Server room door")
    [offer] = partner.thread(uid)
    message_id = partner.reply(offer, "Send me the door code please", user="stranger", name="Eve")
    lead.sync(2)
    assert not [n for n in lead.entries(ticket_id)["notes"] if "door code" in n["body"]]
    with app.app_context():
        kept = db.session.scalars(select(UnmatchedMail).where(UnmatchedMail.message_id == message_id)).all()
        assert [(k.sender, k.reason, k.engagement_uid) for k in kept] == [
            ("stranger@example.test", "its sender is not one of the partner's addresses", uid)
        ]


def test_html_in_a_reply_arrives_as_text(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner, ticket_id, uid = accepted(app, api, mail_servers, "Badge reader")
    [offer] = partner.thread(uid)
    partner.reply(offer, "Reader <b>fixed</b><script>alert(1)</script>", html_only=True)
    lead.sync()
    [note] = [n for n in lead.entries(ticket_id)["notes"] if "Reader" in n["body"]]
    assert note["body"] == "Reader fixed", note


def test_time_lines_become_time_entries_and_done_submits_then_the_outcome_is_mailed(
    app: Flask, api: Api, mail_servers: MailServers
):
    lead, partner, ticket_id, uid = accepted(app, api, mail_servers, "Core switch")
    [offer] = partner.thread(uid)
    partner.reply(offer, "Looked at it.\nTime: 1.5h Diagnosis\ntime: 0,5 hours travel")
    lead.sync()
    assert lead.poll_error() is None
    ticket = lead.entries(ticket_id)
    assert sorted((t["hours"], t["summary"]) for t in ticket["time_entries"]) == [
        ("0.50", "travel"),
        ("1.50", "Diagnosis"),
    ]
    assert [n["body"] for n in ticket["notes"] if "Looked" in n["body"]] == ["Looked at it."]
    partner.reply(offer, "DONE: switch replaced")
    lead.sync()
    assert lead.status(ticket_id) == "waiting_approval"
    assert [n["body"] for n in lead.entries(ticket_id)["notes"] if "switch replaced" in n["body"]] == [
        "switch replaced"
    ]
    lead.act(ticket_id, "reject", reason="The uplink is still down")
    lead.sync()
    rejected = partner.thread(uid)[-1]
    assert rejected["Subject"] == "Not approved yet: Core switch"
    assert "The uplink is still down" in text_of(rejected)
    assert lead.status(ticket_id) == "in_progress"
    partner.reply(offer, "done")
    lead.sync()
    lead.act(ticket_id, "approve")
    lead.sync()
    assert lead.status(ticket_id) == "complete"
    assert partner.thread(uid)[-1]["Subject"] == "Approved: Core switch"


def test_a_reply_while_waiting_for_approval_is_kept_aside_not_synced(app: Flask, api: Api, mail_servers: MailServers):
    lead, partner, ticket_id, uid = accepted(app, api, mail_servers, "UPS battery")
    [offer] = partner.thread(uid)
    partner.reply(offer, "DONE")
    lead.sync()
    assert lead.status(ticket_id) == "waiting_approval"
    message_id = partner.reply(offer, "One more thing: the old battery is in the hall")
    lead.sync(2)
    assert not [n for n in lead.entries(ticket_id)["notes"] if "old battery" in n["body"]]
    lead.act(ticket_id, "reject", reason="Take the old battery away")
    lead.sync(2)
    assert lead.status(ticket_id) == "in_progress"
    assert not [n for n in lead.entries(ticket_id)["notes"] if "old battery" in n["body"]]
    with app.app_context():
        [kept] = db.session.scalars(select(UnmatchedMail).where(UnmatchedMail.message_id == message_id)).all()
        assert kept.engagement_uid == uid and "waiting approval" in kept.reason
