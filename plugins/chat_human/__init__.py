"""Live chat answered by agents: the embeddable citizen widget and its WebSocket.

The widget (``/s/{site}/chat/widget.js``) talks to ``/s/{site}/chat/ws`` with the
protocol of ``docs/chat-protocol.md``; citizen messages enter core on the ``chat``
channel, agents answer from the inbox through ``core.replies.send_reply``, and the
answers reach the citizen through the bus and, after any disconnection, from the
database by sequence number. See ``docs/live-chat.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute

from canales import DeliveryResult, OutboundDelivery, PeriodicJob
from canales.core.events import conversation_channel
from canales.core.hookspecs import hookimpl
from canales.core.site import Site
from canales.plugins.chat_human import models  # noqa: F401 - registers the table
from canales.plugins.chat_human.desk import CHANNEL, NAME, ChatDesk
from canales.plugins.chat_human.routes import routes
from canales.plugins.chat_human import sessions
from canales.plugins.chat_human.settings import ChatSettings
from canales.plugins.chat_human.socket import GOING_AWAY
from canales.plugins.chat_human.widget import build

HERE = Path(__file__).parent


@hookimpl
def settings_model() -> type[BaseModel]:
    """``[plugins.chat_human]``: see :class:`ChatSettings` and docs/live-chat.md."""
    return ChatSettings


@hookimpl
def migrations_path() -> Path:
    """The ``chat_session`` table's revisions (Alembic branch ``chat_human``)."""
    return HERE / "migrations"


@hookimpl
def register_routes(site: Site) -> list[BaseRoute]:
    """``/s/{site}/chat/widget.js``, ``/s/{site}/chat/ws`` and the demo page."""
    return routes()


@hookimpl
def startup(site: Site) -> None:
    """Set up the site's chat desk in this worker and build its widget."""
    settings = site.settings(NAME, ChatSettings)
    desk = ChatDesk(site, settings)
    desk.widget = build(site, settings)
    site.state[NAME] = desk


@hookimpl
async def shutdown(site: Site) -> None:
    """Close the site's open chat sockets with 1001: clients reconnect and resume."""
    desk = site.state.pop(NAME, None)
    if desk is not None:
        # Tell clients to come back (to another worker, or to this one restarted).
        for socket in list(desk.sockets):
            await socket.close(GOING_AWAY, "el servidor se está reiniciando")


@hookimpl
def periodic_jobs(site: Site) -> list[PeriodicJob]:
    """Hourly: delete chat sessions that never got a message (a day old)."""
    return [PeriodicJob("chat-abandoned-sessions", 3600.0, lambda: sessions.forget_abandoned(site))]


@hookimpl
async def forget_conversations(site: Site, conversation_ids: list[int], mode: str) -> None:
    """Chat sessions of forgotten conversations go, in either mode."""
    await sessions.forget(site, conversation_ids)


@hookimpl
async def export_contact(site: Site, contact: Any, conversation_ids: list[int]) -> dict[str, Any] | None:
    """The contact's chat sessions: the pre-chat answers, when the privacy notice
    was accepted, from which web site."""
    key = contact.external_id if contact.channel == CHANNEL else None
    found = await sessions.export(site, key, conversation_ids)
    return {"sessions": found} if found else None


@hookimpl
def deliver_message(site: Site, outbound: OutboundDelivery) -> Awaitable[DeliveryResult] | None:
    """A reply on the ``chat`` channel is already stored and announced on the bus
    when the relay gets to it; "delivered" means the relay announced it once more
    (``delivered`` event), so that a socket whose live event was lost goes back to
    the database for it. Whether the citizen saw it is the read receipt's job."""
    if outbound.conversation.channel != CHANNEL:
        return None
    return _announce(site, outbound)


async def _announce(site: Site, outbound: OutboundDelivery) -> DeliveryResult:
    await site.bus.publish(
        conversation_channel(outbound.conversation.id or 0), {"kind": "delivered", "seq": outbound.message.seq}
    )
    return DeliveryResult()

