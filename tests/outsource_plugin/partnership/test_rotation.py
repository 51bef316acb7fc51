"""The key rotation state machine, step by step on two peers' settings, without a server."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from outsource_plugin.errors import RotationCrossed, RotationPending, ValidationFailed
from outsource_plugin.partnership import rotation
from outsource_plugin.partnership.rotation import Rotation, Step

LINK = "inv-0123456789abcdef"
OLD = "the-old-shared-secret-of-both"
NOW = 1_000_000.0
WHEN = datetime(2026, 12, 4, 15, 30, tzinfo=timezone.utc)
OVERLAP = 300.0


def _peer() -> dict[str, Any]:
    return {"base_url": "http://b.test/outsource", "link_id": LINK, "secret": OLD, "previous_secret": None}


def _offered() -> tuple[dict[str, Any], dict[str, str]]:
    a, started = rotation.start(_peer(), NOW)
    assert started
    return a, rotation.offer(a)


def test_a_whole_rotation_ends_with_one_new_secret_on_both_sides_and_the_old_one_gone() -> None:
    a, offer = _offered()
    assert rotation.our_move(a, NOW) is Step.OFFERED and a["secret"] == OLD
    b, answer = rotation.answer_offer(_peer(), offer, LINK)
    assert b["secret"] == OLD and b[rotation.NEXT] != OLD  # B verifies with both, signs with the old
    a = rotation.take_answer(a, answer, LINK, NOW)
    assert a["secret"] == b[rotation.NEXT] and a["previous_secret"] == OLD  # the overlap
    assert Rotation.of(a).private_key is None and rotation.our_move(a, NOW) is Step.SWITCHED
    assert rotation.confirming_secret(b) == a["secret"]
    b = rotation.confirm(b, offer["rotation_id"], WHEN, OVERLAP)
    assert b["secret"] == a["secret"] and b["previous_secret"] == OLD and rotation.NEXT not in b
    a = rotation.acknowledged(a, offer["rotation_id"], WHEN, OVERLAP)
    assert a["previous_secret"] == OLD and rotation.our_move(a, NOW) is None
    assert rotation.describe(a, "Contoso") == rotation.describe(b, "Contoso") == "Keys rotated 2026-12-04 15:30 UTC"
    end = WHEN.timestamp() + OVERLAP
    for side in (a, b):  # the old secret is accepted for the overlap, then retired
        assert rotation.retired(side, end - 1) is side
        assert rotation.retired(side, end)["previous_secret"] is None
        assert rotation.retired(side, end)["secret"] == side["secret"]


def test_a_new_rotation_is_not_cut_short_by_the_last_ones_overlap() -> None:
    a, offer = _offered()
    b, answer = rotation.answer_offer(_peer(), offer, LINK)
    a = rotation.acknowledged(rotation.take_answer(a, answer, LINK, NOW), offer["rotation_id"], WHEN, OVERLAP)
    a, _started = rotation.start(a, NOW)
    _b, second = rotation.answer_offer(
        rotation.confirm(b, offer["rotation_id"], WHEN, OVERLAP), rotation.offer(a), LINK
    )
    a = rotation.take_answer(a, second, LINK, NOW)
    later = rotation.retired(a, WHEN.timestamp() + OVERLAP)
    assert later is a and a["previous_secret"] != OLD  # the key before this switch stays for its overlap


def test_the_same_offer_twice_gets_the_same_answer_and_the_same_confirmation_is_answered_again() -> None:
    _a, offer = _offered()
    b, answer = rotation.answer_offer(_peer(), offer, LINK)
    again, same = rotation.answer_offer(b, offer, LINK)
    assert again == b and same == answer
    done = rotation.confirm(b, offer["rotation_id"], WHEN, OVERLAP)
    assert rotation.confirm(done, offer["rotation_id"], WHEN, OVERLAP) == done
    with pytest.raises(RotationPending):
        rotation.answer_offer(done, offer, LINK)  # a completed rotation does not start again
    assert rotation.confirming_secret(done) == done["secret"]


def test_crossed_rotations_converge_on_the_lower_rotation_id() -> None:
    a, offer_a = _offered()
    b, offer_b = _offered()
    low, high = sorted([(a, offer_a), (b, offer_b)], key=lambda pair: pair[1]["rotation_id"])
    with pytest.raises(RotationCrossed):
        rotation.answer_offer(low[0], high[1], LINK)  # the lower one's side refuses the higher offer
    high_side, answer = rotation.answer_offer(high[0], low[1], LINK)  # and the higher one's side answers
    assert Rotation.of(high_side).step is Step.ANSWERED and Rotation.of(high_side).private_key is None
    assert rotation.dropped(high_side, high[1]["rotation_id"]) == high_side  # no longer its offer to drop
    low_side = rotation.take_answer(low[0], answer, LINK, NOW)
    assert low_side["secret"] == high_side[rotation.NEXT]
    assert Rotation.of(rotation.dropped(a, offer_a["rotation_id"])).step is None


def test_an_offer_while_our_own_rotation_is_being_confirmed_waits() -> None:
    a, offer = _offered()
    _b, answer = rotation.answer_offer(_peer(), offer, LINK)
    a = rotation.take_answer(a, answer, LINK, NOW)
    _c, other = _offered()
    with pytest.raises(RotationPending):
        rotation.answer_offer(a, other, LINK)


def test_a_confirmation_of_an_unknown_rotation_changes_nothing() -> None:
    _a, offer = _offered()
    with pytest.raises(RotationPending):
        rotation.confirm(_peer(), offer["rotation_id"], WHEN, OVERLAP)


def test_an_answer_that_the_new_key_does_not_confirm_keeps_the_old_key() -> None:
    a, offer = _offered()
    _b, answer = rotation.answer_offer(_peer(), offer, LINK)
    with pytest.raises(ValidationFailed):
        rotation.take_answer(a, {**answer, "confirmation": "0" * 64}, LINK, NOW)
    with pytest.raises(ValidationFailed):
        rotation.take_answer(a, {**answer, "rotation_id": "f" * 32}, LINK, NOW)
    assert a["secret"] == OLD and rotation.our_move(a, NOW) is Step.OFFERED


def test_a_second_start_while_one_is_under_way_changes_nothing() -> None:
    a, _offer = _offered()
    assert rotation.start(a, NOW + 5) == (a, False)
    b, _answer = rotation.answer_offer(_peer(), _offer, LINK)
    assert rotation.start(b, NOW + 5) == (b, False)


def test_a_failed_move_waits_and_counts_and_a_stale_one_is_ignored() -> None:
    a, offer = _offered()
    waited = rotation.failed(a, offer["rotation_id"], 8.0, NOW)
    assert Rotation.of(waited).attempts == 1 and rotation.our_move(waited, NOW + 7) is None
    assert rotation.our_move(waited, NOW + 8) is Step.OFFERED
    assert rotation.failed(a, "e" * 32, 8.0, NOW) == a


def test_the_words_for_the_page_never_carry_a_key() -> None:
    a, offer = _offered()
    b, _answer = rotation.answer_offer(_peer(), offer, LINK)
    said = [rotation.describe(a, "Contoso"), rotation.describe(b, "Northwind"), rotation.describe(_peer(), "X")]
    assert said == [
        "Rotating keys: waiting for Contoso",
        "Rotating keys: Northwind started a rotation; waiting for its confirmation",
        None,
    ]
    for text in said[:2]:
        assert all(str(v) not in str(text) for v in (OLD, b[rotation.NEXT], Rotation.of(a).private_key))
