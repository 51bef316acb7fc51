"""A batch of pushed messages (issue 18, target 2): ``POST /messages/batch``.

The receiver validates the whole batch first (a bad item is a 400 naming it,
nothing written), applies what is next in the feed in one transaction, and
answers each message on its own so that the sender settles each one as it
settled a single push: applied, duplicate, out of order (retried), or refused.
Requests are signed and sent through the Flask test client.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from examples.helpdesk.models import Note, db
from outsource_plugin.db.models import Engagement, EntryLink, Partner
from outsource_plugin.federation.batch import batch_changes
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.pushed import receive_batch
from outsource_plugin.workflow import Status
from tests.blueprints.api_helpers import add_engagement, add_ticket, table_rows
from tests.security.helpers import PEER_LINK, PEER_SECRET, message, signed
from tests.statements import statements


def note(seq: int, uid: str, text: str) -> dict[str, Any]:
    entry = {
        "entry_key": f"service:note:{seq}",
        "op": "upsert",
        "kind": "note",
        "data": {"text": text, "internal": False},
        "origin": {"side": "service", "org": "Northwind IT", "user": "Sam", "at": "2026-12-01T10:00:00+00:00"},
    }
    return message(seq, "entry", uid, entry)


def push(app: Flask, messages: list[dict[str, Any]]) -> TestResponse:
    return signed(
        app.test_client(), "POST", "/messages/batch", link=PEER_LINK, secret=PEER_SECRET, payload={"messages": messages}
    )


def results(response: TestResponse) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.get_json()
    return [(r["id"], r.get("status") or r["error"]) for r in response.get_json()["results"]]


def notes(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Note.body).where(Note.author.is_not(None)).order_by(Note.id)))


def cursor(app: Flask, peer: int) -> str | None:
    with app.app_context():
        return db.session.scalar(select(Partner.poll_cursor).where(Partner.id == peer))


def test_a_batch_is_applied_in_order_and_each_message_answered(app: Flask, peer: int, uid: str) -> None:
    batch = [note(n, uid, f"step {n}") for n in (1, 2, 3)]
    before = notes(app)
    assert results(push(app, batch)) == [(m["id"], "applied") for m in batch]
    assert notes(app) == [*before, "step 1", "step 2", "step 3"]
    assert cursor(app, peer) == "3"


def test_a_replayed_batch_applies_nothing_twice(app: Flask, peer: int, uid: str) -> None:
    batch = [note(n, uid, f"once {n}") for n in (1, 2)]
    push(app, batch)
    rows = table_rows(app)
    replay = push(app, [*batch, note(3, uid, "new")])  # a fresh request id, the same messages and one more
    assert results(replay) == [
        (batch[0]["id"], "duplicate"),
        (batch[1]["id"], "duplicate"),
        (replay.get_json()["results"][2]["id"], "applied"),
    ]
    assert notes(app).count("once 1") == notes(app).count("once 2") == 1
    assert len(table_rows(app)[Note.__tablename__]) == len(rows[Note.__tablename__]) + 1


def test_a_gap_inside_a_batch_holds_back_what_follows_it(app: Flask, peer: int, uid: str) -> None:
    first, second, fourth = note(1, uid, "one"), note(2, uid, "two"), note(4, uid, "four")
    answer = results(push(app, [fourth, second, first]))  # the receiver keeps the feed's order
    assert answer == [(first["id"], "applied"), (second["id"], "applied"), (fourth["id"], "out_of_order")]
    third = note(3, uid, "three")
    assert results(push(app, [third, fourth])) == [(third["id"], "applied"), (fourth["id"], "applied")]
    assert notes(app)[-4:] == ["one", "two", "three", "four"]


def test_a_batch_that_starts_past_the_next_number_is_a_409(app: Flask, peer: int, uid: str) -> None:
    rows = table_rows(app)
    answer = push(app, [note(2, uid, "two"), note(3, uid, "three")])
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["error"] == "out_of_order" and answer.get_json()["expected"] == 1
    assert table_rows(app) == rows


@pytest.mark.parametrize("seqs", [(2, 3), (1, 3)], ids=["starts-ahead", "gap-inside"])
def test_a_backing_off_peer_whose_batch_is_ahead_is_asked_at_the_next_round(
    app: Flask, peer: int, uid: str, seqs: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its push proves it is up, whether the whole batch is early (409) or an item inside it is:
    the poll the answer nudges is not held back by the backoff, and its failures stay counted."""
    with app.app_context():
        partner = db.session.get(Partner, peer)
        assert partner is not None
        partner.poll_failures, partner.poll_due_at = 3, datetime(2099, 1, 1) + timedelta(minutes=5)
        db.session.commit()
    nudged: list[bool] = []
    monkeypatch.setattr(app.extensions["outsource"], "poll_now", lambda: nudged.append(True))
    answer = push(app, [note(n, uid, f"step {n}") for n in seqs])
    assert "out_of_order" in str(answer.get_json()), answer.get_json()
    assert nudged == [True]
    with app.app_context():
        partner = db.session.get(Partner, peer)
        assert partner is not None
        assert (partner.poll_failures, partner.poll_due_at) == (3, None)


def test_a_bad_item_is_a_400_naming_it_and_nothing_is_written(app: Flask, peer: int, uid: str) -> None:
    bad = note(2, uid, "two")
    bad["payload"]["data"]["text"] = ""
    rows = table_rows(app)
    answer = push(app, [note(1, uid, "one"), bad, note(3, uid, "three")])
    body = answer.get_json()
    assert answer.status_code == 400, body
    assert body["error"] == "validation_failed" and "messages.1.payload.data.text" in body["message"], body
    assert list(body["details"]["messages"]) == ["1"]
    assert table_rows(app) == rows


