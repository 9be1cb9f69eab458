"""Sample content for the demo site (``canales serve`` without arguments), so that an
agent trying the inbox finds teams, canned answers and a few conversations —
including one that arrived overnight, for the morning backlog. Added once: a site
that already has conversations, teams or canned answers is left alone."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, update
from sqlmodel import col, select

from canales.core.inbox import canned
from canales.core.inbox.models import CannedAnswer
from canales.core.intake import receive
from canales.core.models import Conversation, Message, Team
from canales.core.site import Site
from canales.core.teams import save_team
from canales.core.routing import hand_off
from canales.core.types import Handoff, Inbound

TEAMS = (("atencion", "Atención general"), ("tributos", "Tributos"), ("transito", "Tránsito"))
CANNED = (
    ("saludo", "Saludo", "Hola {nombre}, soy {agente} de {organismo}. ¿En qué te puedo ayudar?"),
    (
        "horario",
        "Horario de atención",
        "Atendemos de lunes a viernes de 8 a 20 h. Fuera de ese horario podés dejarnos tu consulta y te respondemos "
        "al abrir, o llamar al {telefono}.",
    ),
    ("derivar", "Derivar a otra área", "{nombre}, tu consulta la atiende otra área: ya te pasamos con ellos. Gracias por esperar."),
    ("cierre", "Cierre", "Gracias por comunicarte con {organismo}. Si necesitás algo más, escribinos por este medio."),
)
CONVERSATIONS = (
    ("demo-vecina-1", "María Rodríguez", "Hola, quiero saber cómo pagar la contribución inmobiliaria en cuotas.", True),
    ("demo-vecino-2", "Jorge Pérez", "Buenas, me llegó una multa de tránsito que no es mía. ¿Qué tengo que hacer?", False),
    ("demo-vecina-3", None, "¿Hasta qué hora atienden hoy?", False),
)


async def seed(site: Site) -> bool:
    """Add the sample content to ``site`` unless it already has some; return
    whether anything was added."""
    async with site.db.read() as session:
        for model in (Conversation, Team, CannedAnswer):
            if (await session.exec(select(func.count()).select_from(model).where(model.site_id == site.id))).one():
                return False
    for key, name in TEAMS:
        await save_team(site, key, name)
    for shortcut, title, body in CANNED:
        await canned.save(site, answer_id=None, shortcut=shortcut, title=title, body=body)
    closed_at = site.hours.previous_closing(site.now())
    for sender, name, text, overnight in CONVERSATIONS:
        received = await receive(site, Inbound(channel="api", external_id=f"{sender}-1", sender_id=sender, sender_name=name, text=text))
        async with site.db.read() as session:
            state = (await session.exec(select(Conversation.state).where(col(Conversation.id) == received.conversation.id))).one()
        if state == "bot":
            # The demo's chatbot answered first; as if the citizen then asked for a
            # person, so the sample conversations wait for the agents.
            await hand_off(site, received.conversation.id or 0, Handoff("bot", "asked", summary="La persona pidió hablar con alguien del equipo."))
        if overnight and closed_at is not None:
            # As if it had arrived two hours after the last closing.
            arrived = closed_at + dt.timedelta(hours=2)
            async with site.db.write() as session:
                await session.exec(
                    update(Conversation)
                    .where(col(Conversation.id) == received.conversation.id)
                    .values(after_hours=True, created_at=arrived, updated_at=arrived, last_citizen_at=arrived)
                )
                await session.exec(
                    update(Message).where(col(Message.id) == received.message.id).values(created_at=arrived, occurred_at=arrived)
                )
    return True
