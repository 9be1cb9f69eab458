"""What a citizen may read of their conversation, from the database: messages after
a sequence number (internal notes never), the conversation's state with the name of
the agent attending, and the transcript they can download."""

from __future__ import annotations

import time
from typing import Any

from sqlmodel import col, select

from canales.core.events import message_dict
from canales.core.models import Agent, Conversation, Message
from canales.core.site import Site
from canales.plugins.chat_human.settings import ChatSettings
from canales.plugins.chat_human.texts import TEXTS

PAGE = 200
MAX_TRANSCRIPT = 5000
_NAME_TTL = 300.0


def display_name(name: str | None, mode: str) -> str | None:
    """An agent as citizens see them: first name only (the default) or full."""
    if not name or not name.strip():
        return None
    return name.split()[0] if mode == "first" else name.strip()


class AgentNames:
    """Agents' display names, cached a few minutes per worker (a message frame
    needs its author's name; agents rarely change theirs)."""

    def __init__(self, site: Site, mode: str) -> None:
        self.site = site
        self.mode = mode
        self._cache: dict[int, tuple[str | None, float]] = {}

    async def get(self, agent_id: int | None) -> str | None:
        """The display name of agent ``agent_id`` (``None`` for no agent)."""
        if agent_id is None:
            return None
        cached = self._cache.get(agent_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self.site.db.read() as session:
            name = (await session.exec(select(Agent.name).where(col(Agent.id) == agent_id))).first()
        shown = display_name(name, self.mode)
        self._cache[agent_id] = (shown, time.monotonic() + _NAME_TTL)
        return shown


def message_frame(message: dict[str, Any], agent_name: str | None) -> dict[str, Any]:
    """A message as the protocol sends it (from :func:`canales.core.events.message_dict`)."""
    return {
        "type": "message",
        "seq": message["seq"],
        "author": message["author_kind"],
        "agent": agent_name if message["author_kind"] == "agent" else None,
        "text": message["text"],
        "buttons": message.get("buttons") or [],
        "created_at": message["created_at"],
    }


async def messages_after(site: Site, conversation_id: int, after: int, limit: int = PAGE) -> list[tuple[Message, str | None]]:
    """Up to ``limit`` messages the citizen may see with ``seq > after``, oldest
    first, each with its agent's stored name."""
    async with site.db.read() as session:
        rows = (
            await session.exec(
                select(Message, Agent.name)
                .outerjoin(Agent, col(Agent.id) == Message.author_agent_id)
                .where(
                    Message.site_id == site.id,
                    Message.conversation_id == conversation_id,
                    col(Message.seq) > after,
                    Message.visibility != "internal",
                )
                .order_by(col(Message.seq))
                .limit(limit)
            )
        ).all()
    return [(message, name) for message, name in rows]


async def conversation_view(site: Site, conversation_id: int, mode: str) -> dict[str, Any] | None:
    """The conversation as the citizen sees it: state, the agent attending, its
    newest sequence number."""
    async with site.db.read() as session:
        row = (
            await session.exec(
                select(Conversation, Agent.name)
                .outerjoin(Agent, col(Agent.id) == Conversation.assignee_id)
                .where(col(Conversation.id) == conversation_id, Conversation.site_id == site.id)
            )
        ).first()
    if row is None:
        return None
    conversation, agent_name = row
    return {
        "id": conversation.id,
        "state": conversation.state,
        "agent": display_name(agent_name, mode) if conversation.state == "assigned" else None,
        "after_hours": conversation.after_hours,
        "last_seq": conversation.last_seq,
    }


async def transcript(site: Site, conversation_id: int, settings: ChatSettings) -> tuple[str, str]:
    """The conversation as plain text for the citizen to keep: file name and text,
    times in the site's time zone. Internal notes are never included."""
    texts = settings.texts
    tz = site.config.tz
    lines: list[str] = []
    after = 0
    started = None
    while len(lines) < MAX_TRANSCRIPT:
        page = await messages_after(site, conversation_id, after)
        if not page:
            break
        for message, name in page:
            local = message.created_at.astimezone(tz)
            started = started or local
            if message.author_kind == "citizen":
                author = TEXTS.render(texts, "ui.you")
            elif message.author_kind == "agent":
                author = display_name(name, settings.agent_name) or TEXTS.render(texts, "ui.agent")
            elif message.author_kind == "bot":
                author = TEXTS.render(texts, "ui.bot")
            else:
                author = site.name
            lines.append(f"[{local:%d/%m/%Y %H:%M}] {author}: {message.text}")
            after = message.seq
    moment = started or site.now().astimezone(tz)
    head = [
        TEXTS.render(texts, "transcript.title", site=site.name),
        TEXTS.render(texts, "transcript.started", date=f"{moment:%d/%m/%Y %H:%M}"),
        "",
    ]
    filename = TEXTS.render(texts, "transcript.file", site_id=site.id, date=f"{moment:%Y-%m-%d}")
    return filename, "\n".join(head + lines) + "\n"


def frame_of(message: Message, agent_name: str | None, mode: str) -> dict[str, Any]:
    """A stored message as a protocol frame."""
    return message_frame(message_dict(message), display_name(agent_name, mode))
