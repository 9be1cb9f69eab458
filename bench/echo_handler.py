"""A handler for benchmarks: answers every citizen message, on any channel (the API
channel, the live chat), at once, so that a message's whole way (intake, persist,
route, reply, outbox, delivery) is exercised. Loaded with
CANALES_PLUGIN_MODULES=echo=echo_handler."""

from __future__ import annotations

from typing import Any

from canales import hookimpl
from canales.core.replies import send_reply


@hookimpl
async def handle_message(site: Any, conversation: Any, message: Any) -> None:
    await send_reply(site, conversation.id, f"eco: {message.text}", author_kind="bot")
