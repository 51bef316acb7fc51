"""Reading mail servers' delivery reports: which of our e-mails bounced, and why."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from outsource_plugin.adapters.email_bounces import Bounce, read_bounce

ORIGINAL = "Message-ID: <offer.abc123@example.test>\r\nSubject: Offer: Fix it\r\n\r\nThe offer.\r\n"


def report(action: str, original_part: str) -> EmailMessage:
    raw = (
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n"
        f"Final-Recipient: rfc822; pat@example.test\r\nAction: {action}\r\nStatus: 5.2.2\r\n"
        "Diagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n"
        f"\r\n--B\r\n{original_part}\r\n--B--\r\n"
    )
    message = message_from_bytes(raw.encode(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_report_with_the_whole_original_names_it_and_the_reason():
    found = read_bounce(report("failed", f"Content-Type: message/rfc822\r\n\r\n{ORIGINAL}"))
    assert found == Bounce("<offer.abc123@example.test>", "pat@example.test: 552 5.2.2 mailbox full")


def test_a_delay_is_not_a_bounce():
    assert read_bounce(report("delayed", f"Content-Type: text/rfc822-headers\r\n\r\n{ORIGINAL}")) is None
