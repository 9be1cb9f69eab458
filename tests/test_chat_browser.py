"""The widget in real Chromium, embedded in an organism's page served from another
origin (another port) with a strict Content-Security-Policy and hostile CSS: a
citizen uses it with the keyboard only, an agent's reply appears, the chat survives
a reload and a server restart, the out-of-hours mode shows the next opening and the
other channels, and axe-core finds no serious or critical violations."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from sqlmodel import select

from browser import axe_violations, chromium
from canales.core.models import Conversation, Message
from canales.core.replies import send_reply
from chat_support import MONDAY_MORNING, chat_site, make_agent, served
from helpers import eventually, free_port, serve

HOSTILE_CSS = """
* { font-size: 40px !important; color: red !important; }
button { display: none !important; }
div { margin: 50px !important; }
"""


def organism_page(widget_src: str, chat_origin: str) -> Starlette:
    """An organism's page that embeds the widget with one script tag."""
    html = f"""<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>Trámites — Organismo Uno</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/site.css"></head>
<body><header><h1>Organismo Uno</h1></header>
<main><h2>Renovar el permiso</h2><p>Información sobre el trámite.</p>
<a href="#info" id="first-link">Más información</a></main>
<script src="{widget_src}" async></script>
</body></html>"""
    csp = (
        f"default-src 'self'; script-src 'self' {chat_origin}; connect-src 'self' {chat_origin.replace('http', 'ws')}; "
        "style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'"
    )

    async def page(request: Request) -> Response:
        return HTMLResponse(html, headers={"content-security-policy": csp})

    async def css(request: Request) -> Response:
        return Response(HOSTILE_CSS, media_type="text/css")

    return Starlette(routes=[Route("/", page), Route("/site.css", css)])


@contextlib.asynccontextmanager
async def embedded(run_app: Any, site_file: Any, **site: Any) -> AsyncIterator[tuple[Any, str, int]]:
    """The chat server and an organism's page on another port that embeds it."""
    page_port = free_port()
    page_origin = f"http://127.0.0.1:{page_port}"
    text = chat_site(origins=(page_origin,), **site)
    async with run_app(site_file(text)) as app, served(app) as base:
        async with serve(organism_page(f"{base}/s/uno/chat/widget.js", base), port=page_port):
            yield app, page_origin, int(base.rsplit(":", 1)[1])


async def shadow_text(page: Any, selector: str) -> str:
    return await page.locator(f"[data-canales-chat] >> {selector}").inner_text()


async def press_until_focused(page: Any, selector: str, limit: int = 15) -> None:
    """Tab through the page until ``selector`` (inside the widget) has the focus."""
    for _ in range(limit):
        focused = await page.evaluate(
            """(sel) => { const host = document.querySelector('[data-canales-chat]');
                   return !!host && host.shadowRoot.activeElement === host.shadowRoot.querySelector(sel); }""",
            selector,
        )
        if focused:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never received the focus")


async def active_in_widget(page: Any) -> str | None:
    return await page.evaluate(
        """() => { const a = document.querySelector('[data-canales-chat]').shadowRoot.activeElement;
                   return a ? (a.id || a.className || a.tagName) : null; }"""
    )


async def conversation_of(app: Any) -> Conversation:
    async with app.site().db.read() as session:
        return (await session.exec(select(Conversation))).one()


