"""Two demo help desks become partners through the pages only, outsource a ticket end to end,
and then one leaves the partnership and the other shows why, in a real browser.

Northwind IT's manager invites Contoso on the Invite page and copies the code;
Contoso's manager pastes it into Join a partner. No secret is shown or typed on
either side. The ticket then goes Northwind -> Contoso and back (send, accept, a
note each way, submit, approve), and Contoso ends the partnership with a reason
that Northwind's partners list and partner page then show.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.cross_host.conftest import Pair, running_pair
from tests.cross_host.hosts import FaultProxy, Host
from tests.pages.browser import bar_status, folder_count, note, open_menu_option, reload_until, shot, sign_in

REASON = "Our field team moves to another region at year end."


def strangers(lead: Host, service: Host, to_service: FaultProxy, to_lead: FaultProxy) -> tuple[int, int, str]:
    """The hosts start knowing nothing of each other: the test makes them partners in the browser."""
    return 0, 0, ""


@pytest.fixture(scope="module")
def strange_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with running_pair(tmp_path_factory, connect=strangers) as pair:
        yield pair


def _partners(page: Page) -> None:
    page.goto("/outsource/partners")
    expect(page.get_by_role("heading", name="Partners")).to_be_visible()


def _row(page: Page, name: str) -> Locator:
    return page.locator("#partner-table tr", has_text=name)


def _invite(lead: Page) -> str:
    _partners(lead)
    lead.get_by_role("link", name="Invite a partner").click()
    lead.get_by_label("Name").fill("Contoso Field Services")
    lead.get_by_label("Outsource rate (per hour)").fill("75.00")
    lead.get_by_label("Hours to accept before auto-decline").fill("48")
    lead.get_by_role("button", name="Create the invitation").click()
    expect(lead.get_by_role("heading", name="Invitation for Contoso Field Services")).to_be_visible()
    shot(lead, "26-invite-code")
    code = lead.get_by_label("Invitation code").input_value()
    assert code.strip()
    _partners(lead)
    expect(_row(lead, "Contoso Field Services")).to_contain_text("Invited")
    return code


def _fill_from_partners(page: Page, link: str, label: str, value: str, screenshot: str) -> None:
    """From the partners list, follow ``link`` and fill one field: what joining and leaving start with."""
    _partners(page)
    page.get_by_role("link", name=link).click()
    page.get_by_label(label).fill(value)
    shot(page, screenshot)


def _join(service: Page, code: str) -> None:
    _fill_from_partners(service, "Join a partner", "Invitation code", code, "27-join-partner")
    service.get_by_role("button", name="Join").click()
    expect(service.locator(".flash")).to_contain_text("Joined Northwind IT")
    expect(service.locator('input[name="config.secret"]')).to_have_value("")
    assert code not in service.content()


def _ticket_end_to_end(lead: Page, service: Page) -> None:
    lead.goto("/")
    lead.get_by_label("Title").fill("Mount the new access point in room 4")
    lead.get_by_label("Description").fill("Ceiling mount; the cable is already pulled.")
    lead.get_by_role("button", name="Create").click()
    open_menu_option(lead, "configure")
    lead.get_by_role("link", name="Choose Contoso Field Services").click()
    expect(lead.get_by_label("Outsource rate (per hour)")).to_have_value("75.00")  # the invitation's terms
    lead.get_by_label("Authorised hours").fill("3")
    lead.get_by_role("button", name="Save").click()
    lead.locator(".op-crumbs a").first.click()
    open_menu_option(lead, "send")
    lead.get_by_role("button", name="Outsource").click()
    expect(lead.locator(".outsource-bar")).to_contain_text("Outsourced to Contoso Field Services")

    service.goto("/outsource/dashboard")
    service.get_by_role("link", name="Waiting Acceptance").last.click()
    reload_until(service, lambda: folder_count(service, "service", "waiting_acceptance") == 1)
    service.locator("#folder-table tbody a").first.click()
    expect(service.get_by_role("heading", name="Offer from Northwind IT")).to_be_visible()
    service.get_by_label("Northwind IT is our customer").select_option(label="Initech")
    service.locator("#accept-form").get_by_role("button", name="Accept").click()
    expect(service.locator(".outsource-bar")).to_be_visible()
    reload_until(lead, lambda: bar_status(lead) == "accepted")

    for page, text in ((service, "Bracket fitted, AP powered."), (lead, "Room 4 is free after 2pm.")):
        page.get_by_label("New note").fill(text)
        page.get_by_role("button", name="Add note").click()
        expect(note(page, text)).to_have_count(1)
    reload_until(lead, lambda: note(lead, "Bracket fitted").count() == 1)
    reload_until(service, lambda: note(service, "Room 4 is free").count() == 1)

    for page, other, action, button, status in (
        (service, lead, "submit", "Submit for Approval", "waiting_approval"),
        (lead, service, "approve", "Approve", "complete"),
    ):
        open_menu_option(page, action)
        page.get_by_role("button", name=button).click()
        assert bar_status(page) == status
        reload_until(other, lambda other=other, status=status: bar_status(other) == status)
    shot(lead, "29-joined-ticket-complete")


def _leave(service: Page, lead: Page) -> None:
    _fill_from_partners(
        service, "Northwind IT", "Why the partnership ends (the partner is told)", REASON, "30-leave-partner"
    )
    service.get_by_role("button", name="Disable partner").click()
    expect(_row(service, "Northwind IT")).to_contain_text("Disabled")

    _partners(lead)
    reload_until(lead, lambda: "ended the partnership" in _row(lead, "Contoso Field Services").inner_text())
    ended = _row(lead, "Contoso Field Services")
    expect(ended).to_contain_text("Disabled")
    expect(ended).to_contain_text("Contoso Field Services ended the partnership on ")
    expect(ended).to_contain_text(REASON)
    shot(lead, "31-partner-left-list")
    lead.get_by_role("link", name="Contoso Field Services").click()
    expect(lead.locator("#partner-ended")).to_contain_text(REASON)
    shot(lead, "32-partner-left-page")


def test_two_desks_join_through_the_pages_outsource_a_ticket_and_one_leaves(
    browser: Browser, strange_hosts: Pair
) -> None:
    lead = sign_in(browser, strange_hosts.lead, "admin")
    service = sign_in(browser, strange_hosts.service, "admin")
    _join(service, _invite(lead))
    for page, name in ((lead, "Contoso Field Services"), (service, "Northwind IT")):
        _partners(page)
        expect(_row(page, name)).to_contain_text("Active")
    shot(lead, "28-partners-joined")
    _ticket_end_to_end(lead, service)
    _leave(service, lead)
