"""A service technician finds a new offer from the header's "Outsourced work" link, accepts it, and the lead's
assignee is e-mailed; the lead's open ticket page shows the service's note and its submit as they arrive, and the
lead's assignee is e-mailed on submit: both demo help desks with e-mail on, sending to a real SMTP server in this
process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.cross_host.conftest import Pair, Scenario, running_pair
from tests.outsource_plugin.notify.smtp_server import SmtpServer, serving
from tests.pages.browser import SYNC_TIMEOUT, bar_status, note, reload_until, shot, sign_in
from tests.polling import eventually

BASE_URL = "http://helpdesk.test"
MAILBOX = "dispatch@contoso.example"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    yield from serving()


@pytest.fixture(scope="module")
def mailing_hosts(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Pair]:
    env = {
        "OUTSOURCE_MAIL_ENABLED": "1",
        "OUTSOURCE_MAIL_SERVER": "127.0.0.1",
        "OUTSOURCE_MAIL_PORT": str(smtp.port),
        "OUTSOURCE_MAIL_INTERVAL": "0.5",
        "OUTSOURCE_BASE_URL": BASE_URL,
    }
    with running_pair(tmp_path_factory, extra_env=env) as pair:
        yield pair


def test_the_service_tech_finds_the_offer_from_the_header_accepts_it_and_the_lead_is_emailed(
    browser: Browser, mailing_hosts: Pair, smtp: SmtpServer
) -> None:
    lead, service = mailing_hosts.lead_api, mailing_hosts.service_api
    service.patch(f"/outsource/api/v1/partners/{mailing_hosts.service_partner_id}", {"notify_email": MAILBOX})
    lead_tech = mailing_hosts.lead.client("tech").get("/api/me")
    ticket = lead.post(
        "/api/tickets",
        {"title": "Replace core switch", "description": "Rack 2, unit 14", "assignee_id": lead_tech["id"]},
    )
    lead.post(f"/outsource/api/v1/tickets/{ticket['id']}/outsource", {"partner_id": mailing_hosts.lead_partner_id})
    lead.post(f"/outsource/api/v1/tickets/{ticket['id']}/outsource/actions", {"action": "send"})

    page = sign_in(browser, mailing_hosts.service, "tech")
    header = page.locator("body > header a.outsource-nav")
    reload_until(page, lambda: header.get_attribute("data-count") == "1")
    expect(header).to_contain_text("Outsourced work")
    header.click()
    expect(page.get_by_role("heading", name="Outsourced work")).to_be_visible()
    shot(page, "24-service-outsourced-work")
    page.locator("#work-offers tbody a").first.click()
    expect(page.get_by_role("heading", name="Offer from Northwind IT")).to_be_visible()
    expect(page.locator(".op-crumbs a").first).to_have_text("Outsourced work")
    page.get_by_label("Northwind IT is our customer").select_option(label="Globex")
    page.locator("#accept-form").get_by_role("button", name="Accept").click()
    expect(page.locator(".outsource-bar")).to_be_visible()

    offer = eventually(lambda: smtp.inbox.to(MAILBOX), timeout=SYNC_TIMEOUT, what="the offer e-mail")
    assert [m["Subject"] for m in offer] == ["New offer from Northwind IT: Replace core switch"]
    accepted = eventually(lambda: smtp.inbox.to(lead_tech["email"]), timeout=SYNC_TIMEOUT, what="the accept e-mail")
    number = f"T{int(ticket['id']):05d}"
    assert [m["Subject"] for m in accepted] == [f"Contoso Field Services accepted ticket {number}: Replace core switch"]
    text = accepted[0].get_body(("plain",))
    assert text is not None and f"{BASE_URL}/tickets/{ticket['id']}" in text.get_content()
    assert "80.00" not in text.get_content()  # the lead's tech is below Allow All


def test_the_open_lead_ticket_shows_the_service_note_and_submit_without_a_reload_and_the_lead_is_emailed(
    browser: Browser, mailing_hosts: Pair, smtp: SmtpServer
) -> None:
    scenario = Scenario(mailing_hosts)
    lead_tech = mailing_hosts.lead.client("tech").get("/api/me")
    scenario.lead.patch(f"/api/tickets/{scenario.lead_ticket}", {"assignee_id": lead_tech["id"]})
    scenario.send()
    service_ticket = scenario.accept()

    page = sign_in(browser, mailing_hosts.lead, "tech")
    page.goto(f"/tickets/{scenario.lead_ticket}")
    assert bar_status(page) == "accepted"
    page.evaluate("window.openedOnce = true")  # gone if the page were reloaded

    text = "On site: the new switch is racked, patching now"
    scenario.service.post(f"/api/tickets/{service_ticket}/notes", {"body": text, "internal": False})
    expect(note(page, text)).to_be_visible(timeout=SYNC_TIMEOUT * 1000)
    expect(note(page, text)).to_have_attribute("data-read-only", "true")

    scenario.service_action("submit")
    status = page.locator(".outsource-bar .outsource-status")
    expect(status).to_have_attribute("data-status", "waiting_approval", timeout=SYNC_TIMEOUT * 1000)
    expect(status).to_have_text("Waiting Approval")
    assert page.evaluate("window.openedOnce") is True
    shot(page, "25-lead-ticket-live-update")

    number = f"T{int(scenario.lead_ticket):05d}"
    subject = f"Contoso Field Services submitted ticket {number} for approval"

    def submitted() -> list[str]:
        return [str(m["Subject"]) for m in smtp.inbox.to(lead_tech["email"]) if m["Subject"] == subject]

    assert eventually(submitted, timeout=SYNC_TIMEOUT, what="the submit e-mail") == [subject]
