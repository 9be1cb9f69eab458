"""Running plugins' periodic jobs (and core's) in the background of each worker."""

from __future__ import annotations

import asyncio
import logging
import random

from canales.core.site import Site
from canales.core.types import PeriodicJob

log = logging.getLogger("canales.jobs")


class Jobs:
    """Runs every site's periodic jobs until stopped. A job that raises is logged
    and runs again at its next interval; a slow job delays only itself."""

    def __init__(self, sites: list[Site]) -> None:
        self.sites = sites
        self._tasks: list[asyncio.Task[None]] = []
        self.runs: dict[str, int] = {}

    def collect(self) -> list[tuple[Site, PeriodicJob]]:
        found = []
        for site in self.sites:
            for result in site.hook.periodic_jobs(site=site):
                for job in result or ():
                    found.append((site, job))
        return found

    async def start(self) -> None:
        for site, job in self.collect():
            name = f"{site.id}:{job.name}"
            self._tasks.append(asyncio.create_task(self._loop(name, job), name=f"canales-job-{name}"))

    async def _loop(self, name: str, job: PeriodicJob) -> None:
        # Spread the first runs so that workers started together do not all poll
        # at the same instant.
        await asyncio.sleep(random.uniform(0, min(job.interval, 2.0)))
        while True:
            try:
                await job.run()
                self.runs[name] = self.runs.get(name, 0) + 1
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failing job must not stop the others
                log.exception("job %s failed", name)
            await asyncio.sleep(job.interval)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
