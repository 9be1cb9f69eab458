"""The citizens' satisfaction survey: one answer per conversation, recorded by the
channel that asks (the live chat at the end of a chat) and shown in the reports."""

from __future__ import annotations

from sqlmodel import col, select

from canales.core import events
from canales.core.db import upsert
from canales.core.models import Conversation, Satisfaction
from canales.core.routing import NotFound
from canales.core.site import Site
from canales.core.text import InvalidInput, clean

MIN_SCORE, MAX_SCORE = 1, 5
MAX_COMMENT = 1000


async def record_satisfaction(
    site: Site, conversation_id: int, score: int, comment: str | None = None
) -> Satisfaction:
    """Store the citizen's score (1 to 5) and optional comment for a conversation
    of the site. Answering again replaces the earlier answer, so a repeated
    submission is harmless. Raises :class:`InvalidInput` for a bad score or comment
    and :class:`NotFound` for a conversation that is not the site's."""
    if isinstance(score, bool) or not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
        raise InvalidInput("score", f"must be a whole number from {MIN_SCORE} to {MAX_SCORE}")
    if comment is not None:
        comment = clean(comment, "comment", MAX_COMMENT, allow_empty=True).strip() or None
    now = site.now()
    async with site.db.write() as session:
        exists = (
            await session.exec(
                select(Conversation.id).where(col(Conversation.id) == conversation_id, Conversation.site_id == site.id)
            )
        ).first()
        if exists is None:
            raise NotFound(f"conversation {conversation_id} not found")
        await session.exec(
            upsert(
                site.db,
                Satisfaction,
                {"site_id": site.id, "conversation_id": conversation_id, "score": score, "comment": comment, "created_at": now},
                ["conversation_id"],
                ["score", "comment", "created_at"],
            )
        )
        saved = (await session.exec(select(Satisfaction).where(Satisfaction.conversation_id == conversation_id))).one()
    await site.bus.publish(
        events.inbox_channel(site.id), {"kind": "satisfaction", "conversation_id": conversation_id, "score": score}
    )
    return saved
