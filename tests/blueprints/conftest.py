"""The fuzz suite's tally, reported once at the end of the run."""

from __future__ import annotations

import pytest

from tests.blueprints.fuzz_cases import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY["inputs"]:
        terminalreporter.write_line(f"FUZZ inputs={TALLY['inputs']} correct_4xx={TALLY['correct_4xx']}")