def test_a_bad_envelope_is_a_400_naming_its_item(app: Flask, peer: int, uid: str) -> None:
    bad = note(2, uid, "two")
    bad["seq"] = "two"
    answer = push(app, [note(1, uid, "one"), bad])
    assert answer.status_code == 400 and "messages.1.seq" in answer.get_json()["message"], answer.get_json()


def test_another_partners_engagement_is_refused_in_its_item_and_holds_back_the_rest(
    app: Flask, peer: int, uid: str, partner_id: int
) -> None:
    other = add_engagement(app, partner_id, status=Status.ACCEPTED, ticket_id=add_ticket(app, "Not yours"))
    with app.app_context():
        foreign = str(db.session.get(Engagement, other).uid)
    batch = [note(1, uid, "mine"), note(2, foreign, "not mine"), note(3, uid, "after")]
    answer = push(app, batch)
    assert results(answer) == [
        (batch[0]["id"], "applied"),
        (batch[1]["id"], "not_found"),
        (batch[2]["id"], "out_of_order"),
    ]
    assert "not mine" not in notes(app) and cursor(app, peer) == "1"


def test_numbers_a_poll_took_after_the_batch_read_the_cursor_are_answered_as_duplicates(
    app: Flask, peer: int, uid: str
) -> None:
    """The run's compare-and-set fails when the cursor moved since it was read: each message then
    claims its own number, and only what nobody applied is applied."""
    batch = [note(n, uid, f"raced {n}") for n in (1, 2, 3)]
    push(app, batch[:2])
    with app.test_request_context():
        partner = db.session.get(Partner, peer)
        answers = receive_batch(current_outsource(), partner, batch_changes({"messages": batch}), applied=0)
        db.session.commit()
    assert [a["status"] for a in answers] == ["duplicate", "duplicate", "applied"]
    assert [notes(app).count(f"raced {n}") for n in (1, 2, 3)] == [1, 1, 1]
    assert cursor(app, peer) == "3"


def test_a_batch_of_new_entries_takes_as_many_statements_however_many_it_carries(
    app: Flask, peer: int, uid: str
) -> None:
    """Each entry's copy and link are written in bulk with the batch's others, not one flush each.

    The plugin's statements are counted: the host's own INSERTs are what any sync must write (on
    SQLite the ORM inserts those rows one statement each, as the host's own bulk writes do)."""

    def pushed(first: int, count: int) -> list[str]:
        with app.app_context(), statements() as ran:
            answers = results(push(app, [note(n, uid, f"bulk {n}") for n in range(first, first + count)]))
        assert {status for _, status in answers} == {"applied"}
        return [s for s in ran if " hd_" not in s]

    few, many = pushed(1, 5), pushed(6, 40)
    assert len(many) == len(few)
    assert notes(app) == [f"bulk {n}" for n in range(1, 46)]
    with app.app_context():
        links = db.session.scalars(select(EntryLink).where(EntryLink.engagement_uid == uid)).all()
        copies = {str(n.id) for n in db.session.scalars(select(Note).where(Note.body.like("bulk %")))}
    assert {link.local_id for link in links} == copies and all(link.sent and not link.deleted for link in links)


def test_an_entry_made_and_edited_in_one_batch_lands_once_as_it_ends(app: Flask, peer: int, uid: str) -> None:
    made, edited = note(1, uid, "first words"), note(2, uid, "last words")
    edited["payload"] = {**edited["payload"], "entry_key": made["payload"]["entry_key"]}
    assert [status for _, status in results(push(app, [made, edited, note(3, uid, "another")]))] == ["applied"] * 3
    assert notes(app) == ["last words", "another"]


def test_numbers_already_applied_are_answered_as_duplicates_without_checking_their_payloads(
    app: Flask, peer: int, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a single push answers one: the sender's retry, or a batch the poll overtook, costs the
    receiver its envelopes only (the payload checks were most of a batch's time on the lead)."""
    from outsource_plugin.federation import batch as batch_module

    first = [note(n, uid, f"once {n}") for n in (1, 2)]
    push(app, first)
    checked: list[int] = []
    check = batch_module.checked_change
    monkeypatch.setattr(batch_module, "checked_change", lambda c: checked.append(c.sequence) or check(c))
    again = [*first, note(3, uid, "three")]
    assert [status for _, status in results(push(app, again))] == ["duplicate", "duplicate", "applied"]
    assert checked == [3]
    assert notes(app) == ["once 1", "once 2", "three"]


def test_a_batch_reads_its_engagements_together_however_many_it_touches(app: Flask, peer: int, uid: str) -> None:
    """The look-ups of a batch's engagements do not grow with how many engagements it touches."""
    others = [
        add_engagement(app, peer, status=Status.ACCEPTED, ticket_id=add_ticket(app, f"Other {n}")) for n in range(3)
    ]
    with app.app_context():
        over = [uid, *(str(db.session.get(Engagement, e).uid) for e in others)]

    def reads(first: int, uids: list[str]) -> list[str]:
        batch = [note(first + n, uids[n % len(uids)], f"spread {first + n}") for n in range(8)]
        with app.app_context(), statements() as ran:
            assert {status for _, status in results(push(app, batch))} == {"applied"}
        return [s for s in ran if "FROM outsource_engagement " in s]

    one = reads(1, over[:1])
    assert len(reads(9, over)) == len(one)
