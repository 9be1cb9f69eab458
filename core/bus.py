"""The bus: live events between workers (a new message, an assignment, typing).

It only *notifies*. The database is the source of truth, so a subscriber that missed
events (a slow consumer, a Redis restart) gets a ``{"kind": "resync"}`` event and
catches up from the database by sequence number.

In-process by default; Redis pub/sub when ``REDIS_URL`` is set, so that a citizen on
one worker and an agent on another see each other live.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

log = logging.getLogger("canales.bus")

RESYNC: dict[str, Any] = {"kind": "resync"}


class Subscription:
    """Events of one channel for one consumer, in a bounded queue.

    A consumer that falls behind does not make the process grow: its queue is
    emptied and replaced by one ``resync`` event.
    """

    def __init__(self, bus: "Bus", channel: str, maxsize: int = 1000) -> None:
        self.bus = bus
        self.channel = channel
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self.closed = False

    def _put(self, event: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(RESYNC)

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event, or ``None`` after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bus._remove(self)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while not self.closed:
            yield await self._queue.get()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus:
    """In-process bus: events reach the subscribers of this process only."""

    kind = "memory"

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    async def start(self) -> None:
        """Connect (nothing to do in process)."""

    async def stop(self) -> None:
        """Disconnect and release subscribers."""

    def subscribe(self, channel: str) -> Subscription:
        """Receive the events published on ``channel`` from now on."""
        sub = Subscription(self, channel)
        self._subscribers.setdefault(channel, set()).add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.channel]

    def _dispatch(self, channel: str, event: dict[str, Any]) -> None:
        for sub in list(self._subscribers.get(channel, ())):
            sub._put(event)

    def _broadcast_local(self, event: dict[str, Any]) -> None:
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                sub._put(event)

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        """Send ``event`` (JSON-serialisable) to every subscriber of ``channel``.

        Never raises: the event's data is already in the database.
        """
        self._dispatch(channel, event)

    def health(self) -> dict[str, Any]:
        return {"kind": self.kind, "ok": True}


class RedisBus(Bus):
    """Redis pub/sub bus. One pattern subscription per process carries every
    channel; local subscribers are served from it.

    When the connection drops (a Redis restart), the listener reconnects with
    backoff, and every local subscriber receives a ``resync`` event so that it
    catches up from the database. Publishing while Redis is down logs and returns:
    the event's data is already stored.
    """

    kind = "redis"

    def __init__(self, url: str, prefix: str = "canales:") -> None:
        super().__init__()
        import redis.asyncio as aioredis

        self.url = url
        self.prefix = prefix
        self._client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=5,
            socket_keepalive=True,
            health_check_interval=5,
        )
        self._listener: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.reconnects = 0
        self.last_error: str | None = None

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="canales-redis-bus")
        try:
            async with asyncio.timeout(5):
                await self._connected.wait()
        except TimeoutError:
            log.warning("redis bus: not connected yet (%s); retrying in background", self.last_error)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):
                pass
            self._listener = None
        await self._client.aclose()

    async def _listen(self) -> None:
        from redis.exceptions import RedisError

        delay = 0.1
        first = True
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(f"{self.prefix}*")
                self._connected.set()
                self.last_error = None
                delay = 0.1
                if not first:
                    self.reconnects += 1
                    log.info("redis bus: reconnected; asking subscribers to resync")
                    self._broadcast_local(RESYNC)
                first = False
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    self._on_message(message)
            except asyncio.CancelledError:
                await _quiet_close(pubsub)
                raise
            except (RedisError, OSError) as exc:
                self._connected.clear()
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("redis bus: connection lost (%s); reconnecting", self.last_error)
                await _quiet_close(pubsub)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        if not isinstance(channel, str) or not channel.startswith(self.prefix):
            return
        try:
            event = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("redis bus: dropped a malformed event on %s", channel)
            return
        self._dispatch(channel[len(self.prefix):], event)

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        from redis.exceptions import RedisError

        try:
            await self._client.publish(self.prefix + channel, json.dumps(event, default=str))
        except (RedisError, OSError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("redis bus: publish on %s failed (%s)", channel, self.last_error)

    def health(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ok": self._connected.is_set(),
            "reconnects": self.reconnects,
            **({"error": self.last_error} if self.last_error else {}),
        }


async def _quiet_close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail; nothing to do
        pass


def make_bus(redis_url: str | None, prefix: str = "canales:") -> Bus:
    """The Redis bus if ``redis_url`` is given, else the in-process one. Processes
    that share a Redis share a bus only if they share the ``prefix``."""
    return RedisBus(redis_url, prefix=prefix) if redis_url else Bus()
