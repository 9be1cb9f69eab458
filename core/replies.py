"""Replies: a message from the site to a citizen, stored together with its outbox
row in one transaction, then delivered by the relay (:mod:`canales.core.outbox`).

Whoever answers (an agent in the inbox, the bot, an automatic acknowledgement) goes
through :func:`send_reply`; an agents' internal note goes through :func:`add_note`
and is never delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from canales.core import events, metrics
from canales.core.db import UTCDateTime
from canales.core.models import Conversation, Delivery, Message
from canales.core.routing import NotFound
from canales.core.site import Site, await_all
from canales.core.text import MAX_TEXT, clean
from canales.core.types import Button, ReplyProblem, ReplyRefused

AUTHOR_KINDS = ("agent", "bot", "system")


class ConversationClosed(Exception):
    """The conversation is closed; reopen it before answering."""


async def _append(
    site: Site,
    conversation_id: int,
    *,
    text: str,
    author_kind: str,
    agent_id: int | None,
    visibility: str,
    payload: dict[str, Any],
    deliver: bool,
    allow_closed: bool,
) -> tuple[Conversation, Message, Delivery | None]:
    now = site.now()
    async with site.db.write() as session:
        conversation = (
            await session.exec(
                select(Conversation).where(
                    col(Conversation.id) == conversation_id, Conversation.site_id == site.id
                )
            )
        ).first()
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} not found")
        if conversation.state == "closed" and not allow_closed:
            raise ConversationClosed(f"conversation {conversation_id} is closed")
        values: dict[str, Any] = {"last_seq": Conversation.last_seq + 1, "updated_at": now}
        if author_kind == "agent" and deliver:
            # The literal carries the column's type, so the time is stored in UTC.
            values["first_response_at"] = func.coalesce(Conversation.first_response_at, literal(now, UTCDateTime()))
        seq, first_response_at = (
            await session.exec(
                update(Conversation)
                .where(col(Conversation.id) == conversation_id)
                .values(**values)
                .returning(Conversation.last_seq, Conversation.first_response_at)
            )
        ).one()
        for name, value in (("last_seq", seq), ("updated_at", now), ("first_response_at", first_response_at)):
            set_committed_value(conversation, name, value)
        message = Message(
            site_id=site.id,
            conversation_id=conversation_id,
            seq=seq,
            direction="out",
            author_kind=author_kind,
            author_agent_id=agent_id,
            channel=conversation.channel,
            text=text,
            payload=payload,
            visibility=visibility,
            created_at=now,
            occurred_at=now,
        )
        session.add(message)
        await session.flush()
        delivery = None
        if deliver:
            delivery = Delivery(
                site_id=site.id,
                message_id=message.id or 0,
                conversation_id=conversation_id,
                channel=conversation.channel,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(delivery)
            await session.flush()
    return conversation, message, delivery


async def send_reply(
    site: Site,
    conversation_id: int,
    text: str,
    *,
    author_kind: str,
    agent_id: int | None = None,
    buttons: Sequence[Button] = (),
    visibility: str = "private",
    options: dict[str, Any] | None = None,
) -> Message:
    """Store a reply and its delivery in one transaction, tell the bus, and wake the
    outbox relay. ``options`` carries channel-specific choices (for example
    Facebook's ``{"reply": "private"}``) to the channel's ``deliver_message``.

    Raises :class:`NotFound` (not this site's conversation), :class:`ConversationClosed`,
    :class:`~canales.core.text.InvalidInput` (empty or oversized text) or
    :class:`canales.ReplyRefused` (a ``review_reply`` hook found problems); nothing
    is stored in any of these cases.
    """
    if author_kind not in AUTHOR_KINDS:
        raise ValueError(f"author_kind must be one of {AUTHOR_KINDS}")
    if author_kind == "agent" and agent_id is None:
        raise ValueError("an agent's reply needs the agent's id")
    if visibility not in ("public", "private"):
        raise ValueError("a reply is public or private; internal notes use add_note")
    text = clean(text, "text", MAX_TEXT, allow_empty=bool(buttons))
    payload: dict[str, Any] = {}
    if buttons:
        payload["buttons"] = [b.as_dict() for b in buttons]
    if options:
        payload["options"] = options
    await review(site, conversation_id, text, author_kind, options or {})
    conversation, message, _ = await _append(
        site,
        conversation_id,
        text=text,
        author_kind=author_kind,
        agent_id=agent_id,
        visibility=visibility,
        payload=payload,
        deliver=True,
        allow_closed=author_kind != "agent",
    )
    metrics.MESSAGES_OUT.labels(site.id, conversation.channel, author_kind).inc()
    await events.message_created(site, conversation, message)
    if site.outbox is not None:
        site.outbox.wake()
    return message


async def review(
    site: Site, conversation_id: int, text: str, author_kind: str, options: dict[str, Any]
) -> None:
    """Ask the ``review_reply`` hooks about a reply; raise :class:`ReplyRefused`
    with every problem they found (or :class:`NotFound`)."""
    async with site.db.read() as session:
        conversation = (
            await session.exec(
                select(Conversation).where(
                    col(Conversation.id) == conversation_id, Conversation.site_id == site.id
                )
            )
        ).first()
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    problems: list[ReplyProblem] = []
    for result in await await_all(
        site.hook.review_reply(
            site=site, conversation=conversation, text=text, author_kind=author_kind, options=options
        )
    ):
        problems.extend(result or ())
    if problems:
        raise ReplyRefused(problems)


async def add_note(site: Site, conversation_id: int, text: str, *, agent_id: int | None) -> Message:
    """Store an internal note: shown to agents, never delivered to the citizen."""
    text = clean(text, "text", MAX_TEXT)
    conversation, message, _ = await _append(
        site,
        conversation_id,
        text=text,
        author_kind="agent" if agent_id is not None else "system",
        agent_id=agent_id,
        visibility="internal",
        payload={},
        deliver=False,
        allow_closed=True,
    )
    await events.message_created(site, conversation, message)
    return message

