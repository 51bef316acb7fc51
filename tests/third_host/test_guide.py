"""The guide's "Mount it from one file" is Litware's mounting file, whole and word for word, and its
template snippet is Litware's ticket page, line by line and in order."""

from __future__ import annotations

from pathlib import Path

from tests.guide import follows_in_order, lines, snippet

HERE = Path(__file__).resolve().parent
MOUNTING_FILE = HERE / "outsourcing.py"


def test_mount_it_from_one_file_is_the_mounting_file() -> None:
    assert snippet("from tests.third_host.helpdesk import app") == MOUNTING_FILE.read_text()


def test_the_template_snippet_is_the_ticket_page() -> None:
    page = (HERE / "templates" / "litware_ticket.html").read_text()
    missing = follows_in_order(lines(snippet("outsource_bar(ticket)")), lines(page))
    assert missing == [], f"lines of the guide missing from the ticket page, or out of order: {missing}"
