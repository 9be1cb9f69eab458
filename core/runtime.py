"""The running system: the sites of this process, the database and bus they share,
the outbox relay and the periodic jobs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from canales.core.bus import Bus, make_bus
from canales.core.db import Database, utcnow
from canales.core.jobs import Jobs
from canales.core.models import SiteRow
from canales.core.outbox import Outbox
from canales.core.plugins import Available, installed
from canales.core.site import Site, await_all, build_site
from canales.core.siteconfig import ConfigError, SiteConfig, load_site_file

log = logging.getLogger("canales")


def load_configs(sites: Iterable[str | Path | SiteConfig]) -> list[SiteConfig]:
    """Read every site file (or take an already loaded config); refuse two with the
    same site id."""
    configs: list[SiteConfig] = []
    seen: dict[str, Path | None] = {}
    for item in sites:
        config = item if isinstance(item, SiteConfig) else load_site_file(item)
        if config.id in seen:
            raise ConfigError(
                f"{config.path}: id: site {config.id!r} is already defined in {seen[config.id]}"
            )
        seen[config.id] = config.path
        configs.append(config)
    if not configs:
        raise ConfigError("no site files given")
    return configs


class Canales:
    """Everything one process serves. Build it, then ``async with canales:`` (or
    let the ASGI app's lifespan start and stop it).

    Raises :class:`ConfigError` at construction for any invalid site file or plugin
    settings, so that a bad deployment refuses to start.
    """

    def __init__(
        self,
        sites: Sequence[str | Path | SiteConfig],
        *,
        database_url: str,
        redis_url: str | None = None,
        bus_prefix: str = "canales:",
        plugins: dict[str, Available] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        background: bool = True,
    ) -> None:
        configs = load_configs(sites)
        self.available = {**installed(), **(plugins or {})}
        self.db = Database(database_url)
        self.bus: Bus = make_bus(redis_url, bus_prefix)
        self.sites: dict[str, Site] = {}
        for config in configs:
            self.sites[config.id] = build_site(config, self.available, self.db, self.bus, clock)
        self.outbox = Outbox(self.sites.values())
        self.jobs = Jobs(list(self.sites.values()))
        self.background = background
        self.started = False

    def site(self, site_id: str) -> Site:
        return self.sites[site_id]

    async def sync_sites(self) -> None:
        """Make sure every site of this process has its row (foreign keys need it)."""
        async with self.db.write() as session:
            for site in self.sites.values():
                row = await session.get(SiteRow, site.id)
                if row is None:
                    session.add(SiteRow(id=site.id, name=site.name))
                elif row.name != site.name:
                    row.name = site.name
                    session.add(row)

    async def start(self) -> None:
        await self.db.ping()
        await self.bus.start()
        await self.sync_sites()
        for site in self.sites.values():
            await await_all(site.hook.startup(site=site))
        if self.background:
            await self.outbox.start()
            await self.jobs.start()
        self.started = True
        log.info("canales started: sites %s", ", ".join(self.sites))

    async def stop(self) -> None:
        await self.jobs.stop()
        await self.outbox.stop()
        for site in self.sites.values():
            try:
                await await_all(site.hook.shutdown(site=site))
            except Exception:  # noqa: BLE001 - stop the others even if one fails
                log.exception("site %s: shutdown hook failed", site.id)
        await self.bus.stop()
        await self.db.close()
        self.started = False

    async def __aenter__(self) -> "Canales":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

