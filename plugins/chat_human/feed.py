"""A conversation's feed to one citizen socket: everything the citizen may see, sent
once and in order — first from the database after the sequence number the client
has, then live from the bus, deduplicated by sequence number.

The bus only notifies. A gap in sequence numbers (an event that never arrived, or
an internal note in between), a ``resync`` from the bus (Redis reconnected, the
queue overflowed) or the relay's ``delivered`` notice sends the feed back to the
database for whatever it has not sent yet. Because a conversation's messages commit
in sequence order, seeing the event for ``seq`` means every earlier one is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from canales.core.bus import Subscription
from canales.core.events import conversation_channel
from canales.plugins.chat_human.desk import ChatDesk
from canales.plugins.chat_human.history import PAGE, conversation_view, frame_of, message_frame, messages_after

log = logging.getLogger("canales.chat")

Send = Callable[[dict[str, Any]], Awaitable[None]]


class ConversationFeed:
    """Follows one conversation for one socket. ``cursor`` is the highest sequence
    number the client has been sent (or that it need not be sent)."""

    def __init__(self, desk: ChatDesk, conversation_id: int, send: Send, on_failure: Callable[[], Awaitable[None]]) -> None:
        self.desk = desk
        self.site = desk.site
        self.conversation_id = conversation_id
        self.send = send
        self.on_failure = on_failure
        self.cursor = 0
        self.state: str | None = None
        self._lock = asyncio.Lock()
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self, after: int, header: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Subscribe, send ``header(view)`` (the conversation's state), everything
        after ``after`` from the database, then follow live. Subscribing first means
        nothing published meanwhile is missed; duplicates are dropped by seq."""
        self._subscription = self.site.bus.subscribe(conversation_channel(self.conversation_id))
        async with self._lock:
            view = await conversation_view(self.site, self.conversation_id, self.desk.settings.agent_name)
            if view is None:  # pragma: no cover - sessions point at their site's conversations
                raise LookupError(f"conversation {self.conversation_id} vanished")
            self.state = view["state"]
            self.cursor = after
            await self.send(header(view))
            await self._catch_up()
        self._task = asyncio.create_task(self._follow(self._subscription), name=f"chat-feed-{self.conversation_id}")
        return view

    async def close(self) -> None:
        """Stop following: unsubscribe and end the live task."""
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - already logged
                pass
        self._task = None

    async def _catch_up(self, seen: int = 0) -> None:
        """Send what the database has after the cursor (caller holds the lock)."""
        while True:
            page = await messages_after(self.site, self.conversation_id, self.cursor)
            for message, agent_name in page:
                await self.send(frame_of(message, agent_name, self.desk.settings.agent_name))
                self.cursor = message.seq
            if len(page) < PAGE:
                break
        self.cursor = max(self.cursor, seen)

    async def _follow(self, subscription: Subscription) -> None:
        try:
            async for event in subscription:
                await self._on_event(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the client reconnects and resumes from the database
            log.exception("site %s: chat feed of conversation %s failed", self.site.id, self.conversation_id)
            await self.on_failure()

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "message":
            await self._on_message(event.get("message") or {})
        elif kind == "resync":
            async with self._lock:
                await self._catch_up()
        elif kind == "delivered":
            # Usually the reply went out live already; the database is asked only
            # when it did not.
            seq = event.get("seq")
            if isinstance(seq, int) and seq > self.cursor:
                async with self._lock:
                    if seq > self.cursor:
                        await self._catch_up(seq)
        elif kind == "conversation":
            # The event says only that something changed (state, assignee): the
            # database says what it is now.
            view = await conversation_view(self.site, self.conversation_id, self.desk.settings.agent_name)
            if view is not None:
                self.state = view["state"]
                await self.send({"type": "conversation", "conversation": view})
        elif kind == "typing" and event.get("who") == "agent":
            name = await self.desk.names.get(event.get("agent_id")) if isinstance(event.get("agent_id"), int) else None
            await self.send({"type": "typing", "who": "agent", "agent": name, "active": event.get("active", True) is not False})
        elif kind == "read" and event.get("who") == "agent" and isinstance(event.get("seq"), int):
            await self.send({"type": "read", "who": "agent", "seq": event["seq"]})

    async def _on_message(self, message: dict[str, Any]) -> None:
        seq = message.get("seq")
        if not isinstance(seq, int) or message.get("visibility") == "internal":
            return
        async with self._lock:
            if seq <= self.cursor:
                return
            if seq != self.cursor + 1:
                await self._catch_up(seq)
                return
            agent_id = message.get("author_agent_id")
            name = await self.desk.names.get(agent_id) if message.get("author_kind") == "agent" else None
            await self.send(message_frame(message, name))
            self.cursor = seq
