"""Intake: a citizen's message from a channel into the database, then to whoever
handles it.

:func:`store` persists the message (idempotently: the same channel id twice is stored
once) with the conversation's next sequence number, and tells the bus. :func:`process`
then routes a new conversation and runs the handler stage. :func:`receive` does both;
a webhook that must answer fast calls :func:`store`, answers, and processes after.
A message stored but never processed (a crash in between) is picked up by the
``unhandled`` job.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from canales.core import events, logs, metrics
from canales.core.models import OPEN_STATES, Contact, Conversation, Message
from canales.core.routing import apply_routing, decide, state_for
from canales.core.site import Site, await_all
from canales.core.text import MAX_TEXT, InvalidInput, clean
from canales.core.types import Inbound, Routing

log = logging.getLogger("canales.intake")

MAX_ID = 255
# last_seen_at is kept to the minute: no extra write for every message of a chat.
_SEEN_GRANULARITY = dt.timedelta(minutes=1)
MAX_NAME = 200


@dataclass
class Received:
    """The outcome of :func:`store`."""

    message: Message
    conversation: Conversation
    contact: Contact
    duplicate: bool = False
    new_conversation: bool = False
    routing: Routing | None = None


def validate(inbound: Inbound) -> None:
    """Refuse what cannot be stored sensibly (raises :class:`InvalidInput`)."""
    inbound.channel = clean(inbound.channel, "channel", 32)
    inbound.external_id = clean(inbound.external_id, "external_id", MAX_ID)
    inbound.sender_id = clean(inbound.sender_id, "sender_id", MAX_ID)
    inbound.text = clean(inbound.text, "text", MAX_TEXT, allow_empty=bool(inbound.payload))
    if inbound.thread is not None:
        inbound.thread = clean(inbound.thread, "thread", MAX_ID)
    if inbound.sender_name is not None:
        inbound.sender_name = clean(inbound.sender_name, "sender_name", MAX_NAME, allow_empty=True) or None
    if inbound.occurred_at is not None and inbound.occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at", "must carry a time zone")


async def _existing(site: Site, inbound: Inbound) -> Received | None:
    async with site.db.read() as session:
        row = (
            await session.exec(
                select(Message, Conversation, Contact)
                .join(Conversation, col(Conversation.id) == Message.conversation_id)
                .join(Contact, col(Contact.id) == Conversation.contact_id)
                .where(
                    Message.site_id == site.id,
                    Message.channel == inbound.channel,
                    Message.external_id == inbound.external_id,
                )
            )
        ).first()
    if row is None:
        return None
    message, conversation, contact = row
    return Received(message, conversation, contact, duplicate=True)


async def _persist(site: Site, inbound: Inbound, now: dt.datetime, *, handle: bool) -> Received:
    """One transaction: the contact, the conversation (opened if needed), the message
    with the next sequence number — and, when the caller handles the message at
    once, its claim and the new conversation's routing decision.

    A repeated ``(channel, external_id)`` or a concurrently opened thread makes the
    insert fail on a unique constraint; the caller then finds what was stored.
    """
    async with site.db.write() as session:
        contact = (
            await session.exec(
                select(Contact).where(
                    Contact.site_id == site.id,
                    Contact.channel == inbound.channel,
                    Contact.external_id == inbound.sender_id,
                )
            )
        ).first()
        if contact is None:
            contact = Contact(
                site_id=site.id,
                channel=inbound.channel,
                external_id=inbound.sender_id,
                name=inbound.sender_name,
                created_at=now,
                last_seen_at=now,
            )
            session.add(contact)
            await session.flush()
        elif (inbound.sender_name and contact.name != inbound.sender_name) or (
            now - contact.last_seen_at > _SEEN_GRANULARITY
        ):
            contact.last_seen_at = now
            contact.name = inbound.sender_name or contact.name
            session.add(contact)

        conversation = (
            await session.exec(
                select(Conversation).where(
                    Conversation.site_id == site.id,
                    Conversation.channel == inbound.channel,
                    Conversation.thread_key == inbound.thread_key,
                    col(Conversation.state).in_(OPEN_STATES),
                )
            )
        ).first()
        message = Message(
            site_id=site.id,
            seq=1,
            conversation_id=0,
            direction="in",
            author_kind="citizen",
            channel=inbound.channel,
            external_id=inbound.external_id,
            text=inbound.text,
            payload={**inbound.payload, **({"meta": inbound.metadata} if inbound.metadata else {})},
            visibility=str(inbound.metadata.get("visibility", "private")),
            created_at=now,
            occurred_at=inbound.occurred_at or now,
            handled_at=now if handle else None,
        )
        routing = None
        new = conversation is None
        if conversation is None:
            # A new conversation is born with its first message (seq 1) and, when
            # the caller handles it now, already routed: the route hook is
            # synchronous (it only decides), so asking it inside the transaction is
            # safe. The conversation has no id yet at that moment.
            conversation = Conversation(
                site_id=site.id,
                channel=inbound.channel,
                thread_key=inbound.thread_key,
                contact_id=contact.id or 0,
                state="new",
                after_hours=not site.hours.is_open(now),
                last_seq=1,
                data=dict(inbound.conversation_data),
                created_at=now,
                updated_at=now,
                last_citizen_at=now,
            )
            if handle:
                routing = decide(site, conversation, message, None)
                conversation.state = state_for(routing)
                conversation.team = routing.team
                conversation.routing_rule = routing.rule
            session.add(conversation)
            await session.flush()
        else:
            # Taking the next sequence number locks the conversation's row until
            # commit, so a conversation's messages commit in sequence order.
            message.seq = (
                await session.exec(
                    update(Conversation)
                    .where(col(Conversation.id) == conversation.id)
                    .values(last_seq=Conversation.last_seq + 1, updated_at=now, last_citizen_at=now)
                    .returning(Conversation.last_seq)
                )
            ).scalar_one()
            for name, value in (("last_seq", message.seq), ("updated_at", now), ("last_citizen_at", now)):
                set_committed_value(conversation, name, value)
        message.conversation_id = conversation.id or 0
        session.add(message)
        await session.flush()
    return Received(message, conversation, contact, new_conversation=new, routing=routing)


async def store(site: Site, inbound: Inbound) -> Received:
    """Persist a citizen's message; return it with its conversation. Call
    :func:`process` afterwards (a webhook answers its caller in between).

    Raises :class:`InvalidInput` for input that cannot be stored and
    :class:`canales.Rejected` when a ``prepare_inbound`` hook refuses it; nothing is
    stored in either case. A message whose ``(channel, external_id)`` was stored
    before is returned with ``duplicate=True`` and stored nothing new.
    """
    return await _store(site, inbound, handle=False)


async def _store(site: Site, inbound: Inbound, *, handle: bool) -> Received:
    validate(inbound)
    await await_all(site.hook.prepare_inbound(site=site, inbound=inbound))
    now = site.now()
    for _ in range(5):
        try:
            received = await _persist(site, inbound, now, handle=handle)
            break
        except IntegrityError:
            # Another request stored the same message, or opened the same thread,
            # between our read and our write: the database kept one.
            existing = await _existing(site, inbound)
            if existing is not None:
                return existing
    else:  # pragma: no cover - five collisions in a row on a fresh thread
        raise RuntimeError("could not store the message after repeated conflicts")
    metrics.MESSAGES_IN.labels(site.id, inbound.channel).inc()
    logs.conversation_id.set(received.conversation.id)
    if received.new_conversation:
        await events.conversation_changed(site, received.conversation)
    await events.message_created(site, received.conversation, received.message)
    return received


async def _claim(site: Site, message: Message) -> bool:
    """Mark a citizen message as taken by the handler stage; false if another
    worker already took it."""
    async with site.db.write() as session:
        result = await session.exec(
            update(Message)
            .where(col(Message.id) == message.id, col(Message.handled_at).is_(None))
            .values(handled_at=site.now())
        )
        return bool(result.rowcount)


async def process(site: Site, received: Received) -> Conversation:
    """Route a new conversation and run the handler stage, once per message."""
    if received.duplicate or not await _claim(site, received.message):
        return received.conversation
    conversation = received.conversation
    if conversation.state == "new":
        conversation = await apply_routing(site, conversation, received.message, handoff=None)
    await await_all(
        site.hook.handle_message(site=site, conversation=conversation, message=received.message)
    )
    return conversation


async def receive(site: Site, inbound: Inbound) -> Received:
    """:func:`store` and :func:`process` in one go, for channels that can wait for
    the handler (the live chat, the API channel): the message is stored already
    claimed, and a new conversation already routed, in one transaction."""
    received = await _store(site, inbound, handle=True)
    if received.duplicate:
        return received
    if received.routing is not None:
        await await_all(
            site.hook.conversation_routed(
                site=site, conversation=received.conversation, routing=received.routing, handoff=None
            )
        )
    await await_all(
        site.hook.handle_message(site=site, conversation=received.conversation, message=received.message)
    )
    return received


async def process_unhandled(site: Site, older_than: float = 10.0, limit: int = 50) -> int:
    """Process citizen messages that were stored but never handled (a crash between
    :func:`store` and :func:`process`). Returns how many were processed."""
    cutoff = site.now() - dt.timedelta(seconds=older_than)
    async with site.db.read() as session:
        rows = (
            await session.exec(
                select(Message, Conversation, Contact)
                .join(Conversation, col(Conversation.id) == Message.conversation_id)
                .join(Contact, col(Contact.id) == Conversation.contact_id)
                .where(
                    Message.site_id == site.id,
                    Message.direction == "in",
                    col(Message.handled_at).is_(None),
                    col(Message.created_at) < cutoff,
                )
                .order_by(col(Message.id))
                .limit(limit)
            )
        ).all()
    done = 0
    for message, conversation, contact in rows:
        try:
            await process(site, Received(message, conversation, contact))
            done += 1
        except Exception:  # noqa: BLE001 - one bad message must not stop the others
            log.exception("site %s: handling message %s failed", site.id, message.id)
    return done
