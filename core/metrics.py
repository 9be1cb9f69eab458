"""Prometheus metrics at ``GET /metrics``: messages in and out per site and channel,
deliveries and their retries and failures, webhook and HTTP latency, queue length and
wait, bot outcomes.

Counters live in each worker process; with several workers, ``canales serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a shared folder so that a scrape of any worker
reports the sum (prometheus_client's multiprocess mode). Queue gauges are read from
the database at scrape time, so they are the same whichever worker answers.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from canales.core.models import Conversation

if TYPE_CHECKING:  # pragma: no cover
    from canales.core.runtime import Canales

MESSAGES_IN = Counter("canales_messages_in_total", "Citizen messages stored", ["site", "channel"])
MESSAGES_OUT = Counter("canales_messages_out_total", "Replies stored for delivery", ["site", "channel", "author"])
DELIVERIES = Counter("canales_deliveries_total", "Delivery attempts by outcome", ["site", "channel", "outcome"])
BOT_OUTCOMES = Counter("canales_bot_outcomes_total", "Chatbot turns by outcome", ["site", "outcome"])
HTTP_SECONDS = Histogram(
    "canales_http_request_seconds",
    "Time to answer HTTP requests, by route",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def delivery_outcome(site_id: str, channel: str, outcome: str) -> None:
    """Count a delivery attempt: ``done``, ``retry``, ``failed`` or ``unknown``."""
    DELIVERIES.labels(site_id, channel, outcome).inc()


def bot_outcome(site_id: str, outcome: str) -> None:
    """Count a chatbot turn: ``answered``, ``clarified``, ``out_of_scope``,
    ``handed_off``…"""
    BOT_OUTCOMES.labels(site_id, outcome).inc()


class QueueCollector:
    """Queue length and the oldest wait per site and team, read from the database
    at scrape time."""

    def __init__(self, rows: Iterable[tuple[str, str | None, int, dt.datetime | None]], now: dt.datetime) -> None:
        self.rows = list(rows)
        self.now = now

    def collect(self) -> Iterable[GaugeMetricFamily]:
        length = GaugeMetricFamily("canales_queue_length", "Conversations waiting for an agent", labels=["site", "team"])
        wait = GaugeMetricFamily(
            "canales_queue_oldest_wait_seconds", "How long the oldest waiting conversation has waited", labels=["site", "team"]
        )
        for site_id, team, count, oldest in self.rows:
            length.add_metric([site_id, team or ""], count)
            wait.add_metric([site_id, team or ""], (self.now - oldest).total_seconds() if oldest else 0.0)
        yield length
        yield wait


async def queue_rows(canales: "Canales") -> list[tuple[str, str | None, int, dt.datetime | None]]:
    async with canales.db.read() as session:
        rows = (
            await session.exec(
                select(
                    Conversation.site_id,
                    Conversation.team,
                    func.count(),
                    func.min(Conversation.updated_at),
                )
                .where(col(Conversation.site_id).in_(list(canales.sites)), col(Conversation.state).in_(("new", "queued")))
                .group_by(Conversation.site_id, Conversation.team)
            )
        ).all()
    return [(site_id, team, int(count), oldest) for site_id, team, count, oldest in rows]


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY  # type: ignore[return-value]


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``. With ``CANALES_METRICS_TOKEN`` set, a request must carry
    ``Authorization: Bearer <token>``; keep the endpoint off the public internet
    either way (see docs/deploy.md)."""
    token = os.environ.get("CANALES_METRICS_TOKEN")
    if token and not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}"):
        return Response("unauthorized\n", status_code=401, media_type="text/plain")
    canales: Canales = request.app.state.canales
    body = generate_latest(_registry())
    queues = CollectorRegistry(auto_describe=False)
    now = next(iter(canales.sites.values())).now()
    queues.register(QueueCollector(await queue_rows(canales), now))
    return Response(body + generate_latest(queues), media_type=CONTENT_TYPE_LATEST)


_NUMBER = re.compile(r"/\d+(?=/|$)")
_SITE = re.compile(r"^/(s|inbox)/[^/]+")


def route_label(path: str, status: int) -> str:
    """A bounded label for a path: site ids and numbers become placeholders, and
    paths nothing answered (scanners) share one label."""
    if status == 404:
        return "unmatched"
    if path.startswith("/-/static/"):
        return "/-/static"
    path = _SITE.sub(lambda m: f"/{m.group(1)}/{{site}}", path)
    return _NUMBER.sub("/{id}", path)[:100]


class HttpTimer:
    """Times every HTTP request into ``canales_http_request_seconds`` (webhook
    acknowledgement latency included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            HTTP_SECONDS.labels(scope["method"], route_label(scope["path"], status), str(status)).observe(
                time.perf_counter() - started
            )
