"""The live chat's own data under Ley 18.331: a forgotten conversation (retention
period or erasure request) takes its chat session — token, form answers — with it,
in either mode, and an access request shows what the chat stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from canales.core import retention
from canales.core.models import Contact, Conversation
from canales.plugins.chat_human.models import ChatSession
from chat_support import Citizen, chat_site, served, ws_url

PRECHAT = '[plugins.chat_human.prechat]\nenabled = true\nemail = "optional"\ntopic = "optional"'


async def sessions(site: Any) -> int:
    async with site.db.read() as session:
        return (await session.exec(select(func.count()).select_from(ChatSession))).one()


@pytest.mark.parametrize("mode", ["delete", "anonymise"])
async def test_a_forgotten_conversation_takes_its_chat_session(run_app: Any, site_file: Any, mode: str) -> None:
    async with run_app(site_file(chat_site(plugins=PRECHAT))) as app, served(app) as base:
        site = app.site()
        async with Citizen(ws_url(base)) as citizen:
            token = await citizen.start(name="Marta Suárez", email="marta@example.com.uy", topic="permiso")
            await citizen.say("Mi cédula es 1.234.567-2")
            conversation_id = citizen.conversation_id
        async with Citizen(ws_url(base)) as other:
            await other.start(name="Otra persona")
            await other.say("otra consulta")
        await retention.forget_conversations(site, [conversation_id], mode)
        assert await sessions(site) == 1  # the other citizen's chat stays
        async with site.db.read() as session:
            conversation = (await session.exec(select(Conversation).where(Conversation.id == conversation_id))).first()
        assert (conversation is None) == (mode == "delete")
        async with Citizen(ws_url(base)) as returning:
            assert (await returning.resume(token))["code"] == "not_found"
        # Forgetting again is harmless.
        await retention.forget_conversations(site, [conversation_id], mode)


async def test_an_access_request_shows_what_the_chat_stored(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site(plugins=PRECHAT))) as app, served(app) as base:
        site = app.site()
        async with Citizen(ws_url(base)) as citizen:
            token = await citizen.start(name="Marta Suárez", email="marta@example.com.uy", topic="permiso")
            await citizen.say("Hola")
        async with site.db.read() as session:
            contact = (await session.exec(select(Contact))).one()
        exported = await retention.export_contact(site, contact.id or 0)
        (chat,) = exported["plugins"]["chat_human"]["sessions"]
        assert (chat["name"], chat["email"], chat["topic"]) == ("Marta Suárez", "marta@example.com.uy", "permiso")
        assert chat["origin"] == "https://organismo.gub.uy" and chat["privacy_accepted_at"]
        text = json.dumps(exported)
        stored = (await _one_session(site)).token_hash
        assert token not in text and stored not in text
        await retention.forget_contact(site, contact.id or 0)
        assert await sessions(site) == 0


async def _one_session(site: Any) -> ChatSession:
    async with site.db.read() as session:
        return (await session.exec(select(ChatSession))).one()
