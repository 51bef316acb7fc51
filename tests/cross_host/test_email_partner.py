"""An e-mail partner against a real lead host process, on the real mail servers (issue 19, "Done when" #2).

The lead is a demo help desk process whose jobs run in it on short intervals;
the partner is a person with a mail program and a browser: it reads its mail
over IMAP, opens the links with ``requests`` over HTTP and answers over SMTP.
At each step the lead ticket (through the host's API, and its database for
what only the partner page shows) is compared with what the partner's mailbox
received.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from outsource_plugin.db.models import UnmatchedMail
from tests.adapters.email_partner import EmailPartner, answer, links, text_of
from tests.adapters.servers.mail import MailServers
from tests.conftest import fresh_database
from tests.cross_host.hosts import Client, Host
from tests.faults.test_environment import clock_ahead
from tests.polling import eventually

API = "/outsource/api/v1"
PARTNER = "Cabling Ltd"
#: a failed e-mail is sent this many times in all before it is a dead letter
ATTEMPTS = 2


@dataclass
class EmailDesk:
    """The lead host, the partner's mail program, and the partner's id on the lead."""

    host: Host
    partner: EmailPartner
    partner_id: int

    @property
    def api(self) -> Client:
        return self.host.client()

    def polls(self, outcome: str) -> float:
        """How many polls of the partner's mailbox ended with ``outcome`` (``ok``, ``error``) in the host."""
        scraped = self.api.call("GET", "/metrics")
        assert scraped.status_code == 200, scraped.text
        for family in text_string_to_metric_families(scraped.text):
            for sample in family.samples:
                if sample.name == "outsource_polls_total" and sample.labels == {"partner": PARTNER, "outcome": outcome}:
                    return float(sample.value)
        return 0.0

    def poll_error(self) -> str | None:
        health = self.api.call("GET", f"{API}/health").json()
        [partner] = [p for p in health["partners"] if p["id"] == self.partner_id]
        return partner["last_poll_error"]

    def kept_aside(self, message_id: str) -> list[tuple[str, str, str | None]]:
        """The lead's record of a reply it did not apply (the partner page lists it): sender, reason, engagement."""
        engine = create_engine(self.host.database_url)
        try:
            with Session(engine) as session:
                kept = session.scalars(select(UnmatchedMail).where(UnmatchedMail.message_id == message_id)).all()
                return [(k.sender, k.reason, k.engagement_uid) for k in kept]
        finally:
            engine.dispose()


class LeadTicket:
    """One ticket of the lead's, outsourced to the e-mail partner, and the thread the partner got for it."""

    def __init__(self, desk: EmailDesk, title: str) -> None:
        self.desk = desk
        self.title = title
        created = desk.api.post("/api/tickets", {"title": title, "description": "Rack 2, unit 14: no link on port 7"})
        self.id = str(created["id"])
        self.uid = ""

    def send(self, **terms: Any) -> EmailMessage:
        """Outsource the ticket and wait for the offer in the partner's mailbox."""
        self.desk.api.post(f"{API}/tickets/{self.id}/outsource", {"partner_id": self.desk.partner_id, "terms": terms})
        self.uid = str(self.act("send")["engagement"]["uid"])
        return self.mail(1)[0]

    def act(self, action: str, **body: Any) -> dict[str, Any]:
        return dict(self.desk.api.post(f"{API}/tickets/{self.id}/outsource/actions", {"action": action, **body}))

    def engagement(self) -> dict[str, Any]:
        return dict(self.desk.api.get(f"{API}/tickets/{self.id}/outsource")["engagement"])

    def wait_status(self, status: str) -> dict[str, Any]:
        return eventually(lambda: (e := self.engagement()) and e["status"] == status and e, what=status)

    def mail(self, count: int) -> list[EmailMessage]:
        """The partner's thread once it holds ``count`` e-mails (no more)."""
        thread = eventually(lambda: (t := self.desk.partner.thread(self.uid)) and len(t) >= count and t)
        assert len(thread) == count, [str(m["Subject"]) for m in thread]
        return thread

    def ticket(self) -> dict[str, Any]:
        return dict(self.desk.api.get(f"/api/tickets/{self.id}"))

    def notes(self, text: str) -> list[dict[str, Any]]:
        return [n for n in self.ticket()["notes"] if text in n["body"]]

    def wait_note(self, text: str) -> dict[str, Any]:
        [note] = eventually(lambda: self.notes(text), what=f"the note {text!r}")
        return dict(note)

    def reply(self, to: EmailMessage, text: str, **kw: Any) -> str:
        return self.desk.partner.reply(to, text, **kw)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, mail_servers: MailServers) -> Iterator[EmailDesk]:
    """Northwind's help desk process with the e-mail partner registered; its jobs run every half second."""
    mail_servers.empty("desk")  # the lead reads the whole mailbox: only this module's mail
    with fresh_database(tmp_path_factory.mktemp("email-lead-db")) as url:
        host = Host("Northwind IT", "northwind.example", tmp_path_factory.mktemp("email-lead"), url)
        host.extra_env.update(
            {
                "OUTSOURCE_BASE_URL": host.base,
                "OUTSOURCE_MAX_ATTEMPTS": str(ATTEMPTS),
                "OUTSOURCE_METRICS_PATH": "/metrics",
            }
        )
        host.seed()
        host.start()
        try:
            partner = EmailPartner(mail_servers)
            created = host.client().post(
                f"{API}/partners",
                {
                    "name": PARTNER,
                    "adapter": "email",
                    "config": partner.config(),
                    "default_terms": {"rate_type": "hourly", "outsource_rate": "80.00", "acceptance_hours": 48},
                },
            )
            assert created["secrets_set"] == ["imap_secret", "smtp_secret"], created
            yield EmailDesk(host, partner, int(created["id"]))
        finally:
            host.stop()


