"""The page's health, shared by every worker through the ``facebook_page`` row: a
token to renew (190), a policy block (368, a circuit breaker), a rate-limit pause
(usage headers), a lost webhook subscription. Each change raises or resolves an
alert for the site's admins (:mod:`canales.core.alerts`)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from sqlalchemy.exc import IntegrityError

from canales.core.alerts import raise_alert, resolve_alert
from canales.core.site import Site
from canales.plugins.facebook.models import FacebookPage
from canales.plugins.facebook.texts import TEXTS

PLUGIN = "facebook"
# Above this share of a quota (percent), stop calling until access returns.
THROTTLE_AT = 95
# How often a worker re-reads the shared row (changes it makes itself apply at once).
REFRESH_SECONDS = 5.0


def usage_pause(headers: Any) -> tuple[dict[str, Any], float | None]:
    """Read ``X-App-Usage`` and ``X-Business-Use-Case-Usage``; return the usage and,
    when a quota is (nearly) spent, how many seconds to pause (Meta gives
    ``estimated_time_to_regain_access`` in minutes)."""
    usage: dict[str, Any] = {}
    pause: float | None = None
    try:
        app = json.loads(headers.get("x-app-usage") or "{}")
    except ValueError:
        app = {}
    if isinstance(app, dict):
        usage["app"] = app
        if max((v for v in app.values() if isinstance(v, (int, float))), default=0) >= THROTTLE_AT:
            pause = 60.0
    try:
        buc = json.loads(headers.get("x-business-use-case-usage") or "{}")
    except ValueError:
        buc = {}
    if isinstance(buc, dict):
        for entries in buc.values():
            for item in entries if isinstance(entries, list) else []:
                if not isinstance(item, dict):
                    continue
                usage.setdefault("business", []).append(item)
                regain = item.get("estimated_time_to_regain_access") or 0
                spent = max((item.get(k) or 0 for k in ("call_count", "total_time", "total_cputime")), default=0)
                if isinstance(regain, (int, float)) and regain > 0:
                    pause = max(pause or 0, regain * 60.0)
                elif isinstance(spent, (int, float)) and spent >= THROTTLE_AT:
                    pause = max(pause or 0, 60.0)
    return usage, pause


class PageHealth:
    """This worker's view of the page row, refreshed every few seconds."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.row = FacebookPage(site_id=site.id)
        self._read_at = 0.0

    def _texts(self) -> dict[str, str]:
        return self.site.settings(PLUGIN).texts

    async def current(self) -> FacebookPage:
        if time.monotonic() - self._read_at > REFRESH_SECONDS:
            async with self.site.db.read() as session:
                row = await session.get(FacebookPage, self.site.id)
            if row is not None:
                self.row = row
            self._read_at = time.monotonic()
        return self.row

    async def _update(self, **values: Any) -> FacebookPage:
        try:
            return await self._write(values)
        except IntegrityError:  # two workers created the row at once; now it exists
            return await self._write(values)

    async def _write(self, values: dict[str, Any]) -> FacebookPage:
        now = self.site.now()
        async with self.site.db.write() as session:
            row = await session.get(FacebookPage, self.site.id, with_for_update=True)
            if row is None:
                row = FacebookPage(site_id=self.site.id)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = now
            session.add(row)
            await session.flush()
            await session.refresh(row)
        self.row, self._read_at = row, time.monotonic()
        return row

    async def pause_for(self, seconds: float, usage: dict[str, Any]) -> None:
        """Stop sends for ``seconds`` (a quota is spent)."""
        await self._update(throttled_until=self.site.now() + dt.timedelta(seconds=seconds), usage=usage)

    async def token_rejected(self, detail: str) -> None:
        """Error 190: the page token no longer works."""
        if not self.row.reconnect_needed:
            await self._update(reconnect_needed=True)
        await raise_alert(self.site, PLUGIN, "reconnect", f"{TEXTS.render(self._texts(), 'page.reconnect')} ({detail})")

    async def token_works(self) -> None:
        """A call with the page token succeeded: the page is connected."""
        if self.row.reconnect_needed:
            await self._update(reconnect_needed=False)
            await resolve_alert(self.site, PLUGIN, "reconnect")

    async def block(self, minutes: float, detail: str) -> dt.datetime:
        """Error 368: open the circuit breaker for ``minutes``."""
        until = self.site.now() + dt.timedelta(minutes=minutes)
        await self._update(blocked_until=until)
        local = until.astimezone(self.site.config.tz).strftime("%d/%m %H:%M")
        await raise_alert(self.site, PLUGIN, "blocked", f"{TEXTS.render(self._texts(), 'page.blocked', until=local)} ({detail})")
        return until

    async def subscription(self, subscribed: bool, missing: list[str]) -> None:
        """The result of the periodic ``subscribed_apps`` check."""
        await self._update(unsubscribed=not subscribed, checked_at=self.site.now())
        if subscribed:
            await resolve_alert(self.site, PLUGIN, "unsubscribed")
        else:
            detail = f" Faltan: {', '.join(missing)}." if missing else ""
            await raise_alert(self.site, PLUGIN, "unsubscribed", TEXTS.render(self._texts(), "page.unsubscribed") + detail)
