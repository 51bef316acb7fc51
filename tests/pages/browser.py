"""Driving Debian's Chromium with Playwright against the two demo help desks."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect

from tests.cross_host.hosts import ROOT, Host
from tests.polling import eventually

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: how long a change may take to cross from one host to the other
SYNC_TIMEOUT = 30.0


def sign_in(browser: Browser, host: Host, user: str) -> Page:
    """A new browser context (its own cookies) signed in to ``host`` as ``user``."""
    context = browser.new_context(base_url=host.base, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(f"{user}@{host.domain}")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Tickets")).to_be_visible()
    return page


def shot(page: Page, name: str) -> None:
    """Save a screenshot of the whole page under docs/screenshots/ (overwritten on each run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def reload_until(page: Page, ready: Callable[[], bool], timeout: float = SYNC_TIMEOUT) -> None:
    """Reload until ``ready()`` holds: the other host's change has arrived."""

    def check() -> bool:
        page.reload()
        return ready()

    eventually(check, timeout=timeout, interval=0.3)


def menu_actions(page: Page) -> list[str]:
    """The transition options of the Outsource menu, in order; [] when there is no menu."""
    return [
        str(a.get_attribute("data-action"))
        for a in page.locator(".outsource-menu li:not(.om-extra) a[data-action]").all()
    ]


def open_menu_option(page: Page, action: str) -> None:
    """Open the Outsource menu with the keyboard and follow one option."""
    summary = page.locator(".outsource-menu summary")
    summary.focus()
    page.keyboard.press("Enter")
    option = page.locator(f'.outsource-menu a[data-action="{action}"]')
    expect(option).to_be_visible()
    option.click()


def bar_status(page: Page) -> str:
    return str(page.locator(".outsource-bar .outsource-status").get_attribute("data-status"))


def folder_count(page: Page, role: str, folder: str) -> int:
    text = page.locator(f'[data-role="{role}"] a[data-folder="{folder}"] .op-count').inner_text()
    return int(text)


def ticket_id_from(page: Page) -> str:
    found = re.search(r"/tickets/(\d+)", page.url)
    assert found, page.url
    return found.group(1)


def note(page: Page, text: str) -> Locator:
    return page.locator("article.note").filter(has_text=text)
