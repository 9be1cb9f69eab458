"""Running a turn for a stored citizen message: take the conversation's lease,
let the dialogue decide, store the turn and the new state in one transaction, then
send the replies and hand off.

Why a lease: a citizen may send two messages at once and two workers may handle
them; the bot's state (a flow's position, slots) must advance one turn at a time.
The lease is a row update that only one worker can win; it expires, so a crashed
worker cannot block a conversation for long. Nothing is sent before the turn is
stored, and a turn that fails to store sends nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from typing import Any

from sqlalchemy import case, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from canales.core import metrics
from canales.core.models import Conversation, Message
from canales.core.replies import ConversationClosed, send_reply
from canales.core.routing import NotFound, hand_off
from canales.core.site import Site
from canales.plugins.chatbot.bot import SiteBot
from canales.plugins.chatbot.dialogue import Reply, TurnContext, TurnResult
from canales.plugins.chatbot.models import BotSession, BotTurn
from canales.plugins.chatbot.state import SessionState

log = logging.getLogger("canales.chatbot")

LEASE = dt.timedelta(seconds=120)
WAIT_FOR_LEASE = 150.0
MAX_LOGGED_TEXT = 2000


class LeaseLost(Exception):
    """Another worker took the conversation's lease (this turn took too long)."""


def turn_context(site: Site) -> TurnContext:
    now = site.now()
    open_now = site.is_open(now)
    return TurnContext(
        today=now.astimezone(site.config.tz).date(),
        site={"name": site.name, "contact": site.config.contact.model_dump(), "open": open_now},
        humans_available=open_now,
    )


async def acquire(site: Site, conversation_id: int) -> tuple[str, SessionState]:
    """Take the conversation's lease, waiting while another worker holds it."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + WAIT_FOR_LEASE
    while True:
        now = site.now()
        try:
            async with site.db.write() as session:
                taken = await session.exec(
                    update(BotSession)
                    .where(
                        col(BotSession.conversation_id) == conversation_id,
                        BotSession.site_id == site.id,
                        (col(BotSession.lease_until).is_(None)) | (col(BotSession.lease_until) < now),
                    )
                    .values(lease_token=token, lease_until=now + LEASE)
                )
                if taken.rowcount:
                    row = (await session.exec(select(BotSession).where(col(BotSession.conversation_id) == conversation_id))).one()
                    return token, SessionState.from_json(row.data)
                exists = (
                    await session.exec(select(BotSession.conversation_id).where(col(BotSession.conversation_id) == conversation_id))
                ).first()
                if exists is None:
                    # The conversation's first turn: create the row already leased,
                    # in the same transaction.
                    session.add(BotSession(conversation_id=conversation_id, site_id=site.id, data={}, lease_token=token, lease_until=now + LEASE, updated_at=now))
                    await session.flush()
                    return token, SessionState()
        except IntegrityError:
            continue  # another worker created it a moment ago: try to take it
        if time.monotonic() > deadline:
            raise TimeoutError(f"conversation {conversation_id}: the bot's lease stayed taken")
        await asyncio.sleep(0.05)


async def stored_state(site: Site, conversation_id: int) -> SessionState:
    async with site.db.read() as session:
        row = (await session.exec(select(BotSession).where(col(BotSession.conversation_id) == conversation_id))).first()
    return SessionState.from_json(row.data if row else None)


async def release(site: Site, conversation_id: int, token: str) -> None:
    async with site.db.write() as session:
        await session.exec(
            update(BotSession)
            .where(col(BotSession.conversation_id) == conversation_id, BotSession.lease_token == token)
            .values(lease_token=None, lease_until=None)
        )


async def store_turn(
    site: Site, bot: SiteBot, conversation: Conversation, message: Message, state: SessionState, result: TurnResult, token: str
) -> BotTurn:
    """Store the turn, the feedback or clarification it resolves, and the new state;
    release the lease. One transaction: all or nothing."""
    now = site.now()
    async with site.db.write() as session:
        turn = BotTurn(
            site_id=site.id,
            conversation_id=conversation.id or 0,
            message_id=message.id or 0,
            created_at=now,
            text=(message.text or "")[:MAX_LOGGED_TEXT],
            intent=result.intent,
            confidence=round(result.confidence, 4) if result.confidence is not None else None,
            second_intent=result.second_intent,
            second_confidence=round(result.second_confidence, 4) if result.second_confidence is not None else None,
            outcome=result.outcome,
            reason=result.reason,
            source=result.source,
            model=bot.digest,
            review="new" if result.review and result.source in ("nlu", "input") else None,
            detail={"actions": result.actions} if result.actions else {},
        )
        session.add(turn)
        await session.flush()
        if result.remember == "answer":
            state.answer_turn = turn.id
        state.clarify_turn = turn.id if result.remember == "clarify" else None
        if result.feedback is not None:
            turn_id, value = result.feedback
            await session.exec(
                update(BotTurn)
                .where(col(BotTurn.id) == turn_id, BotTurn.conversation_id == conversation.id)
                .values(
                    feedback=value,
                    feedback_at=now,
                    # A thumbs-down puts the question up for review.
                    review=case((col(BotTurn.review).is_(None), "new" if value == "down" else None), else_=BotTurn.review),
                )
            )
        if result.resolved is not None:
            turn_id, intent = result.resolved
            await session.exec(
                update(BotTurn).where(col(BotTurn.id) == turn_id, BotTurn.conversation_id == conversation.id).values(resolved_intent=intent)
            )
        saved = await session.exec(
            update(BotSession)
            .where(col(BotSession.conversation_id) == conversation.id, BotSession.lease_token == token)
            .values(data=state.to_json(), lease_token=None, lease_until=None, updated_at=now)
        )
        if not saved.rowcount:
            raise LeaseLost(f"conversation {conversation.id}")
    metrics.bot_outcome(site.id, result.outcome)
    return turn


async def handle(site: Site, bot: SiteBot, conversation: Conversation, message: Message) -> None:
    """Run the bot's turn for ``message``."""
    token, state = await acquire(site, conversation.id or 0)
    try:
        choice: Any = message.payload.get("choice")
        result = await bot.dialogue.turn(
            state, message.text or "", choice if isinstance(choice, str) else None, turn_context(site)
        )
    except Exception:
        # A bug must not leave the citizen without an answer, nor leave half a turn
        # in the state: keep the stored state, say sorry, log the turn.
        log.exception("site %s: the bot failed on message %s", site.id, message.id)
        state = await stored_state(site, conversation.id or 0)
        result = TurnResult(replies=[Reply(bot.dialogue.text("error"))], outcome="out_of_scope", reason="bot_error", source="input")
    try:
        await store_turn(site, bot, conversation, message, state, result, token)
    except IntegrityError:
        # This message already had its turn (handled twice): say nothing again.
        log.warning("site %s: message %s already has a bot turn", site.id, message.id)
        await release(site, conversation.id or 0, token)
        return
    except LeaseLost:
        log.error("site %s: conversation %s: the turn took longer than the lease; dropped", site.id, conversation.id)
        return
    except Exception:
        await release(site, conversation.id or 0, token)
        raise
    try:
        for reply in result.replies:
            await send_reply(site, conversation.id or 0, reply.text, author_kind="bot", buttons=reply.buttons)
        if result.handoff is not None:
            await hand_off(site, conversation.id or 0, result.handoff)
    except (ConversationClosed, NotFound):
        log.info("site %s: conversation %s closed while the bot answered", site.id, conversation.id)
