"""The inbox's live socket, ``/inbox/ws``: what happens on the agent's sites reaches
the open pages without reload, from any worker (through the bus).

Handshake: the ``Origin`` must be the inbox's own and the session cookie valid;
``?site=ID`` limits the socket to one site (any other site is refused exactly like
one that does not exist). The socket subscribes to ``inbox:{site}`` for each site
and to ``agent:{id}`` (access changes), *then* sends ``{"kind": "ready"}``.

Catch-up that cannot miss a change: the page fetches what it shows from the
database only after ``ready`` (the list; a conversation's messages after the last
sequence number it holds). Every change is committed before its event is published,
so a change is either already in what the page fetched or announced by an event
that arrives after ``ready``; a conversation's sequence numbers have no gaps and
commit in order, so "after N" never skips a message. When the bus may have dropped
events (a Redis reconnection, a slow consumer) it sends ``resync`` and the page
fetches again. Events are notices: the page re-reads the database, so an event that
arrives late or twice does no harm.

Events are filtered per agent: an agent receives messages only of conversations
they may see (the socket re-reads the touched conversations, in one query per
batch). Logging out, a password change, a deactivation or a role change elsewhere
closes the socket (code 4401) within moments, in whichever worker it lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from sqlmodel import col, select
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from canales.core import events, presence
from canales.core.bus import Subscription
from canales.core.inbox.access import LoginRequired, SignedIn, can_see, canales_of, signed_in
from canales.core.inbox.guard import own_origin
from canales.core.inbox.sessions import session_is_valid
from canales.core.models import Conversation, Membership
from canales.core.routing import NotFound

log = logging.getLogger("canales.inbox.live")

CLOSE_SESSION_ENDED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_POLICY = 1008
MAX_FRAME = 2048
BATCH_WINDOW = 0.05
TYPING_EVERY = 2.0
CONVERSATION_EVENTS = ("message", "conversation", "delivery", "typing")


class InboxSocket:
    """One agent's live socket (see module doc)."""

    def __init__(self, websocket: WebSocket, who: SignedIn, sites: dict[str, str]) -> None:
        self.ws = websocket
        self.who = who
        self.sites = sites
        self.canales = canales_of(websocket)
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.subscriptions: list[Subscription] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.typing_sent: dict[int, float] = {}
        self.connection_id: str | None = None
        self.closing = False

    def _now(self) -> Any:
        return next(iter(self.canales.sites.values())).now()

    async def run(self) -> None:
        bus = self.canales.bus
        channels = [events.inbox_channel(s) for s in self.sites] + [events.agent_channel(self.who.id)]
        for channel in channels:
            sub = bus.subscribe(channel)
            self.subscriptions.append(sub)
            self.tasks.append(asyncio.create_task(self._pump(sub)))
        try:
            await self.ws.accept()
            self.connection_id = await presence.connected(self.canales.db, self.who.id, self._now())
            await self._presence_changed()
            await self.ws.send_json({"kind": "ready", "sites": sorted(self.sites), "agent_id": self.who.id})
            self.tasks.append(asyncio.create_task(self._read()))
            self.tasks.append(asyncio.create_task(self._heartbeat()))
            await self._forward()
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the page went away
        except Exception:  # noqa: BLE001 - log, then clean up like any close
            log.exception("inbox socket of agent %s failed", self.who.id)
        finally:
            await self._cleanup()

    async def _pump(self, sub: Subscription) -> None:
        async for event in sub:
            await self.queue.put({**event, "_channel": sub.channel})

    async def _forward(self) -> None:
        while not self.closing:
            batch = [await self.queue.get()]
            await asyncio.sleep(BATCH_WINDOW)  # let a burst arrive, then read the database once
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await self._deliver(batch)

    def _site_of(self, event: dict[str, Any]) -> str | None:
        channel = event.get("_channel", "")
        return channel.split(":", 1)[1] if channel.startswith("inbox:") else None

    async def _deliver(self, batch: list[dict[str, Any]]) -> None:
        touched: dict[str, set[int]] = {}
        for event in batch:
            kind = event.get("kind")
            if kind == "access_changed":
                if not await self._still_allowed():
                    await self.close(CLOSE_SESSION_ENDED, "sesión terminada")
                    return
                continue
            site = self._site_of(event)
            if site is not None and kind in CONVERSATION_EVENTS:
                cid = _conversation_id(event)
                if cid is not None:
                    touched.setdefault(site, set()).add(cid)
        visible: dict[int, Conversation] = {}
        hidden: set[int] = set()
        for site, ids in touched.items():
            seen, unseen = await self._visibility(site, ids)
            visible.update(seen)
            hidden |= unseen
        for event in batch:
            out = self._outgoing(event, visible, hidden)
            if out is not None:
                await self.ws.send_json(out)

    def _outgoing(self, event: dict[str, Any], visible: dict[int, Conversation], hidden: set[int]) -> dict[str, Any] | None:
        kind = event.get("kind")
        site = self._site_of(event)
        if kind == "resync":
            return {"kind": "resync"}
        if site is None:
            return None
        if kind in ("alert", "presence", "satisfaction"):
            return {"kind": kind, "site": site}
        cid = _conversation_id(event)
        if cid is None:
            return None
        conversation = visible.get(cid)
        if conversation is None:
            # It left the agent's view (taken by someone else): say only that it changed.
            return {"kind": "changed", "site": site, "conversation_id": cid} if kind == "conversation" and cid in hidden else None
        if kind == "message":
            message = event["message"]
            return {
                "kind": "message",
                "site": site,
                "conversation_id": cid,
                "message_id": message.get("id"),
                "seq": message.get("seq"),
                "direction": message.get("direction"),
                "author_kind": message.get("author_kind"),
                "visibility": message.get("visibility"),
                "text": str(message.get("text", ""))[:200],
            }
        if kind == "conversation":
            return {
                "kind": "conversation",
                "site": site,
                "conversation_id": cid,
                "state": conversation.state,
                "assignee_id": conversation.assignee_id,
                "team": conversation.team,
                "last_seq": conversation.last_seq,
            }
        if kind == "delivery":
            return {"kind": "delivery", "site": site, "conversation_id": cid, "message_id": event.get("message_id"), "state": event.get("state")}
        if kind == "typing" and not (event.get("who") == "agent" and event.get("agent_id") == self.who.id):
            return {"kind": "typing", "site": site, "conversation_id": cid, "who": event.get("who")}
        return None

    async def _visibility(self, site: str, ids: set[int]) -> tuple[dict[int, Conversation], set[int]]:
        async with self.canales.db.read() as session:
            rows = (
                await session.exec(select(Conversation).where(Conversation.site_id == site, col(Conversation.id).in_(ids)))
            ).all()
        role = self.sites[site]
        seen = {c.id or 0: c for c in rows if can_see(c, role, self.who.id)}
        return seen, {c.id or 0 for c in rows} - set(seen)

    async def _still_allowed(self) -> bool:
        """The session is still valid and the agent still an active member of
        every site the socket follows, with the same role."""
        if self.who.session_id is None or not await session_is_valid(self.canales.db, self.who.session_id, self._now()):
            return False
        async with self.canales.db.read() as session:
            rows = (
                await session.exec(
                    select(Membership.site_id, Membership.role).where(
                        Membership.agent_id == self.who.id, col(Membership.active).is_(True)
                    )
                )
            ).all()
        current = dict(rows)
        return all(current.get(site) == role for site, role in self.sites.items())

    async def _read(self) -> None:
        """Frames from the page: ``{"type": "typing", "site", "conversation_id"}``
        and ``{"type": "ping"}``. Anything else is ignored; an oversized frame
        closes the socket."""
        try:
            while True:
                raw = await self.ws.receive_text()
                if len(raw) > MAX_FRAME:
                    await self.close(1009, "mensaje demasiado grande")
                    return
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(frame, dict):
                    continue
                if frame.get("type") == "ping":
                    await self.ws.send_json({"kind": "pong"})
                elif frame.get("type") == "typing":
                    await self._typing(frame)
        except (WebSocketDisconnect, RuntimeError):
            self.closing = True
            self.queue.put_nowait({"kind": "_closed"})

    async def _typing(self, frame: dict[str, Any]) -> None:
        site_id, cid = frame.get("site"), frame.get("conversation_id")
        if site_id not in self.sites or not isinstance(cid, int) or isinstance(cid, bool):
            return
        moment = time.monotonic()
        if moment - self.typing_sent.get(cid, 0.0) < TYPING_EVERY:
            return
        self.typing_sent[cid] = moment
        seen, _ = await self._visibility(str(site_id), {cid})
        if cid in seen:
            await events.typing(self.canales.sites[str(site_id)], cid, "agent", self.who.id)

    async def _heartbeat(self) -> None:
        """Keep the presence row fresh and, in case a bus notice was lost (Redis
        down), re-check the session now and then."""
        while True:
            await asyncio.sleep(presence.HEARTBEAT)
            try:
                if not await self._still_allowed():
                    await self.close(CLOSE_SESSION_ENDED, "sesión terminada")
                    return
                if self.connection_id is not None:
                    await presence.heartbeat(self.canales.db, self.connection_id, self.who.id, self._now())
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the socket
                log.exception("inbox socket heartbeat failed")

    async def close(self, code: int, reason: str) -> None:
        self.closing = True
        if self.ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.close(code, reason)
        self.queue.put_nowait({"kind": "_closed"})

    async def _presence_changed(self) -> None:
        for site_id in self.sites:
            await presence.publish(self.canales.sites[site_id], self.who.id)

    async def _cleanup(self) -> None:
        self.closing = True
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sub in self.subscriptions:
            sub.close()
        if self.connection_id is not None:
            with contextlib.suppress(Exception):
                await presence.disconnected(self.canales.db, self.connection_id)
                await self._presence_changed()


def _conversation_id(event: dict[str, Any]) -> int | None:
    if event.get("kind") == "message":
        value = event.get("message", {}).get("conversation_id")
    elif event.get("kind") == "conversation":
        value = event.get("conversation", {}).get("id")
    else:
        value = event.get("conversation_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def inbox_socket(websocket: WebSocket) -> None:
    """``/inbox/ws``: refuse a foreign origin or no session (before accepting,
    so the handshake fails with 403), then run the socket."""
    origin = websocket.headers.get("origin")
    if origin is None or origin != own_origin(websocket):
        await websocket.close(CLOSE_POLICY)
        return
    try:
        who = await signed_in(websocket)
    except LoginRequired:
        await websocket.close(CLOSE_SESSION_ENDED)
        return
    site_id = websocket.query_params.get("site")
    try:
        sites = {site_id: who.role_on(site_id)} if site_id else dict(who.roles)
    except NotFound:
        await websocket.close(CLOSE_NOT_FOUND)
        return
    if not sites:
        await websocket.close(CLOSE_NOT_FOUND)
        return
    await InboxSocket(websocket, who, sites).run()
