"""The live chat's endpoints under ``/s/{site}/chat/``: the widget and the socket."""

from __future__ import annotations

import logging

from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from canales.core.http import site_of
from canales.plugins.chat_human.desk import desk_of
from canales.plugins.chat_human.socket import POLICY, CitizenSocket
from canales.plugins.chat_human.widget import demo_page, widget_js

log = logging.getLogger("canales.chat")


async def chat_socket(ws: WebSocket) -> None:
    """Check the handshake (Origin, sockets per address), then serve the citizen."""
    desk = desk_of(site_of(ws))
    origin = ws.headers.get("origin")
    if not desk.origin_allowed(origin):
        log.info("site %s: chat socket refused for origin %.100r", desk.site.id, origin)
        # Closing before accepting answers the handshake with 403: nothing happens.
        await ws.close(code=POLICY)
        return
    address = ws.client.host if ws.client else "unknown"
    if not desk.limits.connections.open(address):
        await ws.accept()
        socket = CitizenSocket(desk, ws, address, origin)
        await socket.error("too_many_connections", retry_after=60)
        await socket.close(POLICY, "demasiadas conexiones")
        return
    socket = CitizenSocket(desk, ws, address, origin)
    desk.sockets.add(socket)
    try:
        await ws.accept()
        await socket.run()
    finally:
        desk.sockets.discard(socket)
        desk.limits.connections.close(address)


def routes() -> list[BaseRoute]:
    """The chat's routes, relative to ``/s/{site}/``."""
    return [
        Route("/chat/widget.js", widget_js, methods=["GET", "HEAD"], name="chat-widget"),
        Route("/chat/", demo_page, methods=["GET"], name="chat-demo"),
        WebSocketRoute("/chat/ws", chat_socket, name="chat-socket"),
    ]
