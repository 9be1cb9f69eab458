"""Structured logs: one JSON object a line, with the request id (and the site and
conversation when known), and personal data masked.

``canales serve --log-format json`` (the default when not on a terminal) turns it on;
``text`` keeps human-readable lines. Ids travel in context variables, so that every
log line written while handling a request carries them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from canales.core.privacy import mask

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
site_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("site_id", default=None)
conversation_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("conversation_id", default=None)

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class JsonFormatter(logging.Formatter):
    """A JSON line per record: time (UTC), level, logger, message (personal data
    masked), the context ids, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        for name, var in (("request_id", request_id), ("site", site_id), ("conversation", conversation_id)):
            value = var.get()
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class MaskingFormatter(logging.Formatter):
    """Human-readable lines, with personal data masked too."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def log_config(fmt: str, level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for canales and uvicorn (passed to uvicorn as
    ``log_config``, so that its workers log the same way)."""
    formatter = (
        {"()": "canales.core.logs.JsonFormatter"}
        if fmt == "json"
        else {"()": "canales.core.logs.MaskingFormatter", "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "canales": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        },
    }


class RequestIds:
    """Gives every request an id (the caller's ``X-Request-ID`` when it looks like
    one), puts it in the log context and in the response's ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _INCOMING_ID.match(incoming) else secrets.token_hex(8)
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
