"""E-mail notifications through a real SMTP server (aiosmtpd, in this process): who is e-mailed about what,
with which subject and link, in plain text and HTML, money only for Allow All, and a mail-server outage that
delays mail and loses none."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import Customer, Ticket, User, db
from outsource_plugin.db.models import Engagement, MailMessage, MessageState, Partner, utcnow
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.jobs.mail import send_mail_due
from outsource_plugin.jobs.scheduler import run_once
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Action
from tests.conftest import LEVELS, Api, memory_partner
from tests.outsource_plugin.engagement_helpers import act, sync
from tests.outsource_plugin.notify.conftest import BASE_URL
from tests.outsource_plugin.notify.smtp_server import SmtpServer
from tests.polling import eventually

MAILBOX = "dispatch@northwind.test"
MONEY = ("75.00", "600.00")
TERMS = {"authorised_hours": "8.00", "outsource_rate": "75.00", "total_authorised": "600.00", "acceptance_hours": 24}


def email_of(level: Permission) -> str:
    return f"{LEVELS[level]}@t.example"


def partner_id_of(app: Flask) -> int:
    with app.app_context():
        partner = db.session.scalars(select(Partner)).one()
        partner.notify_email = MAILBOX
        db.session.commit()
        return partner.id


def assign(app: Flask, ticket_id: str | int, level: Permission) -> None:
    with app.app_context():
        ticket = db.session.get(Ticket, int(ticket_id))
        ticket.assignee_id = db.session.scalars(select(User.id).where(User.email == email_of(level))).one()
        db.session.commit()


def lead_ticket(app: Flask, assignee: Permission) -> str:
    with app.app_context():
        ticket = Ticket(title="Server down", description="The file server is down", status="New")
        db.session.add(ticket)
        db.session.commit()
        ticket_id = str(ticket.id)
    assign(app, ticket_id, assignee)
    return ticket_id


def outsourced(app: Flask, api: Api, ticket_id: str, partner_id: int) -> str:
    created = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id, "terms": TERMS})
    assert created.status_code == 201, created.get_json()
    uid = str(act(api, ticket_id, "send")["engagement"]["uid"])
    sync(app)
    return uid


def sent_offer(app: Flask, api: Api, assignee: Permission) -> tuple[int, str, str]:
    """A lead ticket assigned to the user of ``assignee``, offered to the memory partner: partner id, ticket id, uid."""
    partner_id = partner_id_of(app)
    ticket_id = lead_ticket(app, assignee)
    return partner_id, ticket_id, outsourced(app, api, ticket_id, partner_id)


def send_mail(app: Flask) -> int:
    with app.app_context():
        return send_mail_due(current_outsource())


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None, "a plain text part and an HTML part"
    return str(text.get_content()), str(html.get_content())


def only_mail(smtp: SmtpServer, address: str, subject: str, link: str) -> tuple[str, str]:
    """The one e-mail to ``address``: its subject, sender and the link in both parts; its two bodies."""
    received = smtp.inbox.to(address)
    assert len(received) == 1, [m["Subject"] for m in received]
    message = received[0]
    assert message["Subject"] == subject and message["From"] == "outsourcing@northwind.test"
    assert message["To"] == address and message["Message-ID"]
    text, html = parts(message)
    assert link in text and f'href="{link}"' in html
    return text, html


def no_money(*bodies: str) -> None:
    for body in bodies:
        assert not any(figure in body for figure in MONEY), body


def test_a_new_offer_is_mailed_to_the_partners_mailbox_with_its_terms_and_no_money(
    mail_app: Flask, mail_api: Api, smtp: SmtpServer
) -> None:
    partner_id = partner_id_of(mail_app)
    offer = {"title": "Install CCTV", "description": "Two cameras", "number": "L-7"}
    memory_partner(mail_app, partner_id).offer("lead-eng-1", offer, TERMS)
    sync(mail_app)
    assert send_mail(mail_app) == 1
    with mail_app.app_context():
        engagement_id = db.session.scalars(select(Engagement.id).where(Engagement.uid == "lead-eng-1")).one()
    text, html = only_mail(
        smtp, MAILBOX, "New offer from Contoso: Install CCTV", f"{BASE_URL}/outsource/engagements/{engagement_id}"
    )
    assert "Contoso offers Northwind IT a ticket: Install CCTV." in text
    assert "Authorised hours: 8.00" in text and "8.00" in html
    no_money(text, html)


def test_the_lead_assignee_hears_of_accept_question_and_submit_and_allow_all_sees_the_money(
    mail_app: Flask, mail_api: Api, smtp: SmtpServer
) -> None:
    partner_id, ticket_id, uid = sent_offer(mail_app, mail_api, Permission.ALL)
    partner = memory_partner(mail_app, partner_id)
    partner.accept(uid)
    sync(mail_app)
    partner.add_entry(uid, EntryKind.NOTE, {"text": "Question: which rack?", "author": "Sam"})
    sync(mail_app)
    partner.act(uid, Action.SUBMIT)
    sync(mail_app)
    assert send_mail(mail_app) == 3
    admin = email_of(Permission.ALL)
    number = f"T{int(ticket_id):05d}"
    assert [m["Subject"] for m in smtp.inbox.to(admin)] == [
        f"Contoso accepted ticket {number}: Server down",
        f"Question from Contoso on ticket {number}",
        f"Contoso submitted ticket {number} for approval",
    ]
    accepted, question, _ = (parts(m) for m in smtp.inbox.to(admin))
    link = f"{BASE_URL}/tickets/{ticket_id}"
    assert all(link in text and f'href="{link}"' in html for text, html in (accepted, question))
    assert "Hello Admin," in accepted[0] and "Total authorised: 600.00" in accepted[0] and "75.00" in accepted[1]
    assert "Question: which rack?" in question[0] and "Question: which rack?" in question[1]
    assert smtp.inbox.to(MAILBOX) == []


def test_a_decline_with_its_reason_reaches_a_technician_without_money(
    mail_app: Flask, mail_api: Api, smtp: SmtpServer
) -> None:
    partner_id, ticket_id, uid = sent_offer(mail_app, mail_api, Permission.OUTSOURCE)
    memory_partner(mail_app, partner_id).act(uid, Action.DECLINE, reason="No <b>capacity</b> this week")
    sync(mail_app)
    assert send_mail(mail_app) == 1
    number = f"T{int(ticket_id):05d}"
    subject = f"Contoso declined ticket {number}: Server down"
    text, html = only_mail(smtp, email_of(Permission.OUTSOURCE), subject, f"{BASE_URL}/tickets/{ticket_id}")
    assert "Reason: No <b>capacity</b> this week" in text and "No &lt;b&gt;capacity&lt;/b&gt; this week" in html
    assert "Authorised hours: 8.00" in text
    no_money(text, html)


def test_an_expired_offer_is_mailed_to_the_lead_assignee(mail_app: Flask, mail_api: Api, smtp: SmtpServer) -> None:
    partner_id = partner_id_of(mail_app)
    ticket_id = lead_ticket(mail_app, Permission.PARTNER_MANAGEMENT)
    outsourced(mail_app, mail_api, ticket_id, partner_id)
    with mail_app.app_context():
        db.session.scalars(select(Engagement)).one().acceptance_deadline = utcnow() - timedelta(seconds=1)
        db.session.commit()
    with mail_app.app_context():
        assert run_once(current_outsource())["expired"] == 1
    assert send_mail(mail_app) == 1
    number = f"T{int(ticket_id):05d}"
    text, html = only_mail(
        smtp,
        email_of(Permission.PARTNER_MANAGEMENT),
        f"The offer of ticket {number} to Contoso expired",
        f"{BASE_URL}/tickets/{ticket_id}",
    )
    assert "declined automatically" in text
    no_money(text, html)


def accepted_offer(app: Flask, api: Api, partner_id: int, uid: str) -> str:
    """This host is the service partner: the memory partner offers, we accept; the service ticket's id."""
    memory_partner(app, partner_id).offer(uid, {"title": "Install CCTV", "number": "L-7"}, TERMS)
    sync(app)
    with app.app_context():
        engagement_id = db.session.scalars(select(Engagement.id).where(Engagement.uid == uid)).one()
        customer = str(db.session.scalars(select(Customer.id)).first())
    answer = api.post(f"/engagements/{engagement_id}/actions", json={"action": "accept", "customer_ref": customer})
    assert answer.status_code == 200, answer.get_json()
    return str(answer.get_json()["ticket_id"])