async def test_a_citizen_chats_from_an_organisms_page_with_the_keyboard(run_sqlite_app: Any, site_file: Any) -> None:
    async with embedded(run_sqlite_app, site_file) as (app, page_origin, _), chromium() as browser:
        agent = await make_agent(app.canales)
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        await page.goto(page_origin)
        launcher = page.locator("[data-canales-chat] >> .launcher")
        await launcher.wait_for()
        # The host page's CSS hides buttons and paints everything red: not ours.
        assert await launcher.is_visible()
        assert await launcher.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"

        await press_until_focused(page, ".launcher")
        await page.keyboard.press("Enter")
        assert await launcher.get_attribute("aria-expanded") == "true"
        # Focus moved into the panel: the privacy checkbox is the first field.
        assert await active_in_widget(page) == "f-privacy"
        await page.keyboard.press("Space")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")  # "Comenzar"
        textarea = page.locator("[data-canales-chat] >> #text")
        await textarea.wait_for()
        await eventually(lambda: active_in_widget(page), timeout=5)
        assert await active_in_widget(page) == "text"
        await page.keyboard.type("Hola, ¿cómo renuevo el permiso? <img src=x onerror=alert(1)>")
        await page.keyboard.press("Enter")
        mine = page.locator("[data-canales-chat] >> .msg.mine[data-seq]")
        await mine.first.wait_for()
        assert "<img src=x onerror=alert(1)>" in await mine.first.inner_text()

        conversation = await conversation_of(app)
        await send_reply(app.site(), conversation.id or 0, "Hola, te ayudo con eso.", author_kind="agent", agent_id=agent)
        theirs = page.locator("[data-canales-chat] >> .msg.theirs")
        await theirs.first.wait_for()
        reply = await theirs.first.inner_text()
        assert "Ana" in reply and "Hola, te ayudo con eso." in reply

        # The transcript downloads from the socket (the token never goes in a URL).
        async with page.expect_download() as download_info:
            await page.locator("[data-canales-chat] >> .tool[aria-label='Descargar la conversación']").click()
        download = await download_info.value
        assert download.suggested_filename.startswith("conversacion-uno-")
        saved = await download.path()
        assert "Hola, te ayudo con eso." in saved.read_text("utf-8")

        # On a desktop the panel is not modal: Tab can leave it for the page.
        assert await page.locator("[data-canales-chat] >> .panel").get_attribute("aria-modal") == "false"
        await textarea.focus()
        for _ in range(15):
            await page.keyboard.press("Tab")
            if await active_in_widget(page) is None:
                break
        else:
            raise AssertionError("the focus was trapped in a non-modal panel")

        # Escape closes the panel and gives the focus back to the launcher.
        await textarea.focus()
        await page.keyboard.press("Escape")
        assert await launcher.get_attribute("aria-expanded") == "false"
        assert await active_in_widget(page) == "launcher"

        # A reload keeps the conversation (the token is in localStorage).
        await page.reload()
        await launcher.wait_for()
        await launcher.click()
        await theirs.first.wait_for()
        assert await page.locator("[data-canales-chat] >> .msg[data-seq]").count() == 2
        assert errors == []


async def test_the_widget_reconnects_after_a_server_restart(run_sqlite_app: Any, site_file: Any) -> None:
    page_port = free_port()
    page_origin = f"http://127.0.0.1:{page_port}"
    chat_port = free_port()
    async with run_sqlite_app(site_file(chat_site(origins=(page_origin,), extra="heartbeat_interval = 1\nheartbeat_timeout = 1"))) as app:
        agent = await make_agent(app.canales)
        base = f"http://127.0.0.1:{chat_port}"
        async with serve(organism_page(f"{base}/s/uno/chat/widget.js", base), port=page_port), chromium() as browser:
            page = await browser.new_page()
            async with served(app, port=chat_port):
                await page.goto(page_origin)
                await page.locator("[data-canales-chat] >> .launcher").click()
                await page.locator("[data-canales-chat] >> #f-privacy").check()
                await page.locator("[data-canales-chat] >> .start button[type=submit]").click()
                await page.locator("[data-canales-chat] >> #text").fill("Primera consulta")
                await page.keyboard.press("Enter")
                await page.locator("[data-canales-chat] >> .msg.mine[data-seq]").wait_for()
            # The server is down: a reply is stored meanwhile, then the server returns.
            conversation = await conversation_of(app)
            await send_reply(app.site(), conversation.id or 0, "Respuesta mientras no estabas", author_kind="agent", agent_id=agent)
            # The citizen writes while offline: the message waits in the widget.
            await page.locator("[data-canales-chat] >> #text").fill("Escrito sin conexión")
            await page.keyboard.press("Enter")
            assert await page.locator("[data-canales-chat] >> .msg.pending").count() == 1
            await page.wait_for_timeout(1500)
            async with served(app, port=chat_port):
                await page.locator("[data-canales-chat] >> .msg.theirs").wait_for(timeout=40000)
                await page.locator("[data-canales-chat] >> .msg.pending").wait_for(state="detached", timeout=10000)
                texts = await page.locator("[data-canales-chat] >> .msg[data-seq] .text").all_inner_texts()
                assert texts == ["Primera consulta", "Respuesta mientras no estabas", "Escrito sin conexión"]
            async with app.site().db.read() as session:
                stored = (await session.exec(select(Message.text).where(Message.direction == "in").order_by(Message.seq))).all()
            assert stored == ["Primera consulta", "Escrito sin conexión"]


