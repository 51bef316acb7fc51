"""Which failed answers are worth retrying: the shared rule, and the peer's own addition."""

from __future__ import annotations

import json

import pytest
import requests

from outsource_plugin.adapters.base import PartnerAdapter
from outsource_plugin.adapters.peer import BATCH_FRAME, PeerAdapter, packed


def answer(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return response


@pytest.mark.parametrize(("status", "retry"), [(429, True), (500, True), (503, True), (400, False), (409, False)])
def test_every_adapter_retries_429_and_5xx_only(status: int, retry: bool):
    assert PartnerAdapter(1, {}).retryable(answer(status, {"error": "out_of_order"})) is retry


def test_the_peer_also_retries_an_out_of_order_answer_and_no_other_409():
    peer = PeerAdapter(1, {})
    assert peer.retryable(answer(409, {"error": "out_of_order"}))
    assert not peer.retryable(answer(409, {"error": "conflict"}))
    assert peer.retryable(answer(503, {}))


def test_a_batch_body_stays_within_its_byte_limit_and_a_larger_message_goes_alone():
    two_fit = BATCH_FRAME + 2 * (10 + 1)  # each message and its comma
    assert packed([10, 10, 10], two_fit, 100) == [range(0, 2), range(2, 3)]
    assert packed([10, 500, 10], two_fit, 100) == [range(0, 1), range(1, 2), range(2, 3)]
    assert packed([1] * 5, 10**6, 2) == [range(0, 2), range(2, 4), range(4, 5)]