@pytest.mark.parametrize(
    ("action", "subject"),
    [
        (Action.REJECT, "Contoso rejected the work on ticket {number}"),
        # the lead's cancel crosses our acceptance: the ticket we opened is withdrawn
        (Action.CANCEL, "Contoso canceled the outsourcing of ticket {number}"),
    ],
)
def test_the_service_assignee_hears_of_the_leads_reject_and_cancel(
    mail_app: Flask, mail_api: Api, smtp: SmtpServer, action: Action, subject: str
) -> None:
    partner_id = partner_id_of(mail_app)
    ticket_id = accepted_offer(mail_app, mail_api, partner_id, "lead-eng-1")
    assign(mail_app, ticket_id, Permission.OUTSOURCE)
    if action is Action.REJECT:
        act(mail_api, ticket_id, "submit")
        sync(mail_app)
    memory_partner(mail_app, partner_id).act("lead-eng-1", action, reason="The cameras face the wall")
    sync(mail_app)
    send_mail(mail_app)
    subject = subject.format(number=f"T{int(ticket_id):05d}")
    text, html = only_mail(smtp, email_of(Permission.OUTSOURCE), subject, f"{BASE_URL}/tickets/{ticket_id}")
    assert "Authorised hours: 8.00" in text
    no_money(text, html)
    if action is Action.REJECT:
        assert "Reason: The cameras face the wall" in text and "The cameras face the wall" in html
    assert [m["Subject"] for m in smtp.inbox.to(MAILBOX)] == ["New offer from Contoso: Install CCTV"]


