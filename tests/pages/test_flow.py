"""One ticket through both help desks in a real browser, page by page.

Northwind IT outsources a ticket to Contoso Field Services, Contoso accepts
it, both add notes, Contoso submits, Northwind rejects with a reason,
Contoso submits again and Northwind approves. Each page is checked for what
it shows (menu options, the blue bar, dashboard counts, read-only entries)
and saved as a screenshot under docs/screenshots/.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.cross_host.conftest import Pair
from tests.pages.browser import (
    bar_status,
    folder_count,
    menu_actions,
    note,
    open_menu_option,
    reload_until,
    shot,
    sign_in,
    ticket_id_from,
)

BLUE = "rgb(31, 95, 174)"


def _create_ticket(lead: Page) -> str:
    lead.get_by_label("Title").fill("Replace failed core switch")
    lead.get_by_label("Description").fill("Rack 2, unit 14. The customer reports total outage on floor 3.")
    lead.get_by_role("button", name="Create").click()
    expect(lead.locator("h1")).to_contain_text("Replace failed core switch")
    return ticket_id_from(lead)


def _outsource(lead: Page) -> None:
    """Outsource Ticket: choose the partner, fill the terms, Save (Unsent), View Terms, Outsource."""
    assert menu_actions(lead) == ["configure"]
    expect(lead.locator(".outsource-bar")).to_have_count(0)
    shot(lead, "01-ticket-outsource-menu")
    open_menu_option(lead, "configure")
    expect(lead.get_by_role("heading", name="1. Choose a partner")).to_be_visible()
    shot(lead, "02-outsource-choose-partner")
    lead.get_by_role("link", name="Choose Contoso Field Services").click()
    expect(lead.get_by_label("Outsource rate (per hour)")).to_have_value("80.00")  # the partner's default
    expect(lead.get_by_label("Hours to accept before auto-decline")).to_have_value("48")
    lead.get_by_label("Authorised hours").fill("6")
    lead.get_by_label("Complete by").fill("2030-01-31")
    lead.get_by_label("Instructions to the service partner").fill("Bring a spare 48-port switch. Ask for Dana.")
    shot(lead, "03-outsource-terms-form")
    lead.get_by_role("button", name="Save").click()
    expect(lead.get_by_role("heading", name="Terms for Contoso Field Services")).to_be_visible()
    expect(lead.locator(".op-terms")).to_contain_text("Bring a spare 48-port switch")
    shot(lead, "04-view-terms")
    lead.locator(".op-crumbs a").first.click()
    assert bar_status(lead) == "unsent"
    assert menu_actions(lead) == ["edit", "send", "remove"]
    open_menu_option(lead, "send")
    lead.get_by_role("button", name="Outsource").click()
    expect(lead.locator(".outsource-bar")).to_be_visible()
    assert bar_status(lead) == "assigned"
    assert menu_actions(lead) == ["cancel"]


def _accept(service: Page) -> str:
    """The offer reaches Contoso's Waiting Acceptance folder; accept it from the offer page."""
    service.get_by_role("link", name="Outsource Dashboard").first.click()
    service.get_by_role("link", name="Waiting Acceptance").last.click()
    reload_until(service, lambda: folder_count(service, "service", "waiting_acceptance") == 1)
    assert folder_count(service, "service", "accepted_or_in_progress") == 0
    shot(service, "06-service-dashboard-waiting-acceptance")
    service.locator("#folder-table tbody a").first.click()
    expect(service.get_by_role("heading", name="Offer from Northwind IT")).to_be_visible()
    expect(service.locator("main")).to_contain_text("Replace failed core switch")
    expect(service.locator("main")).to_contain_text("Bring a spare 48-port switch")
    shot(service, "07-service-offer")
    service.get_by_label("Northwind IT is our customer").select_option(label="Globex")
    service.locator("#accept-form").get_by_role("button", name="Accept").click()
    expect(service.locator(".outsource-bar")).to_be_visible()
    assert bar_status(service) == "accepted"
    insource = service.locator(".ob-insource")
    for shown in ("Northwind IT", "2030-01-31", "Bring a spare 48-port switch", "6", "Ada Admin"):
        expect(insource).to_contain_text(shown)
    assert menu_actions(service) == ["submit"]
    expect(service.locator('.outsource-menu a[data-action="question"]')).to_have_count(1)
    return ticket_id_from(service)


