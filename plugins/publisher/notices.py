"""Telling people what the scheduler did: inbox alerts for what they must act on
(a failure, an unconfirmed post, one that expired unapproved or was missed during
downtime) and live bus events so that an open calendar updates itself."""

from __future__ import annotations

from canales.core import events
from canales.core.alerts import raise_alert, resolve_alert
from canales.core.site import Site
from canales.plugins.publisher.drafts import PLUGIN, settings_of
from canales.plugins.publisher.models import Post, PostTarget
from canales.plugins.publisher.texts import label
from canales.plugins.publisher.timing import local_text, zone


def title(post: Post, limit: int = 60) -> str:
    """The first words of a post, to name it in an alert."""
    text = " ".join(post.summary.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def failed_code(post: Post) -> str:
    return f"post-{post.id}-failed"


def unconfirmed_code(post: Post) -> str:
    return f"post-{post.id}-unconfirmed"


async def changed(site: Site, post: Post, state: str) -> None:
    """Tell open inbox views that a post changed state."""
    await site.bus.publish(events.inbox_channel(site.id), {"kind": "post", "id": post.id, "state": state})


async def late(site: Site, post: Post, to: str) -> None:
    """Alert on a post that will not go out because time ran out."""
    texts = settings_of(site).texts
    when = local_text(post.publish_at, zone(post.timezone))
    key = {"expired": "alert.expired", "missed": "alert.missed", "failed": "alert.missed"}[to]
    await raise_alert(site, PLUGIN, failed_code(post), label(texts, key, title=title(post), when=when),
                      level="warning" if to == "expired" else "error")
    await changed(site, post, to)


async def settled(site: Site, post: Post, before: list[PostTarget], after: list[PostTarget], state: str) -> None:
    """Alerts for the targets whose state changed in this pass, then a bus event."""
    texts = settings_of(site).texts
    was = {t.id: t.state for t in before}
    for target in after:
        if was.get(target.id) == target.state and target.state != "unconfirmed":
            continue
        if target.state == "failed":
            reason = target.last_error or ""
            if target.checks and (reason.startswith("not found")):
                message = label(texts, "alert.not_found", title=title(post), channel=target.channel, checks=target.checks)
            else:
                message = label(texts, "alert.failed", title=title(post), channel=target.channel, reason=reason)
            await raise_alert(site, PLUGIN, failed_code(post), message)
            await resolve_alert(site, PLUGIN, unconfirmed_code(post))
        elif target.state == "unconfirmed" and was.get(target.id) != "unconfirmed":
            await raise_alert(site, PLUGIN, unconfirmed_code(post),
                              label(texts, "alert.unconfirmed", title=title(post), channel=target.channel),
                              level="warning")
    troubled = any(t.attempts > 1 or t.checks or t.state == "unconfirmed" for t in before)
    if state == "published" and troubled:
        await resolve_alert(site, PLUGIN, unconfirmed_code(post))
        await resolve_alert(site, PLUGIN, failed_code(post))
    await changed(site, post, state)
