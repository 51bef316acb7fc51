"""Every plugin page at a phone's width (375 px) and a desktop's (1440 px): no sideways scroll, the
Outsource menu's drop-down inside the page, and no serious or critical axe-core violation.

PLUGIN_PAGES is the list to extend when the plugin gains a page: one entry names the host, the path
(from the states built once per module) and what to do on the page before it is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.cross_host.conftest import Pair, Scenario
from tests.pages.browser import shot, sign_in
from tests.pages.checks import axe_violations, overflow

WIDTHS = (375, 1440)


@dataclass
class States:
    """One ticket in each state a plugin page shows, built through the API."""

    new: Scenario  # no outsourcing yet
    unsent: Scenario  # saved terms, not sent
    offered: Scenario  # sent, waiting for the service partner
    accepted: Scenario  # accepted by the service partner

    def lead_engagement(self, s: Scenario) -> int:
        return int(s.lead_state()["engagement"]["id"])


def _open_menu(page: Page) -> None:
    page.locator(".outsource-menu summary").click()
    expect(page.locator(".outsource-menu ul")).to_be_visible()


@dataclass(frozen=True)
class PluginPage:
    name: str
    side: str  # "lead" or "service": whose host serves the page
    path: Callable[[States, Pair], str]
    prepare: Callable[[Page], None] | None = None
    #: saved as docs/screenshots/layout-<width>-<name>.png and shown in the README
    screenshot: bool = False


PLUGIN_PAGES = [
    PluginPage("ticket-menu-new", "lead", lambda s, p: f"/tickets/{s.new.lead_ticket}", _open_menu, screenshot=True),
    PluginPage("ticket-menu-unsent", "lead", lambda s, p: f"/tickets/{s.unsent.lead_ticket}", _open_menu),
    PluginPage("ticket-bar-lead", "lead", lambda s, p: f"/tickets/{s.accepted.lead_ticket}", _open_menu),
    PluginPage("ticket-bar-service", "service", lambda s, p: f"/tickets/{s.accepted.service_ticket}", _open_menu, True),
    PluginPage("choose-partner", "lead", lambda s, p: f"/outsource/tickets/{s.new.lead_ticket}/outsource"),
    PluginPage(
        "terms-form",
        "lead",
        lambda s, p: f"/outsource/tickets/{s.new.lead_ticket}/outsource?partner_id={p.lead_partner_id}",
        screenshot=True,
    ),
    PluginPage("view-terms", "lead", lambda s, p: f"/outsource/engagements/{s.lead_engagement(s.unsent)}/terms"),
    PluginPage("engagement-lead", "lead", lambda s, p: f"/outsource/engagements/{s.lead_engagement(s.accepted)}"),
    PluginPage(
        "offer", "service", lambda s, p: f"/outsource/engagements/{s.offered.service_engagement_id()}", screenshot=True
    ),
    PluginPage(
        "action-cancel", "lead", lambda s, p: f"/outsource/engagements/{s.lead_engagement(s.accepted)}/actions/cancel"
    ),
    PluginPage(
        "action-submit",
        "service",
        lambda s, p: f"/outsource/engagements/{s.accepted.service_engagement_id()}/actions/submit",
    ),
    PluginPage(
        "question", "service", lambda s, p: f"/outsource/engagements/{s.accepted.service_engagement_id()}/question"
    ),
    PluginPage("dashboard", "service", lambda s, p: "/outsource/dashboard", screenshot=True),
    PluginPage("partners", "lead", lambda s, p: "/outsource/partners", screenshot=True),
    PluginPage("partner-edit", "lead", lambda s, p: f"/outsource/partners/{p.lead_partner_id}"),
    PluginPage("partner-new", "lead", lambda s, p: "/outsource/partners/new"),
    PluginPage("failed-deliveries", "lead", lambda s, p: "/outsource/deadletters"),
    PluginPage("outsourced-work", "service", lambda s, p: "/outsource/work"),
    PluginPage("history", "lead", lambda s, p: f"/outsource/engagements/{s.lead_engagement(s.accepted)}/history"),
    PluginPage("error", "lead", lambda s, p: "/outsource/engagements/999999", screenshot=True),
]


@pytest.fixture(scope="module")
def states(hosts: Pair) -> States:
    new = Scenario(hosts)
    unsent = Scenario(hosts)
    unsent.lead.post(
        f"{Scenario.API}/tickets/{unsent.lead_ticket}/outsource",
        {"partner_id": hosts.lead_partner_id, "terms": {"authorised_hours": 6}},
    )
    offered = Scenario(hosts)
    offered.send(instructions="Bring a spare 48-port switch. Ask for Dana at reception.")
    accepted = Scenario(hosts)
    accepted.send(authorised_hours=6, complete_by="2030-01-31", instructions="Bring a spare 48-port switch.")
    accepted.accept()
    return States(new, unsent, offered, accepted)


@pytest.fixture(scope="module")
def signed_in(browser: Browser, hosts: Pair) -> Iterator[dict[str, Page]]:
    pages = {"lead": sign_in(browser, hosts.lead, "admin"), "service": sign_in(browser, hosts.service, "admin")}
    yield pages
    for page in pages.values():
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("plugin_page", PLUGIN_PAGES, ids=lambda p: p.name)
def test_page_fits_and_passes_axe(
    plugin_page: PluginPage, width: int, states: States, hosts: Pair, signed_in: dict[str, Page]
) -> None:
    page = signed_in[plugin_page.side]
    page.set_viewport_size({"width": width, "height": 860})
    page.goto(plugin_page.path(states, hosts))
    if plugin_page.prepare:
        plugin_page.prepare(page)
    past_the_edge = overflow(page)
    assert not past_the_edge, f"{plugin_page.name} scrolls sideways: " + "; ".join(past_the_edge)
    assert axe_violations(page) == []
    if plugin_page.screenshot:
        shot(page, f"layout-{width}-{plugin_page.name}")


@pytest.mark.parametrize("width", (375, 1280, 1440))
def test_the_open_outsource_menu_stays_inside_the_page(width: int, states: States, signed_in: dict[str, Page]) -> None:
    """At 1280 px the drop-down, opening rightwards from the menu at the title's right end, used to
    widen the page to 1324 px."""
    page = signed_in["lead"]
    page.set_viewport_size({"width": width, "height": 860})
    page.goto(f"/tickets/{states.unsent.lead_ticket}")
    _open_menu(page)
    assert overflow(page) == []
    box = page.locator(".outsource-menu ul").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert _lines(page.locator(".outsource-menu summary")) == 1


def _lines(element: Locator) -> int:
    """How many lines the element's text takes: a word broken over two lines counts two."""
    return int(
        element.evaluate(
            "el => { const r = document.createRange(); r.selectNodeContents(el); return r.getClientRects().length; }"
        )
    )


def test_the_axe_check_fails_a_nameless_button_and_a_wide_page(browser: Browser) -> None:
    """The checks above would pass on anything if axe were not injected and run: they catch a known fault."""
    page = browser.new_page(viewport={"width": 375, "height": 600})
    page.set_content(
        '<!doctype html><html lang="en"><title>t</title><main><button></button><div style="width:600px">x</div></main>'
    )
    assert [v["rule"] for v in axe_violations(page)] == ["button-name"]
    assert overflow(page)[0].startswith("scrollWidth 608 > 375")
    page.close()
