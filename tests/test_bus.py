"""The bus, in process and over Redis: delivery to subscribers, bounded queues, and
recovery after the Redis connection is lost."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
import redis.asyncio as aioredis

from canales.core.bus import RESYNC, Bus, RedisBus, Subscription
from helpers import eventually


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        bus: Bus = Bus()
    else:
        bus = RedisBus(request.getfixturevalue("redis_url"), prefix=f"canales-test-{secrets.token_hex(4)}:")
    await bus.start()
    yield bus
    await bus.stop()


async def next_event(sub: Subscription, timeout: float = 3.0) -> Any:
    event = await sub.get(timeout=timeout)
    assert event is not None, "no event arrived"
    return event


async def test_subscribers_of_a_channel_get_its_events(bus: Bus) -> None:
    a, b, other = bus.subscribe("inbox:uno"), bus.subscribe("inbox:uno"), bus.subscribe("inbox:dos")
    await bus.publish("inbox:uno", {"kind": "message", "seq": 1})
    assert await next_event(a) == {"kind": "message", "seq": 1}
    assert await next_event(b) == {"kind": "message", "seq": 1}
    assert await other.get(timeout=0.3) is None
    a.close()
    await bus.publish("inbox:uno", {"kind": "message", "seq": 2})
    assert (await next_event(b))["seq"] == 2
    assert bus.health()["ok"]


async def test_a_slow_subscriber_gets_resync_instead_of_growing(bus: Bus) -> None:
    slow = Subscription(bus, "inbox:uno", maxsize=5)
    bus._subscribers.setdefault("inbox:uno", set()).add(slow)
    fast = bus.subscribe("inbox:uno")
    for seq in range(12):
        await bus.publish("inbox:uno", {"kind": "message", "seq": seq})
    got = [await next_event(fast) for _ in range(12)]
    assert [e["seq"] for e in got] == list(range(12))
    await eventually(lambda: slow._queue.qsize() > 0)
    await asyncio.sleep(0.1)
    drained = []
    while (event := await slow.get(timeout=0.2)) is not None:
        drained.append(event)
    assert RESYNC in drained and len(drained) <= 5


async def test_redis_subscribers_recover_after_the_connection_drops(redis_url: str) -> None:
    prefix = f"canales-test-{secrets.token_hex(4)}:"
    listener, publisher = RedisBus(redis_url, prefix=prefix), RedisBus(redis_url, prefix=prefix)
    await listener.start()
    await publisher.start()
    try:
        sub = listener.subscribe("inbox:uno")
        await publisher.publish("inbox:uno", {"n": 1})
        assert await next_event(sub) == {"n": 1}
        # Cut every pub/sub connection, as a Redis restart does.
        admin = aioredis.Redis.from_url(redis_url)
        killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await admin.aclose()
        assert killed >= 1
        # Within seconds the subscriber is told to resync, then receives again.
        assert await next_event(sub, timeout=5) == RESYNC
        await eventually(lambda: listener.health()["ok"], timeout=5)
        await publisher.publish("inbox:uno", {"n": 2})
        assert await next_event(sub, timeout=5) == {"n": 2}
        assert listener.health()["reconnects"] == 1
    finally:
        await listener.stop()
        await publisher.stop()


async def test_publishing_while_redis_is_unreachable_does_not_raise() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", prefix="canales-test-down:")
    sub = bus.subscribe("inbox:uno")
    await bus.publish("inbox:uno", {"n": 1})  # logged, not raised: the data is in the database
    assert not bus.health()["ok"]
    assert await sub.get(timeout=0.1) is None
    await bus.stop()


async def test_two_workers_see_each_others_events_through_redis(redis_url: str) -> None:
    prefix = f"canales-test-{secrets.token_hex(4)}:"
    worker_a, worker_b = RedisBus(redis_url, prefix=prefix), RedisBus(redis_url, prefix=prefix)
    await worker_a.start()
    await worker_b.start()
    try:
        on_b = worker_b.subscribe("conversation:7")
        on_a = worker_a.subscribe("conversation:7")
        await worker_a.publish("conversation:7", {"kind": "message", "seq": 3})
        assert await next_event(on_b) == {"kind": "message", "seq": 3}
        assert await next_event(on_a) == {"kind": "message", "seq": 3}
    finally:
        await worker_a.stop()
        await worker_b.stop()
