"""The chatbot: understands Spanish questions, guides flows, calls services, knows its
limits and learns from what it did not understand.

It takes new conversations of the channels listed in its settings
(``route_conversation``), answers while ``conversation.state == "bot"``
(``handle_message``), and hands off to people through
:func:`canales.core.routing.hand_off`. See ``docs/chatbot.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape
from pydantic import BaseModel
from starlette.routing import BaseRoute

from canales.core.contrib import Panel
from canales.core.hookspecs import hookimpl
from canales.core.models import Agent, Conversation, Message
from canales.core.site import Site
from canales.core.types import DeliveryResult, Handoff, OutboundDelivery, PeriodicJob, Routing
from canales.plugins.chatbot import models  # noqa: F401 - registers the tables
from canales.plugins.chatbot.bot import PLUGIN, SiteBot, settings_of
from canales.plugins.chatbot.settings import CHANNEL, ChatbotSettings

log = logging.getLogger("canales.chatbot")


def running_bot(site: Site) -> SiteBot | None:
    """The site's running bot (``None`` before start-up or without knowledge)."""
    return site.state.get(PLUGIN)


@hookimpl
def settings_model() -> type[BaseModel]:
    return ChatbotSettings


@hookimpl
def migrations_path() -> Path:
    return Path(__file__).parent / "migrations"


@hookimpl
def register_commands(subparsers: Any) -> None:
    from canales.plugins.chatbot.cli import register

    register(subparsers)


@hookimpl
async def startup(site: Site) -> None:
    site.state[PLUGIN] = await SiteBot.start(site)


@hookimpl
async def shutdown(site: Site) -> None:
    bot = site.state.pop(PLUGIN, None)
    if bot is not None:
        await bot.close()


@hookimpl
def periodic_jobs(site: Site) -> list[PeriodicJob]:
    async def refresh() -> None:
        bot = running_bot(site)
        if bot is not None:
            await bot.refresh()

    return [PeriodicJob("chatbot-model", 30.0, refresh)]


@hookimpl
def register_routes(site: Site) -> list[BaseRoute]:
    if not settings_of(site).endpoint:
        return []
    from canales.plugins.chatbot.endpoint import routes

    return routes()


@hookimpl
def route_conversation(site: Site, conversation: Conversation, message: Message, handoff: Handoff | None) -> Routing | None:
    if handoff is not None or running_bot(site) is None:
        return None
    if conversation.channel in settings_of(site).channels:
        return Routing(to="bot", rule="chatbot")
    return None


@hookimpl
async def handle_message(site: Site, conversation: Conversation, message: Message) -> None:
    if conversation.state != "bot":
        return
    bot = running_bot(site)
    if bot is None:
        return
    from canales.plugins.chatbot.handler import handle

    await handle(site, bot, conversation, message)


@hookimpl
def deliver_message(site: Site, outbound: OutboundDelivery) -> Awaitable[DeliveryResult] | None:
    if outbound.conversation.channel != CHANNEL:
        return None

    async def stored() -> DeliveryResult:
        # The bot's own channel has no transport: the citizen's client reads the
        # replies from the endpoint's answer or polls for them.
        return DeliveryResult(external_id=None)

    return stored()


@hookimpl
def inbox_panels(site: Site, conversation: Conversation, agent: Agent) -> list[Panel] | None:
    handoff = conversation.data.get("handoff")
    if not isinstance(handoff, dict) or handoff.get("from") != "bot":
        return None
    reasons = {
        "asked": "La persona pidió hablar con alguien.",
        "out_of_scope": "El bot no pudo ayudar con la consulta.",
        "not_understood": "El bot no entendió la consulta.",
        "flow": "Un trámite guiado derivó la conversación.",
    }
    reason = reasons.get(str(handoff.get("reason")), f"Motivo: {handoff.get('reason')}")
    html = Markup("<p>{}</p>").format(reason)
    if handoff.get("intent"):
        html += Markup("<p>Tema: {}</p>").format(handoff["intent"])
    if handoff.get("summary"):
        html += Markup("<p>{}</p>").format(escape(handoff["summary"]))
    return [Panel("Derivada por el chatbot", html, plugin=PLUGIN)]


@hookimpl
async def forget_conversations(site: Site, conversation_ids: list[int], mode: str) -> None:
    """The bot's state goes in either mode; its turn log loses the citizen's words
    (anonymise: the intent and outcome stay for the statistics) or goes whole."""
    from sqlalchemy import delete, update
    from sqlmodel import col

    from canales.plugins.chatbot.models import BotSession, BotTurn

    async with site.db.write() as session:
        await session.exec(delete(BotSession).where(col(BotSession.conversation_id).in_(conversation_ids), BotSession.site_id == site.id))
        turns = col(BotTurn.conversation_id).in_(conversation_ids) & (BotTurn.site_id == site.id)
        if mode == "delete":
            await session.exec(delete(BotTurn).where(turns))
        else:
            await session.exec(update(BotTurn).where(turns).values(text="", detail={}))


@hookimpl
async def export_contact(site: Site, contact: Any, conversation_ids: list[int]) -> dict[str, Any] | None:
    """What the bot understood of each of the person's messages, and their 👍/👎."""
    from sqlmodel import col, select

    from canales.plugins.chatbot.models import BotTurn

    async with site.db.read() as session:
        turns = (
            await session.exec(
                select(BotTurn)
                .where(col(BotTurn.conversation_id).in_(conversation_ids), BotTurn.site_id == site.id)
                .order_by(col(BotTurn.id))
            )
        ).all()
    if not turns:
        return None
    return {
        "turns": [
            {
                "conversation_id": t.conversation_id,
                "text": t.text,
                "intent": t.intent,
                "confidence": t.confidence,
                "outcome": t.outcome,
                "feedback": t.feedback,
                "created_at": t.created_at.isoformat(),
            }
            for t in turns
        ]
    }
