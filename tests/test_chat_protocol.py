"""The live chat's protocol over a real WebSocket against a real server."""

from __future__ import annotations

from typing import Any

from canales.core.replies import send_reply
from chat_support import Citizen, chat_site, make_agent, served, ws_url


async def test_a_citizen_chats_with_an_agent(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        site = app.site()
        agent = await make_agent(app.canales)
        async with Citizen(ws_url(base)) as citizen:
            assert citizen.welcome["status"]["open"] is True
            await citizen.start()
            ack = await citizen.say("Hola, ¿cómo renuevo mi permiso?")
            assert ack["type"] == "ack" and ack["seq"] == 1
            await send_reply(site, citizen.conversation_id, "Hola, te ayudo.", author_kind="agent", agent_id=agent)
            await citizen.wait_for_seq(2)
            reply = citizen.messages[-1]
            assert reply["author"] == "agent" and reply["agent"] == "Ana" and reply["text"] == "Hola, te ayudo."
