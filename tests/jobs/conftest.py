"""The many-workers run's figures, reported once at the end of the run (docs/RELIABILITY.md quotes them)."""

from __future__ import annotations

import pytest
from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Partner

#: filled in by tests/jobs/test_many_workers.py
FIGURES: dict[str, int] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.write_line("MANY_WORKERS " + " ".join(f"{k}={v}" for k, v in FIGURES.items()))


@pytest.fixture
def second_partner_id(app: Flask) -> int:
    """A partner registered after Contoso: polled and delivered to after it."""
    with app.app_context():
        partner = Partner(name="Fabrikam", adapter="memory", config={}, default_terms={})
        db.session.add(partner)
        db.session.commit()
        return int(partner.id)
