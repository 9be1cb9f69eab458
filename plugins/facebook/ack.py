"""The automatic acknowledgement: every new query gets "we received it and will answer
as soon as possible" (with when, outside business hours), in the same place the
citizen wrote — a Messenger message, or a reply to the comment. Never a broadcast.

At most once per conversation per period (``ack_period_hours``), claimed in
``facebook_ack`` with a conditional update so that two workers cannot both send it.
It goes out when a conversation reaches the agents' queue: at once, or when the
chatbot hands it off (the bot answers what it can).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from canales.core.models import Conversation
from canales.core.replies import ConversationClosed, send_reply
from canales.core.site import Site
from canales.core.types import ReplyRefused
from canales.plugins.facebook.models import FacebookAck
from canales.plugins.facebook.policy import kind_of
from canales.plugins.facebook.texts import TEXTS

log = logging.getLogger("canales.facebook.ack")

WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


def when(site: Site, at: dt.datetime | None) -> str:
    """``"el lunes 3 a las 08:00"`` (or ``"hoy a las 14:00"``) in the site's zone."""
    if at is None:
        return "en cuanto retomemos la atención"
    local = at.astimezone(site.config.tz)
    today = site.now().astimezone(site.config.tz).date()
    hour = local.strftime("%H:%M")
    if local.date() == today:
        return f"hoy a las {hour}"
    if local.date() == today + dt.timedelta(days=1):
        return f"mañana a las {hour}"
    return f"el {WEEKDAYS[local.weekday()]} {local.day} a las {hour}"


async def claim(site: Site, conversation_id: int, period: dt.timedelta) -> bool:
    """True if this conversation may be acknowledged now (and records it)."""
    now = site.now()
    async with site.db.write() as session:
        result = await session.exec(
            update(FacebookAck)
            .where(col(FacebookAck.conversation_id) == conversation_id, col(FacebookAck.acked_at) <= now - period)
            .values(acked_at=now)
        )
        if result.rowcount:
            return True
    try:
        async with site.db.write() as session:
            session.add(FacebookAck(conversation_id=conversation_id, site_id=site.id, acked_at=now))
    except IntegrityError:
        return False  # acknowledged within the period (or just now by another worker)
    return True


def text_for(site: Site, settings: Any) -> str:
    if site.is_open():
        return TEXTS.render(settings.texts, "ack.open")
    return TEXTS.render(settings.texts, "ack.closed", next_opening=when(site, site.hours.next_opening(site.now())))


async def acknowledge(site: Site, conversation: Conversation, settings: Any) -> bool:
    """Send the acknowledgement if this conversation is due one; True if sent."""
    kind = kind_of(conversation)
    if not settings.acknowledge or kind is None:
        return False
    if not await claim(site, conversation.id or 0, dt.timedelta(hours=settings.ack_period_hours)):
        return False
    options = {"ack": True, "reply": "public"} if kind == "comment" else {"ack": True}
    try:
        await send_reply(site, conversation.id or 0, text_for(site, settings), author_kind="system", options=options)
    except (ReplyRefused, ConversationClosed) as exc:
        # A redelivered message whose window already closed, a removed comment…
        log.info("site %s: conversation %s not acknowledged: %s", site.id, conversation.id, exc)
        return False
    return True
