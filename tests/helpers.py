"""Helpers for tests: a real HTTP server for a small ASGI app (a callback receiver,
a stand-in for an outside service), and signing API-channel requests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from canales.core.signing import sign


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None, **options: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 inside the test's event loop; yield
    its base URL. ``options`` go to ``uvicorn.Config`` (``ws_max_size=…``)."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"x-canales-timestamp": ts, "x-canales-signature": sign(secret, ts, body), "content-type": "application/json"}


def api_message(id: str, text: str = "hola", sender: str = "u1", **extra: Any) -> bytes:
    return json.dumps({"id": id, "sender": {"id": sender}, "text": text, **extra}).encode()


async def eventually(check: Any, timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Wait until ``check()`` (sync or async) returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
