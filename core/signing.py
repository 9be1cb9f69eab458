"""HMAC signatures for webhooks we receive and send: ``sha256=<hex>`` over
``{timestamp}.{body}``, compared in constant time, with a freshness window against
replays (the scheme Chatwoot adopted for its outgoing webhooks)."""

from __future__ import annotations

import hashlib
import hmac
import time

PREFIX = "sha256="


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


class BadSignature(Exception):
    """Why a signed request was refused (missing, malformed, wrong, stale)."""


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Raise :class:`BadSignature` unless ``signature`` is the HMAC of
    ``{timestamp}.{body}`` and ``timestamp`` is within ``tolerance`` seconds."""
    if not signature:
        raise BadSignature("missing signature")
    if not timestamp:
        raise BadSignature("missing timestamp")
    try:
        sent = int(timestamp)
    except ValueError:
        raise BadSignature("the timestamp is not a whole number of seconds") from None
    if abs((time.time() if now is None else now) - sent) > tolerance:
        raise BadSignature("the timestamp is too old or in the future")
    if not signature.startswith(PREFIX) or len(signature) != len(PREFIX) + 64:
        raise BadSignature("the signature must be sha256= followed by 64 hex digits")
    if not hmac.compare_digest(signature, sign(secret, timestamp, body)):
        raise BadSignature("wrong signature")
