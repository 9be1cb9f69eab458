"""Webhook bodies as Meta sends them, signed as Meta signs them, and delivered to an
app (through any httpx client: a real server's URL or an ASGI transport)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
from typing import Any

import httpx

_ids = itertools.count(1)


def sign(app_secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    # Meta sends unicode escaped (\u00e1), and signs exactly those bytes.
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()


def ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def messaging_entry(page_id: str, *events: dict[str, Any], at: dt.datetime | None = None) -> dict[str, Any]:
    time = max((e.get("timestamp", 0) for e in events), default=0) or ms(at or dt.datetime.now(dt.timezone.utc))
    return {"id": page_id, "time": time, "messaging": list(events)}


def feed_entry(page_id: str, *values: dict[str, Any]) -> dict[str, Any]:
    time = max((v.get("created_time", 0) for v in values), default=0)
    return {"id": page_id, "time": time, "changes": [{"field": "feed", "value": v} for v in values]}


def page_payload(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"object": "page", "entry": list(entries)}


class Webhooks:
    """Builds and delivers signed webhooks for one page to one app endpoint."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, *, page_id: str, app_secret: str, graph: Any = None
    ) -> None:
        self.graph = graph  # a GraphStandIn that learns what users wrote (windows, comments)
        self.client = client
        self.url = url
        self.page_id = page_id
        self.app_secret = app_secret
        self.delivered: list[bytes] = []

    # -- events ------------------------------------------------------------------

    def message(
        self, psid: str, text: str, at: dt.datetime, *, mid: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"mid": mid or f"m_{next(_ids)}", "text": text, **extra}
        return {"sender": {"id": psid}, "recipient": {"id": self.page_id}, "timestamp": ms(at), "message": message}

    def postback(self, psid: str, title: str, payload: str, at: dt.datetime) -> dict[str, Any]:
        return {
            "sender": {"id": psid},
            "recipient": {"id": self.page_id},
            "timestamp": ms(at),
            "postback": {"mid": f"m_pb_{next(_ids)}", "title": title, "payload": payload},
        }

    def echo(self, psid: str, text: str, at: dt.datetime, *, mid: str, metadata: str | None = None, app_id: str = "1") -> dict[str, Any]:
        message: dict[str, Any] = {"mid": mid, "text": text, "is_echo": True, "app_id": int(app_id)}
        if metadata is not None:
            message["metadata"] = metadata
        return {"sender": {"id": self.page_id}, "recipient": {"id": psid}, "timestamp": ms(at), "message": message}

    def read(self, psid: str, at: dt.datetime) -> dict[str, Any]:
        return {"sender": {"id": psid}, "recipient": {"id": self.page_id}, "timestamp": ms(at), "read": {"watermark": ms(at)}}

    def comment(
        self,
        comment_id: str,
        text: str,
        at: dt.datetime,
        *,
        post_id: str,
        user_id: str = "u-1",
        name: str = "Ana Pérez",
        parent_id: str | None = None,
        verb: str = "add",
        from_page: bool = False,
    ) -> dict[str, Any]:
        author = {"id": self.page_id, "name": "Página"} if from_page else {"id": user_id, "name": name}
        value: dict[str, Any] = {
            "item": "comment",
            "verb": verb,
            "comment_id": comment_id,
            "post_id": post_id,
            "parent_id": parent_id or post_id,
            "from": author,
            "created_time": int(at.timestamp()),
        }
        if verb != "remove":
            value["message"] = text
        return value

    # -- delivery ----------------------------------------------------------------

    def body(self, *items: dict[str, Any]) -> bytes:
        """One POST body: Messenger events in one entry, feed values in another."""
        messaging = [i for i in items if "sender" in i]
        feed = [i for i in items if "item" in i]
        entries = []
        if messaging:
            entries.append(messaging_entry(self.page_id, *messaging))
        if feed:
            entries.append(feed_entry(self.page_id, *feed))
        return encode(page_payload(*entries))

    async def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST ``body`` signed correctly unless ``headers`` says otherwise."""
        sent = {"content-type": "application/json", "x-hub-signature-256": sign(self.app_secret, body)}
        if headers is not None:
            sent = {"content-type": "application/json", **headers}
        self.delivered.append(body)
        if self.graph is not None:
            try:
                self.graph.observe(body)
            except (ValueError, TypeError, KeyError, AttributeError):
                pass  # a deliberately broken body teaches Meta nothing
        return await self.client.post(self.url, content=body, headers=sent)

    async def send(self, *items: dict[str, Any]) -> httpx.Response:
        """Build, sign and deliver one body with ``items``."""
        return await self.post(self.body(*items))
