"""Browser fixtures: Debian's Chromium through Playwright, and a pair of running demo hosts per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.cross_host.conftest import Pair, running_pair
from tests.pages.browser import CHROMIUM, LAUNCH_ARGS


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's Chromium is missing at {CHROMIUM}: the browser tests need it. "
            "Install it with `make system-deps` (apt-get install -y chromium)."
        )
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Northwind IT (lead) and Contoso Field Services (service), registered as each other's peer."""
    with running_pair(tmp_path_factory) as pair:
        yield pair
