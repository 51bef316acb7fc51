"""The many-workers run's figures, reported once at the end of the run (docs/RELIABILITY.md quotes them)."""

from __future__ import annotations

import pytest

#: filled in by tests/jobs/test_many_workers.py
FIGURES: dict[str, int] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.write_line("MANY_WORKERS " + " ".join(f"{k}={v}" for k, v in FIGURES.items()))