def _add_note(page: Page, text: str) -> None:
    page.get_by_label("New note").fill(text)
    page.get_by_role("button", name="Add note").click()
    expect(note(page, text)).to_have_count(1)


def test_one_ticket_through_both_help_desks(browser: Browser, hosts: Pair) -> None:
    lead = sign_in(browser, hosts.lead, "admin")
    service = sign_in(browser, hosts.service, "admin")
    _create_ticket(lead)
    _outsource(lead)
    bar = lead.locator(".outsource-bar")
    assert bar.evaluate("el => getComputedStyle(el).backgroundColor") == BLUE
    expect(bar).to_contain_text("Outsourced to Contoso Field Services")
    expect(bar.locator(".outsource-sync")).to_have_text("Not started")
    shot(lead, "05-lead-ticket-assigned")

    service_ticket = _accept(service)
    shot(service, "08-service-ticket-insource")
    reload_until(lead, lambda: bar_status(lead) == "accepted")
    expect(lead.locator(".ob-remote")).not_to_have_text("not yet")
    expect(lead.locator(".outsource-sync")).to_have_text("Active")

    # a note on each side; each arrives read-only on the other side
    _add_note(service, "Parts ordered, on site tomorrow 9am.")
    expect(service.locator(".outsource-status")).to_have_attribute("data-status", "in_progress")
    _add_note(lead, "Customer confirms access from 8am via reception.")
    reload_until(lead, lambda: note(lead, "Parts ordered").count() == 1)
    synced = note(lead, "Parts ordered")
    expect(synced).to_have_attribute("data-read-only", "true")
    expect(synced.locator(".lock-reason")).to_contain_text("came from Contoso Field Services")
    expect(note(lead, "Customer confirms access")).not_to_have_attribute("data-read-only", "true")
    assert bar_status(lead) == "in_progress"
    reload_until(service, lambda: note(service, "Customer confirms access").count() == 1)
    expect(note(service, "Customer confirms access")).to_have_attribute("data-read-only", "true")

    # a question to the lead: a note that syncs like any other
    open_menu_option(service, "question")
    service.get_by_label("Question").fill("Is the spare switch to be left on site?")
    shot(service, "09-service-ask-question")
    service.get_by_role("button", name="Ask").click()
    expect(note(service, "Question: Is the spare switch")).to_have_count(1)
    reload_until(lead, lambda: note(lead, "Question: Is the spare switch").count() == 1)
    shot(lead, "10-lead-ticket-synced-notes")

    # submit: sync suspended, earlier entries read-only on both sides
    open_menu_option(service, "submit")
    shot(service, "11-service-submit-form")
    service.get_by_role("button", name="Submit for Approval").click()
    assert bar_status(service) == "waiting_approval"
    expect(service.locator(".outsource-sync")).to_have_text("Suspended (Waiting Approval)")
    assert menu_actions(service) == []
    own = note(service, "Parts ordered")
    expect(own).to_have_attribute("data-read-only", "true")
    expect(own.locator(".lock-reason")).to_contain_text("waits for approval")
    # a locked note offers no Edit or Delete: the reason above stands in their place
    expect(own.locator("summary")).to_have_count(0)
    expect(own.get_by_role("button", name="Delete")).to_have_count(0)
    expect(note(service, "Parts ordered, on site tomorrow 9am.")).to_have_count(1)
    shot(service, "12-service-read-only-refused")

    # reject with a reason, then submit again
    reload_until(lead, lambda: bar_status(lead) == "waiting_approval")
    assert menu_actions(lead) == ["approve", "reject"]
    expect(lead.locator(".outsource-sync")).to_have_text("Suspended (Waiting Approval)")
    expect(note(lead, "Customer confirms access")).to_have_attribute("data-read-only", "true")
    open_menu_option(lead, "reject")
    lead.get_by_label("Reason").fill("Please attach a photo of the installed switch.")
    shot(lead, "13-lead-reject-form")
    lead.get_by_role("button", name="Reject").click()
    assert bar_status(lead) == "in_progress"
    expect(note(lead, "Customer confirms access")).not_to_have_attribute("data-read-only", "true")
    reload_until(service, lambda: bar_status(service) == "in_progress")
    expect(service.locator(".ob-reason")).to_contain_text("Please attach a photo")
    reload_until(service, lambda: note(service, "Please attach a photo").count() == 1)
    assert menu_actions(service) == ["submit"]
    open_menu_option(service, "submit")
    service.get_by_role("button", name="Submit for Approval").click()
    assert bar_status(service) == "waiting_approval"

    # approve: Complete on both sides, sync ended, no menu
    reload_until(lead, lambda: bar_status(lead) == "waiting_approval")
    open_menu_option(lead, "approve")
    lead.get_by_role("button", name="Approve").click()
    assert bar_status(lead) == "complete"
    expect(lead.locator(".outsource-sync")).to_have_text("Ended")
    expect(lead.locator(".outsource-menu")).to_have_count(0)
    expect(note(lead, "Parts ordered")).not_to_have_attribute("data-read-only", "true")
    shot(lead, "14-lead-ticket-complete")
    reload_until(service, lambda: bar_status(service) == "complete")
    assert service_ticket == ticket_id_from(service)

    # the dashboards count the engagement in Complete for each role
    lead.get_by_role("link", name="Outsource Dashboard").first.click()
    lead.get_by_role("link", name="Complete").first.click()
    assert folder_count(lead, "lead", "complete") == 1
    assert folder_count(lead, "lead", "waiting_acceptance") == 0
    assert folder_count(lead, "service", "complete") == 0
    expect(lead.locator("#folder-table tbody tr")).to_have_count(1)
    shot(lead, "15-lead-dashboard-complete")
    service.get_by_role("link", name="Outsource Dashboard").first.click()
    assert folder_count(service, "service", "complete") == 1
    assert folder_count(service, "service", "waiting_acceptance") == 0


