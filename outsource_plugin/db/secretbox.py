"""Partner secrets encrypted at rest with Fernet.

``Partner.config`` reads and writes plaintext; the row holds each secret
setting (any key some installed adapter declares in ``secret_fields``) as
``{"$fernet": "<token>"}``. The keys come from ``OUTSOURCE_SECRET_KEYS``: the
first encrypts, every one decrypts, so a key is rotated by putting the new
one first, running ``flask outsource secrets rotate`` and then dropping the
old one. Unset, one key is derived from the app's ``SECRET_KEY`` with HKDF,
which is fine for a demo but ties the secrets to the session key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from outsource_plugin.adapters.registry import GROUP, adapter_class
from outsource_plugin.errors import SecretKeyError

MARKER = "$fernet"
_HKDF_INFO = b"outsource_plugin partner secrets"


def _key_list(setting: Any) -> list[str]:
    if isinstance(setting, str | bytes):
        setting = (setting.decode() if isinstance(setting, bytes) else setting).split(",")
    return [str(k).strip() for k in setting or () if str(k).strip()]


@cache
def derive_key(secret_key: str | bytes) -> bytes:
    """The Fernet key used when ``OUTSOURCE_SECRET_KEYS`` is unset: HKDF-SHA256 of ``SECRET_KEY``."""
    raw = secret_key.encode() if isinstance(secret_key, str) else secret_key
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(raw))


@cache
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, binascii.Error) as err:
            raise SecretKeyError(
                f"OUTSOURCE_SECRET_KEYS entry {position} is not a Fernet key "
                "(32 url-safe base64 bytes, e.g. from Fernet.generate_key())"
            ) from err
    return MultiFernet(fernets)


def box(config: Mapping[str, Any] | None = None) -> MultiFernet:
    """The keys of ``config`` (default: the current app's): the first encrypts, all decrypt."""
    config = current_app.config if config is None else config
    keys = _key_list(config.get("OUTSOURCE_SECRET_KEYS"))
    if not keys:
        secret_key = config.get("SECRET_KEY")
        if not secret_key:
            raise SecretKeyError("partner secrets need OUTSOURCE_SECRET_KEYS (or at least the app's SECRET_KEY) set")
        keys = [derive_key(secret_key).decode()]
    return _multi_fernet(tuple(keys))


@cache
def secret_names() -> frozenset[str]:
    """Every setting name an installed adapter declares secret: those are stored encrypted."""
    return frozenset(name for ep in entry_points(group=GROUP) for name in adapter_class(ep.name).secret_fields)


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {MARKER}


def seal(config: Mapping[str, Any], fernet: MultiFernet | None = None) -> dict[str, Any]:
    """``config`` as it is stored: every set secret encrypted with the first key."""
    names = secret_names()
    todo = [key for key, value in config.items() if key in names and value is not None and not is_sealed(value)]
    if not todo:
        return dict(config)
    fernet = fernet or box()
    return {key: _encrypt(fernet, value) if key in todo else value for key, value in config.items()}


def unseal(stored: Mapping[str, Any], fernet: MultiFernet | None = None) -> dict[str, Any]:
    """The plaintext settings of a stored config; a secret stored before encryption reads as it is."""
    if not any(is_sealed(v) for v in stored.values()):
        return dict(stored)
    fernet = fernet or box()
    return {key: _decrypt(fernet, value[MARKER]) if is_sealed(value) else value for key, value in stored.items()}


def reseal(stored: Mapping[str, Any], fernet: MultiFernet) -> dict[str, Any]:
    """Re-encrypt every secret with the first key, and encrypt any still stored in plaintext."""
    return seal(
        {key: {MARKER: _rotate(fernet, value[MARKER])} if is_sealed(value) else value for key, value in stored.items()},
        fernet,
    )


def seal_text(text: str) -> str:
    """One secret that is not an adapter setting (an invitation's private key), encrypted."""
    return box().encrypt(text.encode()).decode()


def unseal_text(token: str) -> str:
    try:
        return box().decrypt(token.encode()).decode()
    except InvalidToken as err:
        raise _unknown_key() from err


def reseal_text(token: str, fernet: MultiFernet) -> str:
    """A ``seal_text`` value under the first key."""
    return _rotate(fernet, token)


def _encrypt(fernet: MultiFernet, value: Any) -> dict[str, str]:
    return {MARKER: fernet.encrypt(json.dumps(value).encode()).decode()}


def _decrypt(fernet: MultiFernet, token: str) -> Any:
    try:
        return json.loads(fernet.decrypt(token.encode()))
    except InvalidToken as err:
        raise _unknown_key() from err


def _rotate(fernet: MultiFernet, token: str) -> str:
    try:
        return fernet.rotate(token.encode()).decode()
    except InvalidToken as err:
        raise _unknown_key() from err


def _unknown_key() -> SecretKeyError:
    return SecretKeyError(
        "a stored partner secret was encrypted with a key that is not in OUTSOURCE_SECRET_KEYS "
        "(or, when that is unset, with a different SECRET_KEY): add the old key back, "
        "or enter the partner's secrets again"
    )


def check_keys(config: Mapping[str, Any]) -> None:
    """Fail at start-up, not at the first partner read, when a configured key is malformed."""
    if _key_list(config.get("OUTSOURCE_SECRET_KEYS")):
        box(config)
