"""The inbox in a real Chromium (Playwright), against a real server: an agent logs
in, sees a citizen's message posted through the API channel appear live, answers
it with a canned answer inserted from the keyboard, and the reply reaches the
API channel's callback; an agent of another site cannot open it; citizen text
that looks like HTML stays text; no Content-Security-Policy violation; the pages
pass axe-core's WCAG 2.1 A/AA rules (no serious or critical violation) and fit a
phone's width."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from canales.core.app import create_app
from canales.core.inbox import canned
from canales.core.runtime import Canales
from canales.core.signing import verify
from conftest import unavailable
from helpers import eventually, serve, signed
from inbox_support import PASSWORD, make_agent

pytestmark = pytest.mark.browser

SECRET = "secreto-del-canal-api"
XSS = "<img src=x onerror=alert(1)>"
AXE_DIR = Path(__file__).parent / ".node"
AXE_FILE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SITE = """
id = "{id}"
name = "Organismo {id}"
[hours]
always = true
[holidays]
categories = []
[plugins.api]
secret = {{ env = "BROWSER_API_SECRET" }}
callback_url = "{callback}"
"""


class Receiver:
    """The organism's system at the other end of the API channel: it receives the
    signed reply callbacks."""

    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/callback", self.callback, methods=["POST"])])

    async def callback(self, request: Request) -> JSONResponse:
        body = await request.body()
        verify(SECRET, request.headers.get("x-canales-timestamp"), request.headers.get("x-canales-signature"), body)
        self.replies.append(json.loads(body))
        return JSONResponse({"ok": True})


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("Playwright")
    if not Path("/usr/bin/chromium").exists():
        unavailable("Chromium (/usr/bin/chromium)")
    async with async_playwright() as playwright:
        try:
            chromium = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - any launch failure means "no browser here"
            unavailable(f"Chromium ({type(exc).__name__}: {exc})")
        yield chromium
        await chromium.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core, installed by npm into the git-ignored tests/.node on first use."""
    if not AXE_FILE.exists():
        npm = shutil.which("npm")
        if npm is None:
            unavailable("npm (to install axe-core)")
        AXE_DIR.mkdir(exist_ok=True)
        result = subprocess.run(
            [npm, "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund", "axe-core@4"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0 or not AXE_FILE.exists():
            unavailable(f"axe-core (npm install failed: {result.stderr.strip()[-300:]})")
    return AXE_FILE.read_text("utf-8")


@pytest.fixture
async def deployment(site_file: Any, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    receiver = Receiver()
    monkeypatch.setenv("BROWSER_API_SECRET", SECRET)
    async with serve(receiver.app) as receiver_url:
        sites = [
            site_file(SITE.format(id="uno", callback=f"{receiver_url}/callback"), id="uno"),
            site_file(SITE.format(id="dos", callback=f"{receiver_url}/callback"), id="dos"),
        ]
        canales = Canales(sites, database_url=sqlite_url, bus_prefix="canales-browser:")
        app = create_app(canales)
        await canales.start()
        try:
            await make_agent(canales, "ana@uno.uy", "uno", role="admin", name="Ana Agente")
            await make_agent(canales, "dora@dos.uy", "dos", name="Dora")
            await canned.save(
                canales.sites["uno"], answer_id=None, shortcut="saludo", title="Saludo", body="Hola {nombre}, te atiende {agente}."
            )
            async with serve(app) as base:
                yield {"base": base, "canales": canales, "receiver": receiver}
        finally:
            await canales.stop()


class Watch:
    """Console errors, page errors and dialogs of a page (none is expected)."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("dialog", lambda d: self.problems.append(f"dialog: {d.message}"))
        page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)


async def sign_in(page: Any, base: str, email: str) -> None:
    await page.goto(f"{base}/inbox/login")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Entrar").click()
    await page.wait_for_url(f"{base}/inbox/*/")


async def citizen_posts(base: str, site: str, message_id: str, text: str, sender: str = "marta", name: str = "Marta") -> dict[str, Any]:
    body = json.dumps({"id": message_id, "sender": {"id": sender, "name": name}, "text": text}).encode()
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(f"{base}/s/{site}/api/messages", content=body, headers=signed(SECRET, body))
    assert response.status_code == 202, response.text
    return response.json()


async def test_an_agents_day_live_reply_delivered_and_isolated(browser: Any, deployment: dict[str, Any]) -> None:
    base, receiver = deployment["base"], deployment["receiver"]
    context = await browser.new_context()
    page = await context.new_page()
    watch = Watch(page)
    await sign_in(page, base, "ana@uno.uy")
    await page.goto(f"{base}/inbox/uno/?state=waiting")
    await page.get_by_text("En vivo").wait_for()

    # A citizen writes through the API channel: the list shows it without a reload.
    posted = await citizen_posts(base, "uno", "m-1", f"Necesito ayuda {XSS}", name=XSS)
    conversation_id = posted["conversation_id"]
    row = page.locator(f"#row-{conversation_id}")
    await row.wait_for()
    assert XSS in await row.inner_text()  # shown as text…
    assert await page.locator("#live-list img").count() == 0  # …never as an element
    assert (await page.title()).startswith("(1) ")

    await row.get_by_role("link").click()
    await page.wait_for_url(f"**/conversations/{conversation_id}")
    await page.get_by_text("En vivo").wait_for()
    thread = page.locator("#thread")
    assert XSS in await thread.inner_text() and await thread.locator("img").count() == 0

    # Another message arrives while the conversation is open: it appears and is announced.
    await citizen_posts(base, "uno", "m-2", "¿Siguen ahí?")
    await thread.get_by_text("¿Siguen ahí?").wait_for()
    # (A locator waits without eval, which the page's CSP would refuse.)
    await page.locator("#announcer", has_text="¿Siguen ahí?").wait_for(state="attached")

    # Keyboard only: "/" in the empty reply box opens the canned answers; Enter inserts one.
    reply = page.get_by_label(f"Respuesta a {XSS}")
    await reply.focus()
    await page.keyboard.press("/")
    assert await page.evaluate("document.activeElement.id") == "canned"
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    assert await reply.input_value() == f"Hola {XSS}, te atiende Ana Agente."
    await reply.press("End")
    await reply.type(" ¿En qué te ayudo?")
    await reply.press("Control+Enter")

    # The reply shows in the thread, is delivered to the organism's system, and says so.
    sent = f"Hola {XSS}, te atiende Ana Agente. ¿En qué te ayudo?"
    await thread.get_by_text(sent).wait_for()
    await eventually(lambda: receiver.replies, timeout=10)
    assert receiver.replies[0]["message"]["text"] == sent
    assert receiver.replies[0]["conversation"]["id"] == conversation_id
    await thread.locator(".delivery-done").first.wait_for(timeout=10_000)
    assert await reply.input_value() == ""
    assert watch.problems == []

    # An agent of another site cannot open it.
    other = await browser.new_context()
    other_page = await other.new_page()
    await sign_in(other_page, base, "dora@dos.uy")
    response = await other_page.goto(f"{base}/inbox/uno/conversations/{conversation_id}")
    assert response.status == 404
    assert "No encontrado" in await other_page.inner_text("h1")
    await other_page.goto(f"{base}/inbox/dos/?state=waiting")
    assert "Necesito ayuda" not in await other_page.inner_text("main")
    await other.close()
    await context.close()


async def axe_violations(page: Any, axe: str) -> list[dict[str, Any]]:
    # Evaluated through the DevTools protocol, so the page's strict CSP (no inline
    # script) stays on while axe runs.
    await page.evaluate(axe)
    result = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def test_pages_pass_axe_and_fit_a_phone(browser: Any, deployment: dict[str, Any], axe_source: str) -> None:
    base = deployment["base"]
    posted = await citizen_posts(base, "uno", "a-1", "Consulta sobre la patente")
    context = await browser.new_context(viewport={"width": 375, "height": 740})
    page = await context.new_page()
    watch = Watch(page)
    await page.goto(f"{base}/inbox/login")
    pages = {"login": await axe_violations(page, axe_source)}
    await sign_in(page, base, "ana@uno.uy")
    for name, path in (
        ("list", "/inbox/uno/?state=waiting"),
        ("conversation", f"/inbox/uno/conversations/{posted['conversation_id']}"),
        ("backlog", "/inbox/uno/backlog"),
        ("reports", "/inbox/uno/reports"),
        ("admin", "/inbox/uno/admin/agents"),
    ):
        await page.goto(base + path)
        pages[name] = await axe_violations(page, axe_source)
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is wider than a phone by {overflow}px"
    assert pages == {name: [] for name in pages}, json.dumps(pages, indent=1)
    # The first Tab reaches the skip link; it moves focus to the content.
    await page.goto(f"{base}/inbox/uno/")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Saltar al contenido"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    assert watch.problems == []
    await context.close()