def test_one_ticket_through_every_status_by_email(desk: EmailDesk, mail_servers: MailServers) -> None:
    partner = desk.partner
    ticket = LeadTicket(desk, "Rewire the server room")

    # Assigned -> Declined, by the offer's Decline link with a reason
    offer = ticket.send()
    first_uid = ticket.uid
    assert ticket.engagement()["status"] == "assigned"
    assert str(offer["Subject"]).startswith("Offer: Rewire the server room")
    assert "Rack 2, unit 14: no link on port 7" in text_of(offer) and "Outsource rate: 80" in text_of(offer)
    assert set(links(offer)) == {"accept", "decline"}
    assert all(link.startswith(desk.host.base) for link in links(offer).values())
    declined = answer(links(offer)["decline"], "No crew free this week")
    assert declined.status_code == 200, declined.text
    assert ticket.wait_status("declined")["decline_reason"] == "No crew free this week"
    reused = answer(links(offer)["decline"], "again")
    assert reused.status_code == 403 and "This link was already used" in reused.text
    closed = answer(links(offer)["accept"])
    assert closed.status_code == 403 and "This offer is closed (declined)" in closed.text
    assert ticket.engagement()["status"] == "declined"

    # sent again: a new engagement and a new offer; Accepted by its link, which then refuses a second use
    offer = ticket.send()
    assert ticket.uid != first_uid
    accepted = answer(links(offer)["accept"])
    assert accepted.status_code == 200 and "Offer accepted: Rewire the server room" in accepted.text
    ticket.wait_status("accepted")
    again = answer(links(offer)["accept"])
    assert again.status_code == 403 and "This link was already used" in again.text
    _offer, confirmation = ticket.mail(2)
    assert confirmation["Subject"] == "Accepted: Rewire the server room"
    work = links(confirmation)
    assert set(work) == {"done", "time"}

    # notes both ways: the lead's public note goes out, its internal one never does
    desk.api.post(f"/api/tickets/{ticket.id}/notes", {"body": "internal: the margin is thin", "internal": True})
    desk.api.post(f"/api/tickets/{ticket.id}/notes", {"body": "The customer is in from 9", "internal": False})
    *_, public = ticket.mail(3)
    assert "The customer is in from 9" in text_of(public)
    # In Progress: the partner's reply is an internal note, its Time: line a time entry
    ticket.reply(public, "Cable run planned for Monday.\nTime: 1.5h Diagnosis")
    note = ticket.wait_note("Cable run planned")
    assert note["body"] == "Cable run planned for Monday." and note["internal"] is True
    assert "partner@example.test" in note["author"], note
    ticket.wait_status("in_progress")
    [time_entry] = ticket.ticket()["time_entries"]
    assert (time_entry["hours"], time_entry["summary"]) == ("1.50", "Diagnosis")

    # a stranger's reply in the thread is kept aside with the reason, never applied
    stranger = ticket.reply(public, "Send me the door code please", user="stranger", name="Eve")
    kept = eventually(lambda: desk.kept_aside(stranger), what="the stranger's mail kept aside")
    assert kept == [("stranger@example.test", "its sender is not one of the partner's addresses", ticket.uid)]
    assert not ticket.notes("door code")

    # a bounce: a sync error on the engagement, the e-mail sent again, then a dead letter
    partner.bounce(public)
    assert "mailbox unknown" in eventually(lambda: ticket.engagement()["last_sync_error"], what="a sync error")
    resent = ticket.mail(4)[-1]
    assert resent["Message-ID"] == public["Message-ID"] and "The customer is in from 9" in text_of(resent)
    partner.bounce(resent)
    [dead] = eventually(
        lambda: [d for d in desk.api.get(f"{API}/deadletters")["deadletters"] if d["engagement_uid"] == ticket.uid]
    )
    assert dead["attempts"] == ATTEMPTS and f"gave up after {ATTEMPTS} attempts" in dead["last_error"], dead
    assert "mailbox unknown" in ticket.engagement()["last_sync_error"]

    # the IMAP server down for several polls: the reply waits in the mailbox and is applied once after
    failed_before = desk.polls("error")
    mail_servers.stop_imap()
    try:
        ticket.reply(public, "The ladder is in the van.")
        eventually(lambda: desk.polls("error") >= failed_before + 3, what="three failed polls")
        assert "IMAP" in str(desk.poll_error())
        assert not ticket.notes("ladder")
    finally:
        mail_servers.start_imap()
    ticket.wait_note("The ladder is in the van.")
    ok_after = desk.polls("ok")
    eventually(lambda: desk.polls("ok") >= ok_after + 3, what="three more polls")
    assert desk.poll_error() is None
    assert len(ticket.notes("The ladder is in the van.")) == 1

    # Waiting Approval by the Work is done link; the reject's reason reaches the partner
    submitted = answer(work["done"])
    assert submitted.status_code == 200 and "Work is done: Rewire the server room" in submitted.text
    ticket.wait_status("waiting_approval")
    ticket.act("reject", reason="Port 7 still shows no link")
    ticket.wait_status("in_progress")
    rejected = ticket.mail(5)[-1]
    assert rejected["Subject"] == "Not approved yet: Rewire the server room"
    assert "Port 7 still shows no link" in text_of(rejected)
    reused = answer(work["done"])
    assert reused.status_code == 403 and "This link was already used" in reused.text
    assert ticket.engagement()["status"] == "in_progress"
    assert set(links(rejected)) == {"done", "time"} and links(rejected)["done"] != work["done"]

    # the work again, submitted by a reply starting DONE, approved: Complete
    ticket.reply(rejected, "Patched port 7 to the new switch.\nTime: 0.5h Patching")
    ticket.wait_note("Patched port 7")
    ticket.reply(rejected, "DONE: link is up")
    ticket.wait_status("waiting_approval")
    ticket.act("approve")
    ticket.wait_status("complete")
    approved = ticket.mail(6)[-1]
    assert approved["Subject"] == "Approved: Rewire the server room"

    # what the lead holds is what the partner wrote, and the partner's thread is what the lead sent
    final = ticket.ticket()
    assert sorted((t["hours"], t["summary"]) for t in final["time_entries"]) == [
        ("0.50", "Patching"),
        ("1.50", "Diagnosis"),
    ]
    from_partner = [n["body"] for n in final["notes"] if "partner@example.test" in n["author"]]
    assert from_partner == [
        "Cable run planned for Monday.",
        "The ladder is in the van.",
        "Patched port 7 to the new switch.",
        "link is up",
    ]
    assert all(n["internal"] for n in final["notes"] if "partner@example.test" in n["author"])
    sent = [text_of(m) for m in partner.thread(ticket.uid)]
    assert not [text for text in sent if "margin is thin" in text]
    assert [str(m["Subject"]).partition(":")[0] for m in partner.thread(ticket.uid)] == [
        "Offer",
        "Accepted",
        "Re",
        "Re",
        "Not approved yet",
        "Approved",
    ]


