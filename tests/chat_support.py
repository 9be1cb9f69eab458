"""Helpers for the live chat's tests: site files, a protocol client over a real
WebSocket (the ``websockets`` package), and serving a running app for real."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from canales.core.agents import add_agent
from canales.core.http import WS_MAX_SIZE
from helpers import serve

ORIGIN = "https://organismo.gub.uy"

OPEN_HOURS = "always = true"
# Closed every day but Monday morning: outside hours whenever the test runs, unless
# a clock says otherwise.
MONDAY_MORNING = 'mon = ["08:00-12:00"]'


def chat_site(
    id: str = "uno",
    *,
    hours: str = OPEN_HOURS,
    origins: tuple[str, ...] = (ORIGIN,),
    extra: str = "",
    plugins: str = "",
) -> str:
    """A site file with the live chat enabled (and the contact channels filled)."""
    allowed = ", ".join(f'"{o}"' for o in origins)
    return f"""
id = "{id}"
name = "Organismo {id.title()}"
timezone = "America/Montevideo"
[hours]
{hours}
[holidays]
categories = []
[contact]
phone = "0800 1234"
phone_hours = "lunes a viernes de 9 a 17 h"
email = "consultas@{id}.gub.uy"
web = "https://www.{id}.gub.uy/"
[plugins.chat_human]
allowed_origins = [{allowed}]
{extra}
{plugins}
"""


def ws_url(base: str, site: str = "uno") -> str:
    return base.replace("http://", "ws://", 1) + f"/s/{site}/chat/ws"


@contextlib.asynccontextmanager
async def served(running: Any, **options: Any) -> AsyncIterator[str]:
    """Serve a started app for real, with the server's WebSocket size limit."""
    options.setdefault("ws_max_size", WS_MAX_SIZE)
    async with serve(running.app, **options) as base:
        yield base


async def make_agent(canales: Any, site_id: str = "uno", name: str = "Ana Pereira") -> int:
    email = name.lower().replace(" ", ".") + f"@{site_id}.gub.uy"
    agent = await add_agent(canales.db, email=email, name=name, password="clave-de-prueba-123", site_id=site_id, role="agent")
    return agent.id or 0


class Citizen:
    """A chat client speaking the protocol: answers pings, keeps every frame it got
    (``frames``) and the messages by sequence number (``messages``)."""

    _ids = itertools.count(1)

    def __init__(self, url: str, origin: str | None = ORIGIN, answer_pings: bool = True, address: str | None = None) -> None:
        self.url = url
        self.address = address
        self.origin = origin
        self.answer_pings = answer_pings
        self.ws: ClientConnection | None = None
        self.frames: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.welcome: dict[str, Any] = {}
        self.token: str | None = None
        self.conversation_id: int | None = None

    async def connect(self) -> "Citizen":
        headers = {"Origin": self.origin} if self.origin else {}
        # ``address``: connect from another loopback address (127.0.0.2), to act as
        # a citizen on another network.
        extra = {"local_addr": (self.address, 0)} if self.address else {}
        self.ws = await websockets.connect(
            self.url, additional_headers=headers, max_size=None, open_timeout=5, proxy=None, **extra
        )
        self.welcome = await self.expect("welcome")
        return self

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.close()

    async def __aenter__(self) -> "Citizen":
        return await self.connect()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def send(self, frame: dict[str, Any] | str) -> None:
        assert self.ws is not None
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame other than a ping (pings are answered)."""
        assert self.ws is not None
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
            assert isinstance(raw, str)
            self.raw.append(raw)
            frame = json.loads(raw)
            self.frames.append(frame)
            if frame.get("type") == "conversation" and frame.get("conversation"):
                self.conversation_id = frame["conversation"]["id"]
            if frame.get("type") == "ping":
                if self.answer_pings:
                    await self.send({"type": "pong"})
                continue
            return frame

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """Skip frames until one of type ``kind``."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame["type"] == "message"]

    @property
    def seqs(self) -> list[int]:
        return [frame["seq"] for frame in self.messages]

    async def start(self, **form: Any) -> str:
        await self.send({"type": "start", "privacy": True, **form})
        started = await self.expect("started")
        self.token = started["token"]
        return self.token

    async def resume(self, token: str, last_seq: int = 0, conversation_id: int | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "resume", "token": token, "last_seq": last_seq}
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        await self.send(frame)
        answer = await self.recv()
        if answer["type"] == "resumed":
            self.token = token
            if answer["conversation"]:
                self.conversation_id = answer["conversation"]["id"]
        return answer

    async def say(self, text: str, id: str | None = None) -> dict[str, Any]:
        """Send a message; return its ``ack`` (or the ``error`` answering it)."""
        id = id or f"c{next(self._ids)}"
        await self.send({"type": "message", "id": id, "text": text})
        while True:
            frame = await self.recv()
            if frame["type"] in ("ack", "error") and frame.get("id") == id:
                return frame

    async def wait_for_seq(self, seq: int, timeout: float = 5.0) -> None:
        while not self.seqs or max(self.seqs) < seq:
            await self.recv(timeout)
