"""One call from this host's plugin to another's, outside a partner adapter (joining, key rotation).

Both read the answer the same way: a status and a JSON object, or None when
the other host did not answer one; a host that cannot be reached at all is a
``TransientAdapterError`` that names only the kind of failure, never a header.
"""

from __future__ import annotations

from typing import Any

import requests

from outsource_plugin.errors import TransientAdapterError


def call_host(
    http: requests.Session,
    method: str,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    who: str,
) -> tuple[int, dict[str, Any] | None]:
    """The answer's status and JSON object; ``who`` names the other host in the error."""
    try:
        response = http.request(method, url, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as err:
        raise TransientAdapterError(f"{who} could not be reached ({type(err).__name__})") from err
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return response.status_code, answer if isinstance(answer, dict) else None
