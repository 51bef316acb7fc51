"""Keyboard only: Tab reaches each control with a visible focus ring, Enter and Space do the action.

The lead outsources a ticket from the Outsource menu and sends it; the service partner finds the offer
from its dashboard and accepts it; the service submits, the lead rejects with a reason, the service
submits again and the lead approves. No mouse click.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Locator, Page, expect

from tests.cross_host.conftest import Pair, Scenario
from tests.pages.browser import bar_status, reload_until, sign_in
from tests.pages.checks import focus_visible

#: more Tab presses than any plugin page has controls before the one wanted
MAX_TABS = 80


def tab_to(page: Page, target: Locator) -> None:
    """Press Tab until ``target`` has the focus, and check the focus ring shows."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            assert focus_visible(page), f"no visible focus on {target}"
            return
    raise AssertionError(f"Tab never reached {target}")


def menu_option(page: Page, action: str, key: str) -> None:
    """Open the Outsource menu from the keyboard and follow one of its options."""
    page.goto(page.url)  # start the Tab order from the top of the page
    summary = page.locator(".outsource-menu summary")
    tab_to(page, summary)
    page.keyboard.press(key)
    expect(page.locator(".outsource-menu ul")).to_be_visible()
    tab_to(page, page.locator(f'.outsource-menu a[data-action="{action}"]'))
    page.keyboard.press("Enter")


def _outsource_and_send(lead: Page, ticket: str) -> None:
    lead.goto(f"/tickets/{ticket}")
    menu_option(lead, "configure", "Enter")
    expect(lead.get_by_role("heading", name="1. Choose a partner")).to_be_visible()
    tab_to(lead, lead.get_by_role("link", name="Choose Contoso Field Services"))
    lead.keyboard.press("Enter")
    hours = lead.get_by_label("Authorised hours")
    tab_to(lead, hours)
    lead.keyboard.type("6")
    tab_to(lead, lead.get_by_role("button", name="Save"))
    lead.keyboard.press("Enter")
    expect(lead.get_by_role("heading", name="Terms for Contoso Field Services")).to_be_visible()
    tab_to(lead, lead.get_by_role("button", name="Outsource"))
    lead.keyboard.press("Space")
    expect(lead.locator(".outsource-bar")).to_be_visible()
    assert bar_status(lead) == "assigned"


def _find_and_accept(service: Page) -> None:
    service.goto("/")
    tab_to(service, service.get_by_role("link", name="Outsource Dashboard").first)
    service.keyboard.press("Enter")
    expect(service.get_by_role("heading", name="Outsource Dashboard")).to_be_visible()
    folder = service.locator('[data-role="service"] a[data-folder="waiting_acceptance"]')
    reload_until(service, lambda: folder.locator(".op-count").inner_text() == "1")
    tab_to(service, folder)
    service.keyboard.press("Enter")
    expect(folder).to_have_attribute("aria-current", "page")
    tab_to(service, service.locator("#folder-table tbody a").first)
    service.keyboard.press("Enter")
    expect(service.get_by_role("heading", name="Offer from Northwind IT")).to_be_visible()
    customer = service.get_by_label("Northwind IT is our customer")
    tab_to(service, customer)
    service.keyboard.press("ArrowDown")
    expect(customer).not_to_have_value("")
    tab_to(service, service.locator("#accept-form").get_by_role("button", name="Accept"))
    service.keyboard.press("Enter")
    expect(service.locator(".outsource-bar")).to_be_visible()
    assert bar_status(service) == "accepted"


def test_send_accept_submit_reject_and_approve_with_the_keyboard_only(browser: Browser, hosts: Pair) -> None:
    ticket = Scenario(hosts).lead_ticket
    lead = sign_in(browser, hosts.lead, "admin")
    service = sign_in(browser, hosts.service, "admin")
    _outsource_and_send(lead, ticket)
    _find_and_accept(service)

    _submit(service)
    reload_until(lead, lambda: bar_status(lead) == "waiting_approval")
    menu_option(lead, "reject", "Space")
    tab_to(lead, lead.get_by_label("Reason"))
    lead.keyboard.type("Please attach a photo of the installed switch.")
    tab_to(lead, lead.get_by_role("button", name="Reject"))
    lead.keyboard.press("Enter")
    assert bar_status(lead) == "in_progress"

    reload_until(service, lambda: bar_status(service) == "in_progress")
    _submit(service)
    reload_until(lead, lambda: bar_status(lead) == "waiting_approval")
    menu_option(lead, "approve", "Enter")
    tab_to(lead, lead.get_by_role("button", name="Approve"))
    lead.keyboard.press("Space")
    assert bar_status(lead) == "complete"


def _submit(service: Page) -> None:
    menu_option(service, "submit", "Space")
    tab_to(service, service.get_by_role("button", name="Submit for Approval"))
    service.keyboard.press("Enter")
    assert bar_status(service) == "waiting_approval"
