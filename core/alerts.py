"""Alerts that plugins raise for the people running a site (a page token expired,
Meta unsubscribed the page, deliveries keep failing). The inbox shows the open ones;
raising the same alert again while it is open only refreshes it."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select

from canales.core import events
from canales.core.models import Alert
from canales.core.site import Site

LEVELS = ("info", "warning", "error")


async def raise_alert(site: Site, plugin: str, code: str, message: str, level: str = "error") -> Alert:
    """Open (or refresh) the alert ``code`` of ``plugin`` on ``site``."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    now = site.now()
    async with site.db.write() as session:
        alert = (
            await session.exec(
                select(Alert).where(
                    Alert.site_id == site.id,
                    Alert.plugin == plugin,
                    Alert.code == code,
                    col(Alert.resolved_at).is_(None),
                )
            )
        ).first()
        if alert is None:
            alert = Alert(site_id=site.id, plugin=plugin, code=code, message=message, level=level, created_at=now, updated_at=now)
        else:
            alert.message, alert.level, alert.updated_at = message, level, now
            alert.count += 1
        session.add(alert)
        await session.flush()
        await session.refresh(alert)
    await site.bus.publish(events.inbox_channel(site.id), {"kind": "alert", "plugin": plugin, "code": code, "level": level})
    return alert


async def resolve_alert(site: Site, plugin: str, code: str) -> bool:
    """Close the open alert ``code`` of ``plugin``; false if none was open."""
    async with site.db.write() as session:
        result = await session.exec(
            update(Alert)
            .where(Alert.site_id == site.id, Alert.plugin == plugin, Alert.code == code, col(Alert.resolved_at).is_(None))
            .values(resolved_at=site.now())
        )
    return bool(result.rowcount)


async def open_alerts(site: Site) -> list[Alert]:
    async with site.db.read() as session:
        return list(
            (
                await session.exec(
                    select(Alert)
                    .where(Alert.site_id == site.id, col(Alert.resolved_at).is_(None))
                    .order_by(col(Alert.created_at).desc())
                )
            ).all()
        )
