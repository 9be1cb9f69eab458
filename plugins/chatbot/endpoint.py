"""The bot's own minimal channel (``"bot"``): a JSON endpoint for sites that enable
only the chatbot, or for a web page that wants the bot without the live-chat widget.

``POST /s/{site}/bot/messages`` with ``{"text": …}`` or ``{"choice": <payload>}``
answers with the bot's replies. The first answer carries a ``token`` (192 random
bits) that the client sends back as ``Authorization: Bearer <token>``: it names the
citizen's conversation, and nothing else does. ``GET /s/{site}/bot/messages?after=N``
returns later messages (an agent's, after a hand-off). Enabled by
``endpoint = true`` in ``[plugins.chatbot]``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from canales import Inbound, Rejected
from canales.core.http import HTTPProblem, parse_json_object, read_body, site_of
from canales.core.intake import receive
from canales.core.models import Conversation, Message
from canales.core.text import MAX_TEXT, InvalidInput
from canales.plugins.chatbot.settings import CHANNEL

MAX_BODY = 16 * 1024


class Posted(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: StrictStr = Field(default="", max_length=MAX_TEXT)
    choice: StrictStr | None = Field(default=None, max_length=1000)
    id: StrictStr | None = Field(default=None, min_length=1, max_length=100)


def _thread(token: str) -> str:
    # Only the token's hash is stored: a leaked database does not give away tokens.
    return hashlib.sha256(token.encode()).hexdigest()


def _token(request: Request, required: bool) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        if 20 <= len(token) <= 100:
            return token
        raise HTTPProblem(401, "bad_token", "the token is not valid")
    if required:
        raise HTTPProblem(401, "no_token", "send the token from your first message as Authorization: Bearer <token>")
    return None


def _out(message: Message) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "author": message.author_kind,
        "text": message.text,
        "buttons": message.payload.get("buttons", []),
        "created_at": message.created_at.isoformat(),
    }


async def _conversation(request: Request, token: str) -> Conversation | None:
    site = site_of(request)
    async with site.db.read() as session:
        return (
            await session.exec(
                select(Conversation)
                .where(Conversation.site_id == site.id, Conversation.channel == CHANNEL, Conversation.thread_key == _thread(token))
                .order_by(col(Conversation.id).desc())
            )
        ).first()


async def _messages(request: Request, conversation_id: int, after: int) -> list[Message]:
    site = site_of(request)
    async with site.db.read() as session:
        return list(
            (
                await session.exec(
                    select(Message)
                    .where(
                        Message.conversation_id == conversation_id,
                        col(Message.seq) > after,
                        Message.direction == "out",
                        Message.visibility != "internal",
                    )
                    .order_by(col(Message.seq))
                    .limit(100)
                )
            ).all()
        )


async def post_message(request: Request) -> Response:
    site = site_of(request)
    data = parse_json_object(await read_body(request, MAX_BODY))
    try:
        posted = Posted.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise HTTPProblem(422, "invalid", f"{field}: {first['msg']}", field=field) from None
    if not posted.text.strip() and not posted.choice:
        raise HTTPProblem(422, "invalid", "send text or a choice", field="text")
    token = _token(request, required=False)
    issued = token is None
    token = token or secrets.token_urlsafe(24)
    thread = _thread(token)
    inbound = Inbound(
        channel=CHANNEL,
        external_id=f"{thread[:16]}:{posted.id or uuid.uuid4().hex}",
        sender_id=thread,
        text=posted.text,
        payload={"choice": posted.choice} if posted.choice else {},
    )
    try:
        received = await receive(site, inbound)
    except InvalidInput as exc:
        raise HTTPProblem(422, "invalid", str(exc), field=exc.field) from None
    except Rejected as exc:
        raise HTTPProblem(422, exc.code, str(exc)) from None
    replies = await _messages(request, received.conversation.id or 0, received.message.seq)
    body = {
        "conversation": {"state": received.conversation.state},
        "seq": received.message.seq,
        "duplicate": received.duplicate,
        "messages": [_out(m) for m in replies],
    }
    if issued:
        body["token"] = token
    return JSONResponse(body, status_code=200 if received.duplicate else 201)


async def list_messages(request: Request) -> Response:
    token = _token(request, required=True)
    assert token is not None
    try:
        after = max(0, int(request.query_params.get("after", "0")))
    except ValueError:
        raise HTTPProblem(422, "invalid", "after must be an integer", field="after") from None
    conversation = await _conversation(request, token)
    if conversation is None:
        raise HTTPProblem(404, "not_found", "no conversation for this token")
    messages = await _messages(request, conversation.id or 0, after)
    return JSONResponse({"conversation": {"state": conversation.state}, "messages": [_out(m) for m in messages]})


def routes() -> list[BaseRoute]:
    return [
        Route("/bot/messages", post_message, methods=["POST"], name="bot-post-message"),
        Route("/bot/messages", list_messages, methods=["GET"], name="bot-list-messages"),
    ]
