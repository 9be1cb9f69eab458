"""The bare baseline for the chat benchmark: a Starlette WebSocket endpoint that
relays every text frame straight back to its sender — what a socket round trip
costs with nothing else around it.

    uvicorn --factory baseline_relay:app
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


async def relay(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            await ws.send_text(await ws.receive_text())
    except WebSocketDisconnect:
        pass


def app() -> Starlette:
    return Starlette(routes=[WebSocketRoute("/ws", relay)])