async def test_out_of_hours_the_widget_says_when_it_opens_and_offers_other_channels(
    run_sqlite_app: Any, site_file: Any, clock: Any
) -> None:
    # Sunday 30 November 2025, 15:00 in Montevideo; open Mondays 8 to 12.
    clock.set(dt.datetime(2025, 11, 30, 18, 0, tzinfo=dt.timezone.utc))
    async with embedded(run_sqlite_app, site_file, hours=MONDAY_MORNING) as (app, page_origin, _), chromium() as browser:
        page = await browser.new_page()
        await page.goto(page_origin)
        await page.locator("[data-canales-chat] >> .launcher").click()
        notice = page.locator("[data-canales-chat] >> .notice")
        await notice.wait_for()
        text = await notice.inner_text()
        assert "mañana lunes 1 de diciembre a las 8:00" in text
        assert "0800 1234" in text and "lunes a viernes de 9 a 17 h" in text
        assert "consultas@uno.gub.uy" in text
        assert await page.locator("[data-canales-chat] >> .notice a[href='tel:08001234']").count() == 1
        # The message is taken anyway and lands in the backlog.
        await page.locator("[data-canales-chat] >> #f-privacy").check()
        await page.locator("[data-canales-chat] >> .start button[type=submit]").click()
        await page.locator("[data-canales-chat] >> #text").fill("Escribo un domingo")
        await page.keyboard.press("Enter")
        await page.locator("[data-canales-chat] >> .msg.mine[data-seq]").wait_for()
        conversation = await conversation_of(app)
        assert conversation.after_hours is True and conversation.state == "queued"


async def test_axe_finds_no_serious_violations_in_the_open_widget(run_sqlite_app: Any, site_file: Any, clock: Any) -> None:
    clock.set(dt.datetime(2025, 11, 30, 18, 0, tzinfo=dt.timezone.utc))
    prechat = '[plugins.chat_human.prechat]\nenabled = true\nemail = "required"\ntopic = "optional"\ntopics = ["Permisos", "Reclamos"]'
    async with embedded(run_sqlite_app, site_file, hours=MONDAY_MORNING, plugins=prechat) as (app, page_origin, _), chromium() as browser:
        agent = await make_agent(app.canales)
        for viewport in ({"width": 1280, "height": 800}, {"width": 375, "height": 740}):
            context = await browser.new_context(viewport=viewport)
            page = await context.new_page()
            await page.goto(page_origin)
            await page.locator("[data-canales-chat] >> .launcher").click()
            await page.locator("[data-canales-chat] >> .notice").wait_for()
            assert await axe_violations(page) == [], f"pre-chat form at {viewport}"
            # A server-side validation error is shown on its field.
            await page.locator("[data-canales-chat] >> #f-privacy").check()
            await page.locator("[data-canales-chat] >> .start button[type=submit]").click()
            await page.locator("[data-canales-chat] >> #f-name-error").wait_for()
            assert await page.locator("[data-canales-chat] >> #f-name").get_attribute("aria-invalid") == "true"
            assert await axe_violations(page) == [], f"form errors at {viewport}"
            await page.locator("[data-canales-chat] >> #f-name").fill("Marta")
            await page.locator("[data-canales-chat] >> #f-email").fill("marta@example.com.uy")
            await page.locator("[data-canales-chat] >> .start button[type=submit]").click()
            await page.locator("[data-canales-chat] >> #text").fill("Consulta")
            await page.keyboard.press("Enter")
            await page.locator("[data-canales-chat] >> .msg.mine[data-seq]").wait_for()
            async with app.site().db.read() as session:
                conversation_id = (await session.exec(select(Message.conversation_id).order_by(Message.id.desc()))).first()  # type: ignore[union-attr]
            await send_reply(app.site(), conversation_id, "Respuesta del equipo", author_kind="agent", agent_id=agent)
            await page.locator("[data-canales-chat] >> .msg.theirs").wait_for()
            assert await axe_violations(page) == [], f"conversation at {viewport}"
            if viewport["width"] < 480:
                # Full screen on a phone: the dialog is modal and keeps the focus in.
                panel = page.locator("[data-canales-chat] >> .panel")
                assert await panel.get_attribute("aria-modal") == "true"
                for _ in range(12):
                    await page.keyboard.press("Tab")
                    assert await active_in_widget(page) is not None
            await context.close()


async def test_the_demo_page_embeds_the_widget_under_the_apps_strict_csp(run_sqlite_app: Any, site_file: Any) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    async with run_sqlite_app(site_file(chat_site(origins=(origin,), extra="demo_page = true"))) as app, served(app, port=port):
        async with chromium() as browser:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            response = await page.goto(f"{origin}/s/uno/chat/")
            assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
            await page.locator("[data-canales-chat] >> .launcher").click()
            await page.locator("[data-canales-chat] >> #f-privacy").check()
            await page.locator("[data-canales-chat] >> .start button[type=submit]").click()
            await page.locator("[data-canales-chat] >> #text").fill("Probando el chat")
            await page.keyboard.press("Enter")
            await page.locator("[data-canales-chat] >> .msg.mine[data-seq]").wait_for()
            assert errors == []
