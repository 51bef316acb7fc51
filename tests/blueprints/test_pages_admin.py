"""Dashboard and partner administration pages with Flask's test client."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import db
from outsource_plugin.db.models import MessageState, OutboxMessage, Partner, UnmatchedMail
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_outbox_message, add_ticket
from tests.blueprints.page_helpers import html, page_client, post
from tests.security.helpers import add_peer

P = "/outsource"


def counts(page: str, role: str) -> dict[str, int]:
    block = re.search(rf'data-role="{role}".*?</nav>', page, re.S)
    assert block is not None
    return {f: int(n) for f, n in re.findall(r'data-folder="(\w+)".*?data-count="(\d+)"', block.group(0), re.S)}


def test_dashboard_counts_each_folder_for_each_role(app: Flask, partner_id: int) -> None:
    for status in (Status.UNSENT, Status.ASSIGNED, Status.IN_PROGRESS, Status.ACCEPTED):
        add_engagement(app, partner_id, status=status, ticket_id=add_ticket(app))
    add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE)
    page = html(page_client(app, Permission.PARTNER_MANAGEMENT), f"{P}/dashboard")
    assert counts(page, "lead") == {
        "unsent": 1,
        "waiting_acceptance": 1,
        "declined": 0,
        "accepted_or_in_progress": 2,
        "waiting_approval": 0,
        "complete": 0,
        "canceled": 0,
    }
    assert counts(page, "service")["waiting_acceptance"] == 1 and "unsent" not in counts(page, "service")


def test_dashboard_pages_with_a_cursor_and_links_offers_to_their_page(app: Flask, partner_id: int) -> None:
    app.config["OUTSOURCE_PAGE_SIZE"] = 2
    app.extensions["outsource"].config["OUTSOURCE_PAGE_SIZE"] = 2
    try:
        ids = [add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE) for _ in range(3)]
        client = page_client(app, Permission.PARTNER_MANAGEMENT)
        first = html(client, f"{P}/dashboard?role=service&folder=waiting_acceptance&sort=created")
        assert first.count("data-engagement-id=") == 2
        assert f'href="{P}/engagements/{ids[0]}"' in first
        following = re.search(r'href="([^"]+)" rel="next"', first)
        assert following is not None
        second = html(client, following.group(1).replace("&amp;", "&"))
        assert second.count("data-engagement-id=") == 1 and f'data-engagement-id="{ids[2]}"' in second
        assert 'rel="next"' not in second
    finally:
        app.extensions["outsource"].config["OUTSOURCE_PAGE_SIZE"] = 50


def test_dashboard_links_tickets_to_the_host_ticket_page(app: Flask, partner_id: int) -> None:
    ticket_id = add_ticket(app)
    add_engagement(app, partner_id, status=Status.ASSIGNED, ticket_id=ticket_id)
    page = html(page_client(app, Permission.PARTNER_MANAGEMENT), f"{P}/dashboard?role=lead&folder=waiting_acceptance")
    assert f'href="/tickets/{ticket_id}"' in page


def test_dashboard_and_admin_need_partner_management(app: Flask, partner_id: int) -> None:
    client = page_client(app, Permission.OUTSOURCE)
    for path in ("/dashboard", "/partners", "/partners/new", f"/partners/{partner_id}", "/deadletters"):
        assert "permission" in html(client, P + path, status=403)
    post(client, f"{P}/partners/{partner_id}/disable", status=403)
    with app.app_context():
        assert db.session.get(Partner, partner_id).active


def test_register_a_peer_partner_from_its_schema_form(app: Flask) -> None:
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    form = html(client, f"{P}/partners/new?adapter=peer")
    assert 'name="config.base_url"' in form and 'type="url"' in form
    assert re.search(r'type="password" name="config.secret"', form)
    data = {
        "adapter": "peer",
        "name": "Fabrikam",
        "active": "on",
        "config.base_url": "http://127.0.0.1:9/outsource",
        "config.link_id": "fab-link",
        "config.secret": "s3cret-s3cret-s3cret",
        "terms.acceptance_hours": "12",
    }
    response = post(client, f"{P}/partners/new", data)
    with app.app_context():
        partner = db.session.scalars(select(Partner).where(Partner.name == "Fabrikam")).one()
        assert partner.config["secret"] == "s3cret-s3cret-s3cret" and partner.default_terms == {"acceptance_hours": 12}
        partner_id = partner.id
    assert response.headers["Location"].endswith(f"{P}/partners/{partner_id}")
    edit = html(client, f"{P}/partners/{partner_id}")
    assert "s3cret" not in edit and "fab-link" in edit and "never shown" in edit
    post(client, f"{P}/partners/{partner_id}", {**data, "config.secret": "", "name": "Fabrikam Ltd"})
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        assert partner.name == "Fabrikam Ltd" and partner.config["secret"] == "s3cret-s3cret-s3cret"


def test_partner_form_errors_stay_on_the_form(app: Flask) -> None:
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    response = post(client, f"{P}/partners/new", {"adapter": "peer", "name": "Bad", "config.link_id": "x"}, status=400)
    text = response.get_data(as_text=True)
    assert "invalid input" in text and 'value="Bad"' in text
    post(client, f"{P}/partners/new", {"adapter": "memory", "name": "Contoso"}, status=409)


def test_disable_and_test_connection(app: Flask, partner_id: int) -> None:
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    response = post(client, f"{P}/partners/{partner_id}/test")
    assert "Connection test" in html(client, response.headers["Location"])
    post(client, f"{P}/partners/{partner_id}/disable")
    with app.app_context():
        assert not db.session.get(Partner, partner_id).active
    assert "Disabled" in html(client, f"{P}/partners")


def test_the_partner_page_says_we_ended_it_and_whether_the_peer_was_told(app: Flask, partner_id: int) -> None:
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    peer_id = add_peer(app, "Fabrikam Repairs", "northwind-fabrikam", "f" * 32)
    post(client, f"{P}/partners/{peer_id}/disable", {"reason": "Contract over"})
    post(client, f"{P}/partners/{peer_id}/disable", {"reason": "a second click"})  # changes nothing
    page = html(client, f"{P}/partners/{peer_id}")
    assert "We ended the partnership: Contract over." in page
    assert "Fabrikam Repairs has not been reached yet: it is told as soon as it answers." in page
    for due, error, said in (
        (None, "POST http://partner.test/leave answered 401", "Fabrikam Repairs refused the notice: POST http"),
        (None, None, "Fabrikam Repairs was told."),
    ):
        with app.app_context():
            partner = db.session.get(Partner, peer_id)
            partner.leave_due_at, partner.leave_error = due, error
            db.session.commit()
        assert said in html(client, f"{P}/partners/{peer_id}")
    post(client, f"{P}/partners/{partner_id}/disable", {"reason": "Simulation over"})
    page = html(client, f"{P}/partners/{partner_id}")  # an in-memory partner, like a ticket system, has nobody to tell
    assert "We ended the partnership: Simulation over." in page and "told" not in page


def test_dead_letters_list_and_retry(app: Flask, partner_id: int) -> None:
    message_id = add_outbox_message(app, partner_id)
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    page = html(client, f"{P}/deadletters")
    assert f'data-message-id="{message_id}"' in page and "partner refused" in page
    post(client, f"{P}/deadletters/{message_id}/retry")
    with app.app_context():
        assert db.session.get(OutboxMessage, message_id).state is MessageState.PENDING
    post(client, f"{P}/deadletters/{message_id}/retry", status=404)


def _statements(app: Flask, client: object, path: str) -> int:
    from sqlalchemy import event

    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        html(client, path)  # type: ignore[arg-type]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_dashboard_queries_do_not_grow_with_the_rows(app: Flask, partner_id: int) -> None:
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    path = f"{P}/dashboard?role=service&folder=waiting_acceptance"
    add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE)
    few = _statements(app, client, path)
    for _ in range(30):
        add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE)
    assert _statements(app, client, path) == few


def test_register_an_email_partner_with_two_addresses_from_the_form(app: Flask) -> None:
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    data = {
        "adapter": "email",
        "name": "Cabling Ltd",
        "active": "on",
        "config.addresses": "pat@cabling.test, crew@cabling.test",
        "config.mailbox": "desk@northwind.test",
        "config.smtp_host": "127.0.0.1",
        "config.imap_host": "127.0.0.1",
        "config.imap_user": "desk",
        "config.imap_secret": "imap-s3cret",
    }
    post(client, f"{P}/partners/new", data)
    with app.app_context():
        partner = db.session.scalars(select(Partner).where(Partner.name == "Cabling Ltd")).one()
        assert partner.config["addresses"] == ["pat@cabling.test", "crew@cabling.test"]
        partner_id = partner.id
    edit = html(client, f"{P}/partners/{partner_id}")
    assert 'value="pat@cabling.test, crew@cabling.test"' in edit and "imap-s3cret" not in edit
    post(
        client, f"{P}/partners/{partner_id}", {**data, "config.imap_secret": "", "config.addresses": "pat@cabling.test"}
    )
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        assert partner.config["addresses"] == ["pat@cabling.test"] and partner.config["imap_secret"] == "imap-s3cret"


def test_an_email_partners_page_lists_the_replies_kept_aside_as_text(app: Flask, partner_id: int) -> None:
    with app.app_context():
        db.session.add(
            UnmatchedMail(
                partner_id=partner_id,
                message_id="<m1@stranger.test>",
                sender="eve@stranger.test",
                subject="<script>alert(1)</script> door code?",
                reason="its sender is not one of the partner's addresses",
            )
        )
        db.session.commit()
    page = html(page_client(app, Permission.PARTNER_MANAGEMENT), f"{P}/partners/{partner_id}")
    assert "Replies kept aside" in page and "eve@stranger.test" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; door code?" in page and "<script>alert(1)" not in page
    assert "not one of the partner&#39;s addresses" in page
