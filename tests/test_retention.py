"""Data protection: retention (anonymise or delete closed conversations past the
period), a contact's export, and erasure on request — core's rows and plugins'."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from canales import Inbound, hookimpl
from canales.core import retention
from canales.core.conversations import close
from canales.core.intake import receive
from canales.core.models import Contact, Conversation, Delivery, Message, Satisfaction
from canales.core.plugins import from_module
from canales.core.replies import add_note, send_reply
from canales.core.routing import NotFound
from canales.core.satisfaction import record_satisfaction
from fixture_plugins import recorder

SITE = """
id = "uno"
name = "Uno"
[hours]
always = true
[holidays]
categories = []
[privacy]
retention_days = 30
retention = "{mode}"
[plugins.rec]
[plugins.keeper]
"""


class Keeper:
    """A plugin with its own rows about conversations."""

    def __init__(self) -> None:
        self.rows: dict[int, str] = {}
        self.calls: list[tuple[list[int], str]] = []

    @hookimpl
    async def handle_message(self, site: Any, conversation: Any, message: Any) -> None:
        self.rows[conversation.id] = message.text

    @hookimpl
    async def forget_conversations(self, site: Any, conversation_ids: list[int], mode: str) -> None:
        self.calls.append((sorted(conversation_ids), mode))
        for cid in conversation_ids:
            if mode == "delete":
                self.rows.pop(cid, None)
            elif cid in self.rows:
                self.rows[cid] = ""

    @hookimpl
    async def export_contact(self, site: Any, contact: Any, conversation_ids: list[int]) -> dict[str, Any]:
        return {"notes": [self.rows[c] for c in conversation_ids if c in self.rows]}


def plugins(keeper: Keeper) -> dict[str, Any]:
    return {"rec": from_module("rec", recorder), "keeper": from_module("keeper", keeper)}


async def say(site: Any, text: str, sender: str = "ana", n: str = "1") -> Any:
    return await receive(site, Inbound(channel="rec", external_id=f"{sender}-{n}", sender_id=sender, sender_name="Ana Pérez", text=text))


async def counts(site: Any) -> dict[str, int]:
    async with site.db.read() as session:
        return {
            model.__name__: (await session.exec(select(func.count()).select_from(model))).one()
            for model in (Contact, Conversation, Message, Delivery, Satisfaction)
        }


async def test_anonymise_after_the_retention_period(run_app: Any, site_file: Any, clock: Any) -> None:
    keeper = Keeper()
    clock.set(dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc))
    async with run_app(site_file(SITE.format(mode="anonymise")), plugins=plugins(keeper), background=False) as app:
        site = app.site()
        old = await say(site, "Mi cédula es 1.234.567-2 y vivo en Av. Italia 2222")
        await send_reply(site, old.conversation.id, "Gracias, Ana", author_kind="system")
        await add_note(site, old.conversation.id, "vecina de Malvín", agent_id=None)
        await record_satisfaction(site, old.conversation.id, 4, "muy amable la chica")
        await close(site, old.conversation.id)
        clock.advance(days=20)
        recent = await say(site, "otra consulta", sender="beto")
        await close(site, recent.conversation.id)
        clock.advance(days=11)  # the first is now 31 days closed, the second 11
        assert await retention.expire(site) == 1
        assert await retention.expire(site) == 0  # done once
        async with site.db.read() as session:
            texts = (await session.exec(select(Message.text).where(Message.conversation_id == old.conversation.id))).all()
            conversation = await session.get(Conversation, old.conversation.id)
            contact = await session.get(Contact, old.contact.id)
            survey = (await session.exec(select(Satisfaction))).one()
            kept = (await session.exec(select(Message.text).where(Message.conversation_id == recent.conversation.id))).all()
        assert len(texts) == 4 and set(texts) == {""}  # citizen, reply, note, the closing note
        assert conversation is not None and conversation.thread_key == f"anon-{conversation.id}" and conversation.data == {}
        assert conversation.channel == "rec" and conversation.created_at is not None  # the reports still count it
        assert contact is not None and contact.name is None and contact.external_id == f"anon-{contact.id}"
        assert survey.score == 4 and survey.comment is None
        assert kept[0] == "otra consulta"
        assert keeper.calls == [([old.conversation.id], "anonymise")]
        assert keeper.rows[old.conversation.id] == "" and keeper.rows[recent.conversation.id] == "otra consulta"


async def test_delete_after_the_retention_period(run_app: Any, site_file: Any, clock: Any) -> None:
    keeper = Keeper()
    clock.set(dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc))
    async with run_app(site_file(SITE.format(mode="delete")), plugins=plugins(keeper), background=False) as app:
        site = app.site()
        old = await say(site, "hola")
        await send_reply(site, old.conversation.id, "respuesta", author_kind="system")
        await close(site, old.conversation.id)
        still_open = await say(site, "sigo esperando", sender="beto")
        clock.advance(days=60)
        assert await retention.expire(site) == 1
        assert await counts(site) == {"Contact": 1, "Conversation": 1, "Message": 1, "Delivery": 0, "Satisfaction": 0}
        assert old.conversation.id not in keeper.rows and still_open.conversation.id in keeper.rows


async def test_a_contact_keeps_its_identity_while_a_conversation_is_recent(run_app: Any, site_file: Any, clock: Any) -> None:
    keeper = Keeper()
    clock.set(dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc))
    async with run_app(site_file(SITE.format(mode="anonymise")), plugins=plugins(keeper), background=False) as app:
        site = app.site()
        first = await say(site, "primera", n="1")
        await close(site, first.conversation.id)
        clock.advance(days=40)
        await say(site, "vuelvo a escribir", n="2")  # same person, a new conversation
        assert await retention.expire(site) == 1
        async with site.db.read() as session:
            contact = await session.get(Contact, first.contact.id)
        assert contact is not None and contact.external_id == "ana" and contact.name == "Ana Pérez"


async def test_hook_export_contact(run_app: Any, site_file: Any, clock: Any) -> None:
    keeper = Keeper()
    async with run_app(site_file(SITE.format(mode="anonymise")), plugins=plugins(keeper), background=False) as app:
        site = app.site()
        received = await say(site, "¿Cómo renuevo la cédula?")
        await send_reply(site, received.conversation.id, "Con agenda web.", author_kind="system")
        await add_note(site, received.conversation.id, "derivar a DNIC", agent_id=None)
        await record_satisfaction(site, received.conversation.id, 5, None)
        data = await retention.export_contact(site, received.contact.id)
        json.dumps(data)  # JSON-ready
        assert data["contact"]["external_id"] == "ana" and data["contact"]["name"] == "Ana Pérez"
        (conversation,) = data["conversations"]
        assert [(m["author"], m["visibility"], m["text"]) for m in conversation["messages"]] == [
            ("citizen", "private", "¿Cómo renuevo la cédula?"),
            ("system", "private", "Con agenda web."),
            ("system", "internal", "derivar a DNIC"),
        ]
        assert conversation["satisfaction"] == {"score": 5, "comment": None}
        assert data["plugins"]["keeper"] == {"notes": ["¿Cómo renuevo la cédula?"]}
        with pytest.raises(NotFound):
            await retention.export_contact(site, received.contact.id + 1000)


async def test_hook_forget_conversations(run_app: Any, site_file: Any) -> None:
    keeper = Keeper()
    async with run_app(site_file(SITE.format(mode="anonymise")), plugins=plugins(keeper), background=False) as app:
        site = app.site()
        one = await say(site, "primera", n="1")
        await close(site, one.conversation.id)
        two = await say(site, "segunda", n="2")
        await send_reply(site, two.conversation.id, "respuesta", author_kind="system")
        other = await say(site, "de otra persona", sender="beto")
        assert await retention.forget_contact(site, one.contact.id) == 2
        assert sorted(keeper.calls[0][0]) == sorted([one.conversation.id, two.conversation.id]) and keeper.calls[0][1] == "delete"
        assert await counts(site) == {"Contact": 1, "Conversation": 1, "Message": 1, "Delivery": 0, "Satisfaction": 0}
        assert list(keeper.rows) == [other.conversation.id]
        with pytest.raises(NotFound):
            await retention.forget_contact(site, one.contact.id)


async def test_retention_job_only_when_configured(run_sqlite_app: Any, site_file: Any) -> None:
    keeper = Keeper()
    with_period = site_file(SITE.format(mode="delete"), id="uno")
    without = site_file('id = "dos"\nname = "Dos"\n[plugins.rec]\n', id="dos")
    async with run_sqlite_app(with_period, without, plugins=plugins(keeper), background=False) as app:
        jobs = {(s.id, job.name) for s, job in app.canales.jobs.collect()}
        assert ("uno", "retention") in jobs and ("dos", "retention") not in jobs
        assert await retention.expire(app.site("dos")) == 0


async def test_the_chatbot_forgets_and_exports_its_turns(run_sqlite_app: Any, site_file: Any, clock: Any) -> None:
    from canales.plugins.chatbot.models import BotTurn

    root = Path(__file__).resolve().parent.parent
    text = f"""
id = "uno"
name = "Uno"
[hours]
always = true
[privacy]
retention_days = 30
retention = "anonymise"
[plugins.chatbot]
knowledge = "{root / 'sites' / 'demo' / 'chatbot.yml'}"
channels = ["rec"]
allowed_hosts = ["servicios.ejemplo.gub.uy"]
handoff = false
[plugins.rec]
"""
    async with run_sqlite_app(site_file(text), plugins={"rec": from_module("rec", recorder)}, background=False) as app:
        site = app.site()
        received = await say(site, "quiero sacar el pasaporte")
        exported = await retention.export_contact(site, received.contact.id)
        assert exported["plugins"]["chatbot"]["turns"][0]["text"] == "quiero sacar el pasaporte"
        await close(site, received.conversation.id)
        clock.advance(days=31)
        assert await retention.expire(site) == 1
        async with site.db.read() as session:
            turn = (await session.exec(select(BotTurn))).one()
        assert turn.text == "" and turn.intent is not None  # statistics stay, words go
