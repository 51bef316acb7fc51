"""The key rotation job: our next move in every rotation we started (``partnership.rotation``).

Each move is one signed request to the partner, and what it leads to is written
on a fresh read of the partner's settings (the partner may have called us in
between) and committed at once. A partner that is down is tried again with the
outbox's backoff: the rotation waits, both keys still accepted, until it returns. Once a
rotation is complete, the job also retires the old secret when its overlap is over.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.db.models import Partner, utcnow
from outsource_plugin.db.outbox import backoff
from outsource_plugin.errors import (
    RotationCrossed,
    RotationPending,
    TransientAdapterError,
    ValidationFailed,
)
from outsource_plugin.federation.calls import call_host
from outsource_plugin.federation.rekey import RotateAnswerSchema
from outsource_plugin.federation.signing import sign
from outsource_plugin.partnership import rotation
from outsource_plugin.state import OutsourceState
from outsource_plugin.validation.schemas import load

log = logging.getLogger(__name__)


def rotate_due(state: OutsourceState) -> int:
    """Take every due move; returns how many were taken (whatever their outcome)."""
    query = select(Partner).where(Partner.active.is_(True), Partner.link_id.is_not(None)).order_by(Partner.id)
    partners = [p for p in state.session.scalars(query) if rotation.ROTATION in adapter_class(p.adapter).state_fields]
    state.session.commit()
    moved = 0
    for partner in partners:
        step = rotation.our_move(partner.config, time.time())
        if step is not None:
            move(state, partner, step)
            moved += 1
        _retire(state, partner)
    return moved


def _retire(state: OutsourceState, partner: Partner) -> None:
    """Drop the old secret once the overlap after a completed rotation is over."""
    config = partner.config
    if rotation.retired(config, time.time()) is not config:
        partner.config = rotation.retired(_fresh(state, partner), time.time())
        state.session.commit()


def move(state: OutsourceState, partner: Partner, step: rotation.Step) -> None:
    """One move of ``partner``'s rotation, committed."""
    config = partner.config
    current = rotation.Rotation.of(config)
    rotation_id = str(current.rotation_id)
    try:
        if step is rotation.Step.OFFERED:
            answer = load(RotateAnswerSchema(), _post(state, config, "/rotate", rotation.offer(config)))
            fresh = _fresh(state, partner)
            partner.config = rotation.take_answer(fresh, answer, str(partner.link_id), time.time())
        else:
            _post(state, config, "/rotate/confirm", {"rotation_id": rotation_id})
            overlap = float(state.config["OUTSOURCE_ROTATION_OVERLAP"])
            partner.config = rotation.acknowledged(_fresh(state, partner), rotation_id, utcnow(), overlap)
    except RotationCrossed:
        partner.config = rotation.dropped(_fresh(state, partner), rotation_id)
    except (TransientAdapterError, RotationPending, ValidationFailed) as err:
        wait = backoff(current.attempts + 1, cap=float(state.config["OUTSOURCE_BACKOFF_CAP"]))
        log.warning("key rotation with partner %s waits %.1fs: %s", partner.id, wait, err.message)
        partner.config = rotation.failed(_fresh(state, partner), rotation_id, wait, time.time())
    state.session.commit()


def _fresh(state: OutsourceState, partner: Partner) -> dict[str, Any]:
    state.session.rollback()
    state.session.refresh(partner, with_for_update=True)
    return partner.config


def _post(state: OutsourceState, config: dict[str, Any], path: str, payload: dict[str, str]) -> Any:
    """One request signed with the secret we sign with now; any refusal is worth another try
    later, except a crossed rotation, which the partner settled."""
    url = f"{str(config['base_url']).rstrip('/')}/federation/v1{path}"
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = sign(str(config["link_id"]), str(config["secret"]), "POST", urlsplit(url).path, body)
    headers["Content-Type"] = "application/json"
    status, answer = call_host(
        state.http,
        "POST",
        url,
        body=body,
        headers=headers,
        timeout=float(state.config["OUTSOURCE_HTTP_TIMEOUT"]),
        who="the partner",
    )
    said = answer.get("error") if answer is not None else None
    if status == 409 and said == RotationCrossed.code:
        raise RotationCrossed("the partner's crossing rotation goes on")
    if status != 200 or answer is None:
        raise TransientAdapterError(f"the partner answered HTTP {status} ({said or 'no reason'})")
    return answer