def test_a_canceled_offer_is_withdrawn_and_its_links_stop_working(desk: EmailDesk) -> None:
    ticket = LeadTicket(desk, "Move the printer")
    offer = ticket.send()
    ticket.act("cancel", reason="The customer moved it")
    assert ticket.wait_status("canceled")["cancel_reason"] == "The customer moved it"
    _offer, withdrawal = ticket.mail(2)
    assert withdrawal["Subject"] == "Withdrawn: Move the printer"
    assert "The customer moved it" in text_of(withdrawal)
    for action in ("accept", "decline"):
        refused = answer(links(offer)[action], "late")
        assert refused.status_code == 403 and "This offer is closed (canceled)" in refused.text
    assert ticket.engagement()["status"] == "canceled"


def test_an_offer_link_past_the_acceptance_deadline_is_refused(desk: EmailDesk) -> None:
    ticket = LeadTicket(desk, "Label the patch panel")
    offer = ticket.send(acceptance_hours=1)
    with clock_ahead(desk.host, 2 * 3600):
        expired = answer(links(offer)["accept"])
        assert expired.status_code == 410 and "This link has expired" in expired.text
        assert "auto-declined" in str(ticket.wait_status("declined")["decline_reason"])
    assert answer(links(offer)["accept"]).status_code == 403
    assert ticket.engagement()["status"] == "declined"
