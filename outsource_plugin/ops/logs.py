"""Structured logs: the fields every plugin log record carries, and a JSON formatter.

The plugin logs under the ``outsource_plugin`` logger with ``extra`` fields
naming what the record is about: ``partner_id``, ``partner``,
``engagement_id``, ``engagement_uid`` and ``outbox_message_id`` (whichever
apply). A host that wants one JSON object per line attaches the formatter::

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.getLogger("outsource_plugin").addHandler(handler)

Only these names and ids go into records, never a partner's settings: they
may hold credentials (see ``PartnerAdapter.secret_fields``).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from outsource_plugin.db.models import Engagement, OutboxMessage, Partner

#: the ``extra`` fields a plugin record may carry, in the order the formatter writes them
FIELDS = ("partner_id", "partner", "engagement_id", "engagement_uid", "outbox_message_id")


def log_context(
    *,
    partner: Partner | None = None,
    engagement: Engagement | None = None,
    message: OutboxMessage | None = None,
) -> dict[str, Any]:
    """The ``extra`` for a record about these objects: ids and the partner's name, nothing else."""
    extra: dict[str, Any] = {}
    if message is not None:
        extra.update(outbox_message_id=message.message_id, partner_id=message.partner_id)
        extra["engagement_uid"] = message.engagement_uid
    if engagement is not None:
        extra.update(engagement_id=engagement.id, engagement_uid=engagement.uid, partner_id=engagement.partner_id)
    if partner is not None:
        extra.update(partner_id=partner.id, partner=partner.name)
    return extra


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the plugin's fields, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            body["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)
