"""A running site: its validated config, its plugin manager, its business hours, and
the database and bus it shares with the other sites of the process."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy
from pydantic import BaseModel

from canales.core.bus import Bus
from canales.core.db import Database, utcnow
from canales.core.hours import BusinessHours
from canales.core.plugins import Available, manager_for, validate_settings
from canales.core.siteconfig import SiteConfig

if TYPE_CHECKING:  # pragma: no cover
    from canales.core.outbox import Outbox

T = TypeVar("T", bound=BaseModel)


class Site:
    """One organism's site as the running app knows it.

    Plugins receive it in every hook: ``site.id``, ``site.config``,
    ``site.settings("facebook")``, ``site.hours.is_open(site.now())``, ``site.db``,
    ``site.bus`` and ``site.hook`` (to call hooks of this site's plugins only).
    """

    def __init__(
        self,
        config: SiteConfig,
        pm: pluggy.PluginManager,
        plugin_settings: dict[str, BaseModel | None],
        db: Database,
        bus: Bus,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.config = config
        self.pm = pm
        self._settings = plugin_settings
        self.db = db
        self.bus = bus
        self.clock = clock
        self.hours = BusinessHours.from_config(config.timezone, config.hours, config.holidays)
        self.outbox: "Outbox | None" = None  # set by the runtime
        # Per-site state of plugins (clients, caches), keyed by plugin name: a
        # plugin module is shared by every site, its state is not.
        self.state: dict[str, Any] = {}

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def hook(self) -> Any:
        return self.pm.hook

    @property
    def plugins(self) -> list[str]:
        """Names of the enabled plugins, in the site file's order."""
        return self.config.enabled_plugins()

    def has_plugin(self, name: str) -> bool:
        return self.pm.get_plugin(name) is not None and name in self._settings

    def settings(self, name: str, model: type[T] | None = None) -> Any:
        """The validated settings of an enabled plugin (``None`` if it has none)."""
        if name not in self._settings:
            raise KeyError(f"plugin {name!r} is not enabled on site {self.id!r}")
        value = self._settings[name]
        if model is not None and not isinstance(value, model):
            raise TypeError(f"settings of {name!r} are not a {model.__name__}")
        return value

    def now(self) -> dt.datetime:
        """The current time (UTC, aware). Tests replace the clock."""
        return self.clock()

    def is_open(self, at: dt.datetime | None = None) -> bool:
        return self.hours.is_open(at or self.now())

    def __repr__(self) -> str:
        return f"<Site {self.id!r} plugins={self.plugins}>"


def build_site(
    config: SiteConfig,
    available: dict[str, Available],
    db: Database,
    bus: Bus,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Site:
    """Load the site's plugins and validate their settings (raises ConfigError)."""
    pm = manager_for(config, available)
    settings = validate_settings(config, pm)
    return Site(config, pm, settings, db, bus, clock)


async def await_all(results: list[Any]) -> list[Any]:
    """Await every awaitable a hook returned; pass plain values through."""
    out = []
    for result in results:
        if inspect.isawaitable(result):
            result = await result
        out.append(result)
    return out


async def await_maybe(result: Any) -> Any:
    if inspect.isawaitable(result):
        return await result
    return result
