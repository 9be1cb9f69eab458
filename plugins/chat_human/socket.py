"""One citizen's WebSocket: reads frames, answers them, keeps the connection alive.

The protocol is described in ``docs/chat-protocol.md``. In short: the server greets
with ``welcome`` (protocol version, whether the chat is attended, heartbeat); the
client ``start``\\ s a chat (and receives its token, once) or ``resume``\\ s one with its
token and the last sequence number it has; then ``message``, ``typing``, ``read``,
``transcript`` and ``pong`` frames. Bad frames get an ``error`` frame naming the
problem and store nothing; floods, binary and oversized frames close the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from typing import Any

from starlette.websockets import WebSocket

from canales import Inbound, Rejected
from canales.core.bus import Subscription
from canales.core.intake import receive
from canales.core.replies import add_note
from canales.core.text import MAX_TEXT, InvalidInput
from canales.plugins.chat_human import frames as f
from canales.plugins.chat_human.desk import CHANNEL, ChatDesk, session_channel
from canales.plugins.chat_human.feed import ConversationFeed
from canales.plugins.chat_human.history import transcript
from canales.plugins.chat_human.models import ChatSession
from canales.plugins.chat_human import prechat
from canales.plugins.chat_human.sessions import bind_conversation, find_session, mark_read, open_session

log = logging.getLogger("canales.chat")

PROTOCOL = 1
TYPING_EVERY = 2.0
TRANSCRIPT_EVERY = 5.0

# Close codes (RFC 6455 and ours); see docs/chat-protocol.md.
NORMAL = 1000
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
POLICY = 1008
TOO_BIG = 1009
INTERNAL = 1011
HEARTBEAT_MISSED = 4000


class CitizenSocket:
    """The server side of one citizen connection."""

    def __init__(self, desk: ChatDesk, ws: WebSocket, address: str, origin: str | None) -> None:
        self.desk = desk
        self.site = desk.site
        self.settings = desk.settings
        self.ws = ws
        self.address = address
        self.origin = origin
        self.frame_budget = desk.limits.frame_bucket()
        self.session: ChatSession | None = None
        self.feed: ConversationFeed | None = None
        self.waiting: Subscription | None = None  # the session's channel, before a conversation exists
        self.closed = False
        self.read_seq = 0
        self._typing_at = 0.0
        self._transcript_at = -TRANSCRIPT_EVERY
        self._pong = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[Any]] = []

    # -- life cycle ----------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until either side ends it."""
        status = self.desk.status()
        await self.send(
            {
                "type": "welcome",
                "protocol": PROTOCOL,
                "heartbeat": self.settings.heartbeat_interval,
                "max_text": MAX_TEXT,
                "status": self.desk.status_payload(status),
            }
        )
        reader = asyncio.create_task(self._read(), name="chat-reader")
        heartbeat = asyncio.create_task(self._heartbeat(status), name="chat-heartbeat")
        self._tasks += [reader, heartbeat]
        try:
            await asyncio.wait({reader, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._leave()
            await self.close(NORMAL, "")

    async def _leave(self) -> None:
        if self.feed is not None:
            await self.feed.close()
            self.feed = None
        if self.waiting is not None:
            self.waiting.close()
            self.waiting = None

    async def send(self, frame: dict[str, Any]) -> None:
        """Send one frame; a client that went away only ends the connection."""
        if self.closed:
            return
        text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        async with self._send_lock:
            try:
                await self.ws.send_text(text)
            except Exception:  # noqa: BLE001 - the client went away; the reader ends too
                self.closed = True

    async def close(self, code: int, reason: str) -> None:
        """Close the connection with ``code`` (once)."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.ws.close(code, reason)

    async def error(
        self,
        code: str,
        *,
        field: str | None = None,
        client_id: str | None = None,
        retry_after: float | None = None,
        detail: str | None = None,
        **params: Any,
    ) -> None:
        """An ``error`` frame: a machine code, a Spanish message for the citizen,
        and the field, the client's message id or the wait when they apply."""
        frame: dict[str, Any] = {"type": "error", "code": code, "message": self.desk.text(f"error.{code}", **params)}
        if field is not None:
            frame["field"] = field
        if client_id is not None:
            frame["id"] = client_id
        if retry_after is not None:
            frame["retry_after"] = math.ceil(retry_after)
        if detail is not None:
            frame["detail"] = detail
        await self.send(frame)

    async def _fail(self) -> None:
        await self.error("unavailable", retry_after=1)
        await self.close(INTERNAL, "error interno")

    # -- reading -------------------------------------------------------------------

    async def _read(self) -> None:
        while not self.closed:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self.close(UNSUPPORTED_DATA, "solo se aceptan frames de texto con JSON")
                return
            if len(text) > f.MAX_FRAME:
                await self.close(TOO_BIG, "mensaje demasiado grande")
                return
            if self.frame_budget.take(0):
                await self.error("flood")
                await self.close(POLICY, "demasiados mensajes")
                return
            try:
                frame = f.parse(text)
            except f.FrameProblem as problem:
                await self.error(
                    problem.code, field=problem.field, client_id=problem.client_id, detail=problem.reason, field_name=problem.field
                )
                continue
            try:
                await self.handle(frame)
            except Exception:  # noqa: BLE001 - never echo the frame (it may hold a token)
                log.exception("site %s: chat frame %r failed", self.site.id, frame.type)
                if isinstance(frame, (f.Start, f.Resume)):
                    # Half set up: the client starts over on a fresh connection.
                    await self._fail()
                    return
                client_id = frame.id if isinstance(frame, f.Say) else None
                await self.error("unavailable", client_id=client_id, retry_after=2)

    async def handle(self, frame: f.Frame) -> None:
        """Act on one valid client frame."""
        if isinstance(frame, f.Pong):
            self._pong.set()
        elif isinstance(frame, f.Ping):
            await self.send({"type": "pong"})
        elif isinstance(frame, f.Start):
            await self._start(frame)
        elif isinstance(frame, f.Resume):
            await self._resume(frame)
        elif isinstance(frame, f.Say):
            await self._say(frame)
        elif isinstance(frame, f.Typing):
            await self._typing(frame)
        elif isinstance(frame, f.Read):
            await self._read_up_to(frame.seq)
        elif isinstance(frame, f.TranscriptRequest):
            await self._transcript()

    # -- starting and resuming -------------------------------------------------------

    async def _start(self, frame: f.Start) -> None:
        if self.session is not None:
            await self.error("already_started")
            return
        try:
            answers = prechat.check(self.settings.prechat, frame)
        except prechat.PrechatProblem as problem:
            await self.error(
                problem.code, field=problem.field, detail=problem.reason or None, max=problem.limit or "", field_name=problem.field
            )
            return
        wait = self.desk.limits.starts.take(self.address)
        if wait:
            await self.error("rate_limited", retry_after=wait, seconds=math.ceil(wait))
            return
        self.session, token = await open_session(self.site, answers, self.origin)
        # The only frame that ever carries the token.
        await self.send({"type": "started", "token": token, "conversation": None})
        self._wait_for_conversation()

    async def _resume(self, frame: f.Resume) -> None:
        if self.session is not None:
            await self.error("already_started")
            return
        limits = self.desk.limits
        wait = limits.failed_resumes.wait(self.address)
        if wait:
            await self.error("rate_limited", retry_after=wait, seconds=math.ceil(wait))
            return
        found = await find_session(self.site, frame.token)
        if found is None:
            limits.failed_resumes.take(self.address)
            await self.error("not_found")
            return
        self.session = found
        self.read_seq = found.citizen_read_seq
        if found.conversation_id is None:
            await self.send({"type": "resumed", "conversation": None, "read_seq": 0})
            self._wait_for_conversation()
            return
        # A client whose conversation is not the session's current one (it was
        # closed and the citizen wrote again) gets the current one from the start.
        after = frame.last_seq if frame.conversation_id == found.conversation_id else 0
        await self._follow(
            found.conversation_id,
            after,
            lambda view: {"type": "resumed", "conversation": view, "read_seq": found.citizen_read_seq},
        )

    async def _follow(self, conversation_id: int, after: int, header: Any) -> None:
        await self._leave()
        self.feed = ConversationFeed(self.desk, conversation_id, self.send, self._fail)
        await self.feed.open(after, header)

    def _wait_for_conversation(self) -> None:
        """Until the first message, listen on the session's channel: another tab of
        the same citizen may send it."""
        assert self.session is not None and self.session.id is not None
        self.waiting = self.site.bus.subscribe(session_channel(self.session.id))
        self._tasks.append(asyncio.create_task(self._await_conversation(self.waiting), name="chat-wait"))

    async def _await_conversation(self, subscription: Subscription) -> None:
        async for event in subscription:
            conversation_id = event.get("conversation_id")
            if event.get("kind") == "conversation_started" and isinstance(conversation_id, int):
                if self.feed is None or self.feed.conversation_id != conversation_id:
                    await self._follow(conversation_id, 0, lambda view: {"type": "conversation", "conversation": view})
                return

    # -- messages ----------------------------------------------------------------------

    async def _say(self, frame: f.Say) -> None:
        session = self.session
        if session is None:
            await self.error("not_started", client_id=frame.id)
            return
        if self.feed is not None and self.feed.state == "closed":
            await self.error("closed", client_id=frame.id)
            return
        if not frame.text.strip() and not frame.choice:
            await self.error("empty", field="text", client_id=frame.id)
            return
        limits = self.desk.limits
        wait = max(limits.messages.wait(session.id), limits.address_messages.wait(self.address))
        if wait:
            await self.error("rate_limited", client_id=frame.id, retry_after=wait, seconds=math.ceil(wait))
            return
        limits.messages.take(session.id)
        limits.address_messages.take(self.address)
        first = session.conversation_id is None
        inbound = Inbound(
            channel=CHANNEL,
            # Scoped by the session: two citizens' clients may pick the same ids.
            external_id=f"{session.key}:{frame.id}",
            sender_id=session.key,
            thread=session.key,
            sender_name=session.name,
            text=frame.text,
            payload={"choice": frame.choice} if frame.choice else {},
            metadata=prechat.metadata(session) if first else {},
            # On the conversation too, where routing rules and the inbox can use it.
            conversation_data={"topic": session.topic} if first and session.topic else {},
        )
        try:
            received = await receive(self.site, inbound)
        except InvalidInput as exc:
            await self.error("invalid", field=exc.field, client_id=frame.id, detail=str(exc), field_name=exc.field)
            return
        except Rejected as exc:
            await self.error("rejected", client_id=frame.id, detail=exc.code)
            return
        conversation_id = received.conversation.id or 0
        if not received.duplicate and conversation_id != session.conversation_id:
            # The first message opened the conversation (or the previous one was
            # closed a moment ago and this one opened the next): follow it.
            await bind_conversation(self.site, session.id or 0, conversation_id)
            session.conversation_id = conversation_id
            note = prechat.note_text(self.settings.texts, session) if first else None
            if note:
                await add_note(self.site, conversation_id, note, agent_id=None)
            await self.site.bus.publish(
                session_channel(session.id or 0), {"kind": "conversation_started", "conversation_id": conversation_id}
            )
            await self._follow(conversation_id, 0, lambda view: {"type": "conversation", "conversation": view})
        await self.send({"type": "ack", "id": frame.id, "seq": received.message.seq, "duplicate": received.duplicate})

    async def _typing(self, frame: f.Typing) -> None:
        if self.feed is None:
            return
        moment = time.monotonic()
        if frame.active and moment - self._typing_at < TYPING_EVERY:
            return
        self._typing_at = moment if frame.active else 0.0
        await self.site.bus.publish(
            f"inbox:{self.site.id}",
            {"kind": "typing", "conversation_id": self.feed.conversation_id, "who": "citizen", "agent_id": None, "active": frame.active},
        )

    async def _read_up_to(self, seq: int) -> None:
        if self.feed is None or self.session is None:
            return
        # One cannot have read what one was never sent.
        seq = min(seq, self.feed.cursor)
        if seq <= self.read_seq:
            return
        self.read_seq = seq
        if await mark_read(self.site, self.session.id or 0, seq):
            await self.site.bus.publish(
                f"inbox:{self.site.id}",
                {"kind": "read", "conversation_id": self.feed.conversation_id, "who": "citizen", "seq": seq},
            )

    async def _transcript(self) -> None:
        if self.feed is None:
            await self.error("not_started")
            return
        # A transcript reads the whole conversation: one every few seconds is plenty.
        wait = self._transcript_at + TRANSCRIPT_EVERY - time.monotonic()
        if wait > 0:
            await self.error("rate_limited", retry_after=wait, seconds=math.ceil(wait))
            return
        self._transcript_at = time.monotonic()
        filename, text = await transcript(self.site, self.feed.conversation_id, self.settings)
        await self.send({"type": "transcript", "filename": filename, "content_type": "text/plain; charset=utf-8", "text": text})

    # -- heartbeat -------------------------------------------------------------------

    async def _heartbeat(self, status: Any) -> None:
        """Ping every ``heartbeat_interval``; a client that does not answer within
        ``heartbeat_timeout`` is gone (a half-open connection): close. Each beat
        also tells the client if the chat opened or closed meanwhile."""
        interval, timeout = self.settings.heartbeat_interval, self.settings.heartbeat_timeout
        while not self.closed:
            await asyncio.sleep(interval)
            self._pong.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self.send({"type": "ping"})
                    await self._pong.wait()
            except TimeoutError:
                await self.close(HEARTBEAT_MISSED, "sin respuesta al ping")
                return
            now = self.desk.status()
            if now != status:
                status = now
                await self.send({"type": "status", "status": self.desk.status_payload(now)})
