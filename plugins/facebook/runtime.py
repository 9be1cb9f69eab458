"""One site's Facebook channel at run time: its Graph client, the page's health,
intake, deliveries and publishing, and the periodic jobs (recovering webhook bodies a
crash left behind, forgetting old ones, checking the page's subscription)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete
from sqlmodel import col, select

from canales.core.models import Message
from canales.core.site import Site
from canales.plugins.facebook.delivery import Deliveries
from canales.plugins.facebook.errors import GraphError
from canales.plugins.facebook.graph import Graph
from canales.plugins.facebook.inbox import WebhookInbox
from canales.plugins.facebook.inbound import Intake, record_event, update_data
from canales.plugins.facebook.models import FacebookEvent, FacebookWebhook
from canales.plugins.facebook.page import PageHealth
from canales.plugins.facebook.payload import Ignored
from canales.plugins.facebook.publishing import Publishing
from canales.plugins.facebook.settings import FacebookSettings
from canales.plugins.facebook.webhook import ORPHANED_AFTER, process_webhook

log = logging.getLogger("canales.facebook")

PLUGIN = "facebook"
# What Meta must send us: messages, buttons, echoes (to reconcile sends), comments.
REQUIRED_FIELDS = ("messages", "messaging_postbacks", "message_echoes", "feed")


class FacebookRuntime:
    """Kept in ``site.state["facebook"]`` from start-up to shutdown."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.settings: FacebookSettings = site.settings(PLUGIN, FacebookSettings)
        self.health = PageHealth(site)
        self.graph = Graph(site, self.settings, self.health)
        self.intake = Intake(site, self)
        self.deliveries = Deliveries(site, self)
        self.publishing = Publishing(site, self)
        self.inbox = WebhookInbox(site, process_webhook)

    async def close(self) -> None:
        await self.inbox.close()
        await self.graph.close()

    async def hide(self, comment_id: str, message: Message) -> bool:
        """Hide a comment (its author and the page still see it). Best effort:
        a failure is logged and kept as an event, the reply still goes out."""
        try:
            await self.graph.read(f"/{comment_id}", {"is_hidden": "true"}, method="POST")
        except GraphError as exc:
            log.warning("site %s: hiding comment %s failed: %s", self.site.id, comment_id, exc)
            await record_event(self.site, None, Ignored("feed.comment.hide_failed", str(exc), {"comment_id": comment_id}, object_id=comment_id))
            return False
        await self.intake._update_message(message, None, {"hidden": True})
        await update_data(self.site, message.conversation_id, {"hidden": True})
        return True

    async def recover(self) -> int:
        """Handle webhook bodies a crash left unprocessed; forget processed ones
        older than ``keep_webhooks_days`` (they hold personal data)."""
        now = self.site.now()
        async with self.site.db.read() as session:
            ids = (
                await session.exec(
                    select(FacebookWebhook.id)
                    .where(
                        FacebookWebhook.site_id == self.site.id,
                        FacebookWebhook.state == "received",
                        col(FacebookWebhook.claimed_at) < now - dt.timedelta(seconds=ORPHANED_AFTER),
                    )
                    .order_by(col(FacebookWebhook.id))
                    .limit(50)
                )
            ).all()
        for webhook_id in ids:
            await process_webhook(self.site, webhook_id or 0)
        keep = now - dt.timedelta(days=self.settings.keep_webhooks_days)
        async with self.site.db.write() as session:
            await session.exec(
                delete(FacebookWebhook).where(
                    FacebookWebhook.site_id == self.site.id,
                    FacebookWebhook.state == "done",
                    col(FacebookWebhook.processed_at) < keep,
                )
            )
            # Ignored and dead-lettered events hold what Meta sent, personal data
            # included: they go after the same period.
            await session.exec(
                delete(FacebookEvent).where(FacebookEvent.site_id == self.site.id, col(FacebookEvent.created_at) < keep)
            )
        return len(ids)

    async def subscribed(self) -> tuple[bool, list[str]]:
        """Whether Meta sends this page's events to our app; the fields missing."""
        answer = await self.graph.read(f"/{self.settings.page_id}/subscribed_apps")
        apps = answer.get("data", []) if isinstance(answer, dict) else []
        ours = [a for a in apps if self.settings.app_id is None or str(a.get("id")) == self.settings.app_id]
        if not ours:
            return False, list(REQUIRED_FIELDS)
        fields = set(ours[0].get("subscribed_fields") or [])
        missing = [f for f in REQUIRED_FIELDS if f not in fields]
        return not missing, missing

    async def check_subscription(self) -> bool:
        """The periodic job: Meta unsubscribes a page silently after an hour of
        failed deliveries; say so to the site's admins."""
        try:
            ok, missing = await self.subscribed()
        except GraphError as exc:
            log.warning("site %s: checking the page subscription failed: %s", self.site.id, exc)
            return False
        await self.health.subscription(ok, missing)
        return ok
