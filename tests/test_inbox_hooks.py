"""The inbox's hooks, each through a plugin written as a third party would:
``register_inbox_routes``, ``inbox_menu``, ``inbox_panels`` and ``reply_options``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup, escape
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from canales import hookimpl
from canales.core.contrib import MenuLink, Panel, ReplyOption
from canales.core.inbox.plugin_pages import inbox_agent, render_page
from canales.core.models import Message
from canales.core.plugins import from_module
from inbox_support import citizen_says, client_for, login, make_agent, session_csrf

SITE = """
id = "{id}"
name = "Sitio {id}"
[hours]
always = true
[holidays]
categories = []
[plugins.api]
secret = {{ env = "TEST_API_SECRET" }}
{extra}
"""

PAGE = """{% extends "inbox/base.html" %}
{% block title %}Preguntas no comprendidas{% endblock %}
{% block main %}
<h1>Preguntas no comprendidas</h1>
<p id="who">{{ who.agent.name }} ({{ role }})</p>
<ul>{% for q in questions %}<li>{{ q }}</li>{% endfor %}</ul>
<form method="post" action="/inbox/{{ site.id }}/desk/mark">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <button>Marcar</button>
</form>
{% endblock %}
"""


class Desk:
    """A plugin adding an inbox page, menu links, a panel and reply options."""

    def __init__(self, templates: Path) -> None:
        self.templates = templates
        self.marked: list[str] = []

    @hookimpl
    def template_paths(self) -> list[Path]:
        return [self.templates]

    @hookimpl
    def register_inbox_routes(self, site: Any) -> list[Route]:
        return [Route("/desk/unanswered", self.page), Route("/desk/mark", self.mark, methods=["POST"])]

    async def page(self, request: Request) -> Response:
        # The base context already carries the agent (who) and their role.
        return await render_page(request, "desk/page.html", questions=["¿<b>dónde</b> pago?"])

    async def mark(self, request: Request) -> Response:
        who, _ = await inbox_agent(request)
        self.marked.append(who.agent.email)
        return PlainTextResponse("ok")

    @hookimpl
    def inbox_menu(self, site: Any, agent: Any) -> list[MenuLink]:
        return [
            MenuLink("Preguntas no comprendidas", f"/inbox/{site.id}/desk/unanswered", plugin="desk", badge="3"),
            MenuLink("Entrenar el bot", f"/inbox/{site.id}/desk/train", plugin="desk", roles=("admin",)),
        ]

    @hookimpl
    def inbox_panels(self, site: Any, conversation: Any, agent: Any) -> list[Panel] | None:
        if conversation.channel != "api":
            return None
        return [Panel("Ventana de mensajes", Markup("Quedan <strong>{}</strong> horas").format(escape("<i>20</i>")), plugin="desk", level="warning")]

    @hookimpl
    def reply_options(self, site: Any, conversation: Any, agent: Any) -> list[ReplyOption] | None:
        if conversation.channel != "api":
            return None
        return [
            ReplyOption("reply", "public", "Respuesta pública", default=True),
            ReplyOption("reply", "private", "Mensaje privado"),
            ReplyOption("reply", "sms", "Por SMS", available=False, reason="El sitio no tiene saldo de SMS."),
        ]


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    folder = tmp_path / "desk-templates" / "desk"
    folder.mkdir(parents=True)
    (folder / "page.html").write_text(PAGE, "utf-8")
    return Desk(tmp_path / "desk-templates")


@pytest.fixture
def desk_sites(site_file: Any) -> tuple[Path, Path]:
    return (
        site_file(SITE.format(id="uno", extra="[plugins.desk]"), id="uno"),
        site_file(SITE.format(id="dos", extra=""), id="dos"),
    )


def plugins(desk: Desk) -> dict[str, Any]:
    return {"desk": from_module("desk", desk)}


async def test_hook_register_inbox_routes(run_app: Any, desk: Desk, desk_sites: Any) -> None:
    async with run_app(*desk_sites, plugins=plugins(desk)) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno", name="Ana")
        await make_agent(app.canales, "dora@dos.uy", "dos")
        await make_agent(app.canales, "dora@dos.uy", "uno")  # she works on both
        async with client_for(app) as anonymous:
            response = await anonymous.get("/inbox/uno/desk/unanswered")
            assert response.status_code == 303 and response.headers["location"].startswith("/inbox/login?next=")
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            page = await client.get("/inbox/uno/desk/unanswered")
            assert page.status_code == 200
            assert '<p id="who">Ana (agent)</p>' in page.text
            assert "¿&lt;b&gt;dónde&lt;/b&gt; pago?" in page.text  # autoescaped
            assert 'aria-label="Secciones"' in page.text  # the inbox's frame
            assert (await client.get("/inbox/uno/desk/nothing")).status_code == 404
            assert (await client.get("/inbox/dos/desk/unanswered")).status_code == 404  # not her site
            assert (await client.post("/inbox/uno/desk/mark")).status_code == 403  # CSRF applies to plugin pages
            token = await session_csrf(client, "uno")
            assert (await client.post("/inbox/uno/desk/mark", data={"csrf_token": token})).status_code == 200
            assert desk.marked == ["ana@uno.uy"]
        async with client_for(app) as dora:
            await login(dora, "dora@dos.uy")
            # Site dos does not enable the plugin: its pages do not exist there.
            assert (await dora.get("/inbox/dos/desk/unanswered")).status_code == 404
            assert (await dora.get("/inbox/uno/desk/unanswered")).status_code == 200


async def test_hook_inbox_menu(run_app: Any, desk: Desk, desk_sites: Any) -> None:
    async with run_app(*desk_sites, plugins=plugins(desk)) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        async with client_for(app) as agent, client_for(app) as admin:
            await login(agent, "ana@uno.uy")
            await login(admin, "admin@uno.uy")
            page = (await agent.get("/inbox/uno/")).text
            assert '<a href="/inbox/uno/desk/unanswered">Preguntas no comprendidas <span class="badge">3</span></a>' in page
            assert "Entrenar el bot" not in page
            assert "Entrenar el bot" in (await admin.get("/inbox/uno/")).text


async def test_hook_inbox_panels(run_app: Any, desk: Desk, desk_sites: Any) -> None:
    async with run_app(*desk_sites, plugins=plugins(desk)) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        received = await citizen_says(app.site("uno"), "hola")
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            page = (await client.get(f"/inbox/uno/conversations/{received.conversation.id}")).text
            assert 'class="panel panel-warning"' in page and ">Ventana de mensajes</h2>" in page
            assert "Quedan <strong>&lt;i&gt;20&lt;/i&gt;</strong> horas" in page


async def test_hook_reply_options(run_app: Any, desk: Desk, desk_sites: Any) -> None:
    async with run_app(*desk_sites, plugins=plugins(desk)) as app:
        site = app.site("uno")
        await make_agent(app.canales, "ana@uno.uy", "uno")
        received = await citizen_says(site, "hola")
        cid = received.conversation.id
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            page = (await client.get(f"/inbox/uno/conversations/{cid}")).text
            assert 'name="option.reply" value="public" checked' in page
            assert 'value="sms" disabled' in page and "El sitio no tiene saldo de SMS." in page
            token = await session_csrf(client, "uno")
            url = f"/inbox/uno/conversations/{cid}/reply"
            assert (await client.post(url, data={"text": "por defecto", "csrf_token": token})).status_code == 303
            assert (await client.post(url, data={"text": "en privado", "option.reply": "private", "csrf_token": token})).status_code == 303
            refused = await client.post(url, data={"text": "por sms", "option.reply": "sms", "csrf_token": token})
            assert refused.status_code == 422 and "El sitio no tiene saldo de SMS." in refused.text
            unknown = await client.post(url, data={"text": "inventada", "option.color": "rojo", "csrf_token": token})
            assert unknown.status_code == 422
        async with site.db.read() as session:
            replies = (await session.exec(select(Message.text, Message.payload).where(Message.direction == "out", Message.visibility != "internal"))).all()
        assert [(text, payload.get("options")) for text, payload in replies] == [
            ("por defecto", {"reply": "public"}),
            ("en privado", {"reply": "private"}),
        ]
