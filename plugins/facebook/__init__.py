"""The Facebook page channel: Messenger and page comments, acknowledged at once,
answered in business hours, publicly or privately as the guideline says.

Modules: ``webhook`` (Meta's calls in), ``payload`` (reading events), ``inbound``
(events to conversations), ``ack`` (automatic acknowledgement), ``policy`` (public or
private, windows, inbox options and panels), ``window``, ``delivery`` (replies out),
``graph`` and ``errors`` (the Graph API client), ``page`` (the page's health),
``publishing``, ``check`` (the ``canales facebook check`` command), ``runtime``.
See docs/facebook-setup.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute

from canales.core.contrib import Panel, ReplyOption
from canales.core.hookspecs import hookimpl
from canales.core.models import Agent, Conversation, Message
from canales.core.publication import Publication, PublicationTarget, PublishResult
from canales.core.site import Site
from canales.core.types import DeliveryResult, Handoff, OutboundDelivery, PeriodicJob, ReplyProblem, Routing
from canales.plugins.facebook import ack, check, models, policy, publishing, webhook  # noqa: F401 - models registers tables
from canales.plugins.facebook.runtime import FacebookRuntime
from canales.plugins.facebook.settings import FacebookSettings

PLUGIN = CHANNEL = "facebook"


def runtime(site: Site) -> FacebookRuntime:
    return site.state[PLUGIN]


@hookimpl
def settings_model() -> type[BaseModel]:
    return FacebookSettings


@hookimpl
def migrations_path() -> Path:
    return Path(__file__).parent / "migrations"


@hookimpl
def register_routes(site: Site) -> list[BaseRoute]:
    return webhook.routes()


@hookimpl
def register_commands(subparsers: "argparse._SubParsersAction[Any]") -> None:
    check.register(subparsers)


@hookimpl
def startup(site: Site) -> None:
    site.state[PLUGIN] = FacebookRuntime(site)


@hookimpl
async def shutdown(site: Site) -> None:
    state = site.state.pop(PLUGIN, None)
    if state is not None:
        await state.close()


@hookimpl
def periodic_jobs(site: Site) -> list[PeriodicJob]:
    settings = site.settings(PLUGIN, FacebookSettings)

    async def recover() -> int:
        return await runtime(site).recover()

    async def subscription() -> bool:
        return await runtime(site).check_subscription()

    return [
        PeriodicJob("facebook-webhooks", 15.0, recover),
        PeriodicJob("facebook-subscription", settings.subscription_check_minutes * 60, subscription),
    ]


@hookimpl
async def conversation_routed(site: Site, conversation: Conversation, routing: Routing, handoff: Handoff | None) -> None:
    # The bot answers what it can; what reaches the agents' queue is acknowledged.
    if conversation.channel == CHANNEL and routing.to == "queue":
        await ack.acknowledge(site, conversation, runtime(site).settings)


@hookimpl
async def handle_message(site: Site, conversation: Conversation, message: Message) -> None:
    # A new query in a conversation already waiting (the period keeps it to one).
    if conversation.channel == CHANNEL and conversation.state == "queued":
        await ack.acknowledge(site, conversation, runtime(site).settings)


@hookimpl
async def review_reply(site: Site, conversation: Conversation, text: str, author_kind: str, options: dict[str, Any]) -> list[ReplyProblem] | None:
    if conversation.channel != CHANNEL:
        return None
    return await policy.review(site, conversation, text, author_kind, options)


@hookimpl
def deliver_message(site: Site, outbound: OutboundDelivery) -> Awaitable[DeliveryResult] | None:
    if outbound.conversation.channel != CHANNEL:
        return None
    return runtime(site).deliveries.deliver(outbound)


@hookimpl
def reply_options(site: Site, conversation: Conversation, agent: Agent) -> list[ReplyOption] | None:
    return policy.reply_options(site, conversation)


@hookimpl
def inbox_panels(site: Site, conversation: Conversation, agent: Agent) -> list[Panel] | None:
    state = site.state.get(PLUGIN)
    return policy.panels(site, conversation, state.health if state else None)


@hookimpl
def publication_targets(site: Site) -> list[PublicationTarget]:
    return [publishing.target()]


@hookimpl
def publish_post(site: Site, channel: str, publication: Publication) -> Awaitable[PublishResult] | None:
    if channel != CHANNEL:
        return None
    return runtime(site).publishing.publish(publication)


@hookimpl
def find_published_post(site: Site, channel: str, publication: Publication) -> Awaitable[PublishResult | None] | None:
    if channel != CHANNEL:
        return None
    return runtime(site).publishing.find(publication)


@hookimpl
async def forget_conversations(site: Site, conversation_ids: list[int], mode: str) -> None:
    """Private-reply claims and acknowledgement marks point at the conversations
    and hold Meta's ids for the person: they go in either mode."""
    from sqlalchemy import delete
    from sqlmodel import col

    from canales.plugins.facebook.models import FacebookAck, FacebookPrivateReply

    async with site.db.write() as session:
        for table in (FacebookPrivateReply, FacebookAck):
            await session.exec(delete(table).where(col(table.conversation_id).in_(conversation_ids), table.site_id == site.id))


@hookimpl
async def export_contact(site: Site, contact: Any, conversation_ids: list[int]) -> dict[str, Any] | None:
    """The private replies sent to the person's comments."""
    from sqlmodel import col, select

    from canales.plugins.facebook.models import FacebookPrivateReply

    async with site.db.read() as session:
        rows = (
            await session.exec(
                select(FacebookPrivateReply).where(
                    col(FacebookPrivateReply.conversation_id).in_(conversation_ids), FacebookPrivateReply.site_id == site.id
                )
            )
        ).all()
    if not rows:
        return None
    return {
        "private_replies": [
            {"comment_id": r.comment_id, "conversation_id": r.conversation_id, "state": r.state, "created_at": r.created_at.isoformat()}
            for r in rows
        ]
    }