def test_a_cancel_before_acceptance_reaches_the_partners_mailbox(
    mail_app: Flask, mail_api: Api, smtp: SmtpServer
) -> None:
    partner_id = partner_id_of(mail_app)
    partner = memory_partner(mail_app, partner_id)
    partner.offer("lead-eng-2", {"title": "Install CCTV", "number": "L-8"}, TERMS)
    sync(mail_app)
    partner.act("lead-eng-2", Action.CANCEL)
    sync(mail_app)
    assert send_mail(mail_app) == 2
    assert [m["Subject"] for m in smtp.inbox.to(MAILBOX)] == [
        "New offer from Contoso: Install CCTV",
        "Contoso canceled the outsourcing of ticket L-8",
    ]


def mail_rows(app: Flask) -> list[tuple[str, MessageState, int]]:
    with app.app_context():
        rows = db.session.execute(select(MailMessage.event, MailMessage.state, MailMessage.attempts)).all()
        db.session.rollback()
        return [tuple(row) for row in rows]


def test_a_mail_server_outage_delays_mail_and_loses_none_and_sends_nothing_twice(
    mail_app: Flask, mail_api: Api, smtp: SmtpServer
) -> None:
    partner_id, _, uid = sent_offer(mail_app, mail_api, Permission.OUTSOURCE)
    smtp.stop()
    partner = memory_partner(mail_app, partner_id)
    partner.accept(uid)
    sync(mail_app)
    assert send_mail(mail_app) == 0
    partner.act(uid, Action.SUBMIT)
    sync(mail_app)
    assert send_mail(mail_app) == 0
    rows = mail_rows(mail_app)
    assert sorted(e for e, _, _ in rows) == ["accept", "submit"]
    assert all(state is MessageState.PENDING and attempts >= 1 for _, state, attempts in rows)
    with mail_app.app_context():
        assert all(m.last_error for m in db.session.scalars(select(MailMessage)))
        db.session.rollback()

    smtp.start()
    tech = email_of(Permission.OUTSOURCE)
    eventually(lambda: send_mail(mail_app) >= 0 and len(smtp.inbox.to(tech)) == 2, what="the delayed mail")
    assert send_mail(mail_app) == 0
    assert sorted(m["Subject"].split(" ")[1] for m in smtp.inbox.to(tech)) == ["accepted", "submitted"]
    assert len({m["Message-ID"] for m in smtp.inbox.to(tech)}) == 2
    assert all(state is MessageState.DELIVERED for _, state, _ in mail_rows(mail_app))


def test_with_mail_off_nothing_is_queued(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    assign(app, ticket_id, Permission.OUTSOURCE)
    uid = outsourced(app, api, ticket_id, partner_id)
    memory_partner(app, partner_id).accept(uid)
    sync(app)
    assert mail_rows(app) == []
