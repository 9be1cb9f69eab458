"""Delivering replies of the API channel: a signed POST to the site's callback URL.

The body carries ``delivery_id``, which stays the same across retries, so the
receiver can drop a repeat; that makes resending after a timeout safe.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from canales.core.signing import sign
from canales.core.types import DeliveryError, DeliveryResult, OutboundDelivery
from canales.plugins.api.settings import ApiSettings

CHANNEL = "api"


def reply_body(outbound: OutboundDelivery) -> dict[str, Any]:
    """The JSON a callback receives (described in the OpenAPI document as
    ``ReplyCallback``)."""
    message = outbound.message
    return {
        "delivery_id": outbound.key,
        "conversation": {"id": outbound.conversation.id, "thread": outbound.conversation.thread_key},
        "recipient": {"id": outbound.contact.external_id},
        "message": {
            "seq": message.seq,
            "text": message.text,
            "buttons": message.payload.get("buttons", []),
            "author": message.author_kind,
            "created_at": message.created_at.isoformat(),
        },
    }


class Callbacks:
    """The site's HTTP client for callbacks (one connection pool per site)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            timeout=settings.callback_timeout, follow_redirects=False
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def deliver(self, outbound: OutboundDelivery) -> DeliveryResult:
        if self.settings.callback_url is None:
            # No callback: the reply is stored and the caller polls for it.
            return DeliveryResult()
        body = json.dumps(reply_body(outbound), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-canales-delivery": outbound.key,
            "x-canales-timestamp": timestamp,
            "x-canales-signature": sign(self.settings.secret.reveal(), timestamp, body),
        }
        try:
            response = await self.client.post(str(self.settings.callback_url), content=body, headers=headers)
        except httpx.TimeoutException as exc:
            # Safe to resend: the receiver drops a repeated delivery_id.
            raise DeliveryError(f"callback timed out: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"callback failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            retry_after = response.headers.get("retry-after")
            raise DeliveryError(
                f"callback answered {response.status_code}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if response.status_code >= 300:
            raise DeliveryError(f"callback refused the reply: {response.status_code}", retry=False)
        return DeliveryResult(external_id=None)
