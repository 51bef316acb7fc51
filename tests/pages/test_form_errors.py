"""In a real browser: a bad term is explained beside its field with what was typed kept, and a
reject without a reason stays on its form; the blue bar links to the engagement's history."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.cross_host.conftest import Pair, Scenario
from tests.pages.browser import open_menu_option, shot, sign_in

HOURS_WANTED = "Authorised hours must be a number of hours, like 4 or 2.5"


def test_a_bad_term_is_explained_beside_its_field(browser: Browser, hosts: Pair) -> None:
    s = Scenario(hosts)
    page = sign_in(browser, hosts.lead, "tech")
    page.goto(f"/tickets/{s.lead_ticket}")
    open_menu_option(page, "configure")
    page.get_by_role("link", name="Choose Contoso Field Services").click()
    page.get_by_label("Authorised hours").fill("about four")
    page.get_by_label("Instructions to the service partner").fill("Ask for Dana.")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Save").click()
    assert answer.value.status == 400
    hours = page.get_by_label("Authorised hours")
    expect(hours).to_have_value("about four")
    expect(hours).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-authorised_hours")).to_have_text(HOURS_WANTED)
    # the message is beside its field, not only in a summary at the top of the form
    beside = page.locator('[data-field="authorised_hours"] .op-field-error')
    expect(beside).to_be_visible()
    expect(page.get_by_label("Instructions to the service partner")).to_have_value("Ask for Dana.")
    shot(page, "23-terms-error-beside-field")
    assert s.lead_state()["engagement"] is None
    page.context.close()


def test_a_reject_without_a_reason_stays_on_its_form(browser: Browser, hosts: Pair) -> None:
    s = Scenario(hosts)
    s.send()
    s.accept()
    s.service_action("submit")
    s.wait_lead_status("waiting_approval")
    page = sign_in(browser, hosts.lead, "tech")
    page.goto(f"/tickets/{s.lead_ticket}")
    expect(page.locator(".outsource-bar .outsource-status")).to_have_attribute("data-status", "waiting_approval")
    open_menu_option(page, "reject")
    reason = page.get_by_label("Reason")
    reason.evaluate("box => box.removeAttribute('required')")  # what an older browser lets through
    reason.fill("   ")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#err-reason")).to_have_text("Give a reason: the partner reads it")
    expect(page.get_by_role("heading", name="Reject")).to_be_visible()
    reason.fill("Please attach a photo")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator(".outsource-bar .outsource-status")).to_have_attribute("data-status", "in_progress")
    page.locator(".outsource-bar").get_by_role("link", name="History").click()
    expect(page.locator("#history-table")).to_contain_text("Please attach a photo")
    page.context.close()
