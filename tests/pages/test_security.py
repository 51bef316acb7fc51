"""In a real browser: partner text stays text, forms need their CSRF token, and the
permission is checked on the server whatever the page shows."""

from __future__ import annotations

from playwright.sync_api import Browser, Dialog, expect

from tests.cross_host.conftest import Pair, Scenario
from tests.pages.browser import bar_status, menu_actions, note, reload_until, shot, sign_in
from tests.polling import eventually

SCRIPT = "<script>alert(1)</script>"

#: the only scripts a page may run: the bar's live.js and the demo ticket page's list refresh (its first words)
OWN_SCRIPTS = {"/outsource/static/outsource/live.js", "/* The plugin's bar says when the outsou"}


def test_a_partner_note_with_a_script_shows_as_text(browser: Browser, hosts: Pair) -> None:
    s = Scenario(hosts)
    s.lead.patch(f"/api/tickets/{s.lead_ticket}", {"title": f"Switch {SCRIPT}"})
    s.send(instructions=f"Call {SCRIPT}")
    s.accept()
    s.service.post(f"/api/tickets/{s.service_ticket}/notes", {"body": f"Done {SCRIPT}"})
    eventually(lambda: any(SCRIPT in n["body"] for n in s.lead_ticket_json()["notes"]))

    dialogs: list[str] = []
    for host, user in ((hosts.lead, "tech"), (hosts.service, "admin")):
        page = sign_in(browser, host, user)

        def seen(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", seen)
        ticket = s.lead_ticket if host is hosts.lead else s.service_ticket
        page.goto(f"/tickets/{ticket}")
        expect(page.locator("h1")).to_contain_text(f"Switch {SCRIPT}")
        if host is hosts.lead:
            reload_until(page, lambda: note(page, f"Done {SCRIPT}").count() == 1)  # noqa: B023
            expect(note(page, f"Done {SCRIPT}").locator(".note-body")).to_have_text(f"Done {SCRIPT}")
            shot(page, "20-partner-script-as-text")
        else:
            expect(page.locator(".ob-insource")).to_contain_text(f"Call {SCRIPT}")
            page.goto(f"/outsource/engagements/{s.service_engagement_id()}")
            expect(page.locator("main")).to_contain_text(f"Switch {SCRIPT}")
        scripts = page.locator("main script").evaluate_all(
            "all => all.map(s => s.getAttribute('src') || s.textContent.trim().slice(0, 40))"
        )
        assert set(scripts) <= OWN_SCRIPTS, scripts
        page.context.close()
    assert dialogs == []


def test_a_form_posted_without_its_csrf_token_is_refused(browser: Browser, hosts: Pair) -> None:
    s = Scenario(hosts)
    s.lead.post(f"/outsource/api/v1/tickets/{s.lead_ticket}/outsource", {"partner_id": hosts.lead_partner_id})
    page = sign_in(browser, hosts.lead, "tech")
    page.goto(f"/tickets/{s.lead_ticket}")
    page.locator('.outsource-menu a[data-action="send"]').evaluate("a => a.click()")
    expect(page.get_by_role("heading", name="Terms for Contoso Field Services")).to_be_visible()
    page.locator('form:has(#outsource-send) input[name="csrf_token"]').evaluate("input => input.remove()")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Outsource").click()
    assert answer.value.status == 400
    expect(page.locator(".op-error-message")).to_contain_text("security token is missing or out of date")
    shot(page, "21-csrf-refused")
    assert s.lead_state()["engagement"]["status"] == "unsent"
    page.context.close()


def test_a_viewer_sees_no_menu_and_a_direct_post_is_refused(browser: Browser, hosts: Pair) -> None:
    s = Scenario(hosts)
    s.send()
    engagement_id = s.lead_state()["engagement"]["id"]
    page = sign_in(browser, hosts.lead, "viewer")
    page.goto(f"/tickets/{s.lead_ticket}")
    expect(page.locator(".outsource-bar")).to_be_visible()
    assert bar_status(page) == "assigned"
    expect(page.locator(".outsource-menu")).to_have_count(0)
    assert menu_actions(page) == []
    expect(page.locator(".ob-terms")).to_have_count(0)  # terms need Allow Outsourcing
    shot(page, "22-viewer-no-menu")
    token = page.locator('meta[name="outsource-csrf-token"]').get_attribute("content")
    assert token
    refused = page.request.post(
        f"{hosts.lead.base}/outsource/engagements/{engagement_id}/actions/cancel",
        form={"csrf_token": token},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "Allow Outsourcing" in refused.text()
    forbidden = page.goto(f"/outsource/engagements/{engagement_id}/actions/cancel")
    assert forbidden is not None and forbidden.status == 403
    expect(page.locator(".op-error-message")).to_contain_text("permission")
    assert s.lead_state()["engagement"]["status"] == "assigned"
    page.context.close()
