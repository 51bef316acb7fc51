"""docs/integrating.md's code blocks, for the tests that check them against the test hosts' real files."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "integrating.md").read_text()
#: (language, code) of every python and jinja block, in order
BLOCKS: list[tuple[str, str]] = re.findall(r"```(python|jinja)\n(.*?)```", GUIDE, re.S)


def snippet(marker: str) -> str:
    """The one block of the guide that shows ``marker``."""
    found = [block for _, block in BLOCKS if marker in block]
    assert len(found) == 1, f"one snippet of the guide shows {marker!r}, not {len(found)}"
    return found[0]


def lines(text: str) -> list[str]:
    """Non-blank lines without their indentation: the guide shows at top level what sits in a function."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def follows_in_order(snippet: list[str], source: list[str]) -> list[str]:
    """The snippet's lines that are missing from ``source``, in order (empty: all there)."""
    rest = iter(source)
    return [line for line in snippet if not any(line == candidate for candidate in rest)]
