"""The webhook's inbox in one worker: bodies are stored with *group commit* (the
requests waiting at the same moment share one transaction, so a burst of webhooks
costs one write instead of one per request, and SQLite's single writer is not fought
over) and processed one at a time by a single task (the handler stage writes a lot;
serialising it keeps the acknowledgements fast). A body this worker cannot take now
(queue full, crash) stays ``received`` and the recovery job handles it later.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from canales.core.site import Site
from canales.plugins.facebook.models import FacebookWebhook

log = logging.getLogger("canales.facebook.inbox")

# Bodies waiting to be processed in this worker; beyond it the recovery job takes over.
MAX_QUEUED = 1000
MAX_GROUP = 200


class WebhookInbox:
    def __init__(self, site: Site, process: Any) -> None:
        self.site = site
        self._process = process  # async (site, webhook_id) -> None
        self._writes: asyncio.Queue[tuple[str, str, asyncio.Future[int | None]]] = asyncio.Queue()
        self._work: asyncio.Queue[tuple[int, asyncio.Future[None]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def _start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._writer(), name=f"facebook-webhook-writer-{self.site.id}"),
                asyncio.create_task(self._worker(), name=f"facebook-webhook-worker-{self.site.id}"),
            ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []

    async def persist(self, body: bytes) -> int | None:
        """Store a body (once: ``None`` if the same body was stored before)."""
        self._start()
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        await self._writes.put((hashlib.sha256(body).hexdigest(), body.decode("utf-8"), future))
        return await future

    async def _writer(self) -> None:
        while True:
            group = [await self._writes.get()]
            while not self._writes.empty() and len(group) < MAX_GROUP:
                group.append(self._writes.get_nowait())
            try:
                ids = await self._insert(group)
            except Exception as exc:  # noqa: BLE001 - every waiting request gets the error
                for _, _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for digest, _, future in group:
                if not future.done():
                    future.set_result(ids.pop(digest, None))

    async def _insert(self, group: list[tuple[str, str, Any]]) -> dict[str, int]:
        now = self.site.now()
        rows, seen = [], set()
        for digest, body, _ in group:
            if digest not in seen:  # the same body twice in one group
                seen.add(digest)
                rows.append({"site_id": self.site.id, "digest": digest, "body": body, "state": "received",
                             "attempts": 0, "received_at": now, "claimed_at": now})
        dialect = sqlite if self.site.db.is_sqlite else postgresql
        statement = (
            dialect.insert(FacebookWebhook)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["site_id", "digest"])
            .returning(FacebookWebhook.id, FacebookWebhook.digest)
        )
        async with self.site.db.write() as session:
            result = await session.exec(statement)
            return {digest: id_ for id_, digest in result.all()}

    async def process(self, webhook_id: int) -> None:
        """Hand a stored body to this worker's processor and wait until it is done
        (called after the response has gone out)."""
        self._start()
        if self._work.qsize() >= MAX_QUEUED:
            return  # the recovery job will take it
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._work.put((webhook_id, future))
        await future

    async def _worker(self) -> None:
        while True:
            webhook_id, future = await self._work.get()
            try:
                await self._process(self.site, webhook_id)
            except Exception:  # noqa: BLE001 - left "received" for the recovery job
                log.exception("site %s: webhook %s failed", self.site.id, webhook_id)
            if not future.done():
                future.set_result(None)
