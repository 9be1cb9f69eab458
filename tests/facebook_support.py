"""Shared set-up of the Facebook channel tests: the Graph stand-in served on a real
port, a site whose plugin points at it, and signed webhooks delivered to the app."""

from __future__ import annotations

import contextlib
import datetime as dt
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from graph_standin import GraphStandIn, Webhooks
from helpers import serve

PAGE = "100000000000001"
APP_ID = "4242"
APP_SECRET = "fb-app-secret"
PAGE_TOKEN = "fb-page-token"
VERIFY_TOKEN = "fb-verify-token"
# A Tuesday 10:00 in Montevideo (13:00 UTC): inside business hours.
TUESDAY_10 = dt.datetime(2026, 3, 10, 13, 0, tzinfo=dt.timezone.utc)

SITE = """
id = "uno"
name = "Sitio uno"
timezone = "America/Montevideo"

[hours]
{hours}

[holidays]
categories = []

[contact]
phone = "0800 1234"
email = "consultas@ejemplo.gub.uy"

[plugins.facebook]
page_id = "{page}"
app_id = "{app_id}"
app_secret = {{ env = "TEST_FB_APP_SECRET" }}
page_token = {{ env = "TEST_FB_PAGE_TOKEN" }}
verify_token = {{ env = "TEST_FB_VERIFY_TOKEN" }}
graph_url = "{graph_url}"
graph_timeout = 0.5
{extra}
"""


class FB:
    """A running app with the Facebook channel and its stand-in."""

    def __init__(self, app: Any, graph: GraphStandIn, hooks: Webhooks, clock: Any) -> None:
        self.app = app
        self.graph = graph
        self.hooks = hooks
        self.clock = clock

    @property
    def site(self) -> Any:
        return self.app.site()

    @property
    def client(self) -> Any:
        return self.app.client

    def now(self) -> dt.datetime:
        return self.clock()

    async def drain(self, rounds: int = 10) -> None:
        """Run the outbox until nothing is due (echoes get a moment to arrive)."""
        import asyncio

        for _ in range(rounds):
            claimed = await self.app.canales.outbox.run_once()
            await asyncio.sleep(0.03)
            if not claimed:
                return

    async def count(self, model: Any, *where: Any) -> int:
        async with self.site.db.read() as session:
            return (await session.exec(select(func.count()).select_from(model).where(*where))).one()

    async def rows(self, model: Any, *where: Any, order: Any = None) -> list[Any]:
        async with self.site.db.read() as session:
            query = select(model).where(*where)
            if order is not None:
                query = query.order_by(order)
            return list((await session.exec(query)).all())


@contextlib.asynccontextmanager
async def facebook_app(
    run_app: Any, site_file: Any, monkeypatch: pytest.MonkeyPatch, clock: Any, *,
    hours: str = "always = true", extra: str = "", start: dt.datetime = TUESDAY_10, **kwargs: Any,
) -> AsyncIterator[FB]:
    monkeypatch.setenv("TEST_FB_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("TEST_FB_PAGE_TOKEN", PAGE_TOKEN)
    monkeypatch.setenv("TEST_FB_VERIFY_TOKEN", VERIFY_TOKEN)
    clock.set(start)
    graph = GraphStandIn(page_id=PAGE, page_token=PAGE_TOKEN, app_id=APP_ID, app_secret=APP_SECRET, clock=clock)
    async with serve(graph.app) as graph_url:
        path = site_file(textwrap.dedent(SITE).format(hours=hours, page=PAGE, app_id=APP_ID, graph_url=graph_url, extra=textwrap.dedent(extra)))
        kwargs.setdefault("background", False)
        async with run_app(path, **kwargs) as app:
            hooks = Webhooks(app.client, "/s/uno/facebook/webhook", page_id=PAGE, app_secret=APP_SECRET, graph=graph)
            graph.webhooks = hooks
            yield FB(app, graph, hooks, clock)