def test_partner_administration(browser: Browser, hosts: Pair) -> None:
    page = sign_in(browser, hosts.lead, "manager")
    page.get_by_role("link", name="Outsource Dashboard").first.click()
    page.get_by_role("navigation", name="Outsourcing pages").get_by_role("link", name="Partners").click()
    expect(page.locator("#partner-table")).to_contain_text("Contoso Field Services")
    shot(page, "16-partners")
    page.get_by_role("link", name="Contoso Field Services").click()
    secret = page.locator('input[name="config.secret"]')
    expect(secret).to_have_attribute("type", "password")
    expect(secret).to_have_value("")
    assert hosts.secret not in page.content()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".flash")).to_contain_text("Connection test passed: Contoso Field Services answered")
    shot(page, "17-partner-edit")
    page.get_by_role("button", name="Rotate keys").click()
    expect(page.locator(".flash")).to_contain_text("Key rotation with Contoso Field Services started")
    reload_until(page, lambda: "Keys rotated" in page.locator("#key-rotation").inner_text())
    assert hosts.secret not in page.content()
    shot(page, "33-partner-keys-rotated")
    page.get_by_label("Hours to accept before auto-decline").fill("24")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("saved")
    expect(page.get_by_label("Hours to accept before auto-decline")).to_have_value("24")

    page.get_by_role("navigation", name="Outsourcing pages").get_by_role("link", name="Partners").click()
    page.get_by_role("link", name="Register a partner").click()
    page.get_by_label("Partner system").select_option("peer")
    page.get_by_role("button", name="Choose").click()
    page.get_by_label("Name").fill("Fabrikam Repairs")
    page.get_by_label("Base url (required)").fill("http://127.0.0.1:9/outsource")
    page.get_by_label("Link id (required)").fill("northwind-fabrikam")
    page.locator('input[name="config.secret"]').fill("a-long-shared-secret-value")
    shot(page, "18-partner-register")
    page.get_by_role("button", name="Register").click()
    expect(page.locator(".flash")).to_contain_text("Partner Fabrikam Repairs registered")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".flash")).to_contain_text("Connection test failed")
    page.get_by_role("button", name="Disable partner").click()
    expect(page.locator("#partner-table tr", has_text="Fabrikam Repairs")).to_contain_text("Disabled")

    page.get_by_role("link", name="Failed deliveries").click()
    expect(page.get_by_role("heading", name="Failed deliveries")).to_be_visible()
    shot(page, "19-failed-deliveries")
