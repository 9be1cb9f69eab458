"""HTTP endpoints of the API channel, under ``/s/{site}/api/``.

Requests that change or read citizen data are signed: ``X-Canales-Timestamp`` (Unix
seconds) and ``X-Canales-Signature: sha256=<hex>``, the HMAC-SHA256 of
``{timestamp}.{body}`` with the site's API secret (for a GET, the body is the path
with its query string). Errors are JSON: ``{"error", "message", "field"}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from canales import Inbound, Rejected
from canales.core.events import message_dict
from canales.core.http import HTTPProblem, parse_json_object, read_body, site_of
from canales.core.intake import receive
from canales.core.models import Conversation, Message
from canales.core.signing import BadSignature, verify
from canales.core.text import InvalidInput
from canales.plugins.api.delivery import CHANNEL
from canales.plugins.api.openapi import document
from canales.plugins.api.schemas import InboundMessage
from canales.plugins.api.settings import ApiSettings


def _settings(request: Request) -> ApiSettings:
    return site_of(request).settings(CHANNEL, ApiSettings)


def _authenticate(request: Request, signed: bytes) -> None:
    settings = _settings(request)
    try:
        verify(
            settings.secret.reveal(),
            request.headers.get("x-canales-timestamp"),
            request.headers.get("x-canales-signature"),
            signed,
            tolerance=settings.timestamp_tolerance,
        )
    except BadSignature as exc:
        raise HTTPProblem(401, "bad_signature", str(exc)) from None


def _field(error: dict[str, Any]) -> str:
    return ".".join(str(p) for p in error["loc"])


async def post_message(request: Request) -> Response:
    site = site_of(request)
    body = await read_body(request, _settings(request).max_body_bytes)
    _authenticate(request, body)
    data = parse_json_object(body)
    try:
        posted = InboundMessage.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise HTTPProblem(
            422, "invalid", f"{_field(first)}: {first['msg']}", field=_field(first)
        ) from None
    inbound = Inbound(
        channel=CHANNEL,
        external_id=posted.id,
        sender_id=posted.sender.id,
        sender_name=posted.sender.name,
        thread=posted.thread,
        text=posted.text,
        payload={"choice": posted.choice} if posted.choice else {},
    )
    try:
        received = await receive(site, inbound)
    except InvalidInput as exc:
        raise HTTPProblem(422, "invalid", str(exc), field=exc.field) from None
    except Rejected as exc:
        raise HTTPProblem(422, exc.code, str(exc)) from None
    return JSONResponse(
        {
            "duplicate": received.duplicate,
            "conversation_id": received.conversation.id,
            "message": message_dict(received.message),
        },
        status_code=200 if received.duplicate else 202,
    )


async def list_messages(request: Request) -> Response:
    site = site_of(request)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    _authenticate(request, target.encode())
    try:
        conversation_id = int(request.path_params["conversation_id"])
        after = int(request.query_params.get("after", "0"))
        limit = min(int(request.query_params.get("limit", "100")), 500)
    except ValueError:
        raise HTTPProblem(422, "invalid", "conversation id, after and limit must be integers") from None
    async with site.db.read() as session:
        conversation = (
            await session.exec(
                select(Conversation).where(
                    col(Conversation.id) == conversation_id,
                    Conversation.site_id == site.id,
                    Conversation.channel == CHANNEL,
                )
            )
        ).first()
        if conversation is None:
            raise HTTPProblem(404, "not_found", "no such conversation")
        messages = (
            await session.exec(
                select(Message)
                .where(
                    Message.conversation_id == conversation_id,
                    col(Message.seq) > after,
                    Message.visibility != "internal",
                )
                .order_by(col(Message.seq))
                .limit(limit)
            )
        ).all()
    return JSONResponse(
        {
            "conversation": {"id": conversation.id, "state": conversation.state, "last_seq": conversation.last_seq},
            "messages": [message_dict(m) for m in messages],
        }
    )


async def openapi(request: Request) -> Response:
    return JSONResponse(document(site_of(request)))


def routes() -> list[BaseRoute]:
    return [
        Route("/api/messages", post_message, methods=["POST"], name="api-post-message"),
        Route(
            "/api/conversations/{conversation_id}/messages",
            list_messages,
            methods=["GET"],
            name="api-list-messages",
        ),
        Route("/api/openapi.json", openapi, methods=["GET"], name="api-openapi"),
    ]
