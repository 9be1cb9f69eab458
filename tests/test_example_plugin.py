"""A third-party channel plugin, installed with pip from tests/example_plugin/, is found
through its entry point, enabled per site, receives messages and delivers replies —
and exercises every registration hook the way docs/writing-plugins.md describes."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from canales.core import migrate
from canales.core.contrib import panels, reply_options
from canales.core.db import async_url
from canales.core.models import Agent, Delivery
from canales.core.plugins import installed
from canales.core.replies import send_reply
from canales.core.siteconfig import ConfigError
from helpers import eventually, serve

PACKAGE = Path(__file__).parent / "example_plugin"


@pytest.fixture(scope="module")
def sms_installed(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Path]:
    """``pip install`` the example plugin into a folder put on sys.path, as a
    deployment would install it into its environment. (The shared template database
    is made before, so that it holds canales' own schema only.)"""
    target = tmp_path_factory.mktemp("site-packages")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(target), str(PACKAGE)],
        check=True,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    importlib.invalidate_caches()
    for name in [m for m in sys.modules if m.startswith("canales_sms")]:
        del sys.modules[name]


class GatewayStandIn:
    """The SMS gateway's API: accepts sends (201 with an id), finds them by
    reference, and can be told to time out once after accepting."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.hang_once = False
        self.app = Starlette(routes=[
            Route("/health", lambda r: JSONResponse({"ok": True})),
            Route("/messages", self.messages, methods=["GET", "POST"]),
        ])

    async def messages(self, request: Request) -> Response:
        assert request.headers["authorization"] == "Bearer gw-token"
        if request.method == "GET":
            found = [m for m in self.sent if m["reference"] == request.query_params["reference"]]
            return JSONResponse({"messages": found})
        data = await request.json()
        message = {"id": f"gw-{len(self.sent) + 1}", **data}
        self.sent.append(message)
        if self.hang_once:
            self.hang_once = False
            await asyncio.sleep(2)  # accepted, but the answer comes too late
        return JSONResponse({"id": message["id"]}, status_code=201)


SITE = """
id = "{id}"
name = "Sitio {id}"
[hours]
{hours}
[holidays]
categories = []
[plugins.sms]
gateway_url = "{gateway}"
gateway_token = {{ env = "SMS_GATEWAY_TOKEN" }}
inbound_token = {{ env = "SMS_INBOUND_TOKEN" }}
"""
OTHER = """
id = "dos"
name = "Sin SMS"
[plugins.api]
secret = { env = "TEST_API_SECRET" }
"""
INBOUND = {"authorization": "Bearer in-token"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_GATEWAY_TOKEN", "gw-token")
    monkeypatch.setenv("SMS_INBOUND_TOKEN", "in-token")


@pytest.fixture
async def sms_db(sms_installed: Path, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/sms.db"
    await migrate.upgrade(url)
    return url


def site_text(gateway: str, hours: str = "always = true", id: str = "uno") -> str:
    return SITE.format(id=id, gateway=gateway, hours=hours)


def test_the_plugin_is_found_through_its_entry_point(sms_installed: Path) -> None:
    plugin = installed()["sms"]
    assert plugin.distribution == "canales-sms" and plugin.version == "1.0.0"
    assert plugin.target == "canales_sms"


def test_hook_settings_model(sms_installed: Path, site_file: Any, env: None, sms_db: str) -> None:
    from canales.core.runtime import Canales

    path = site_file(site_text("not a url"))
    with pytest.raises(ConfigError, match=r"plugins.sms.gateway_url: Input should be a valid URL"):
        Canales([path], database_url=sms_db)


async def test_hook_migrations_path(sms_installed: Path, sms_db: str) -> None:
    assert "sms_0001" in migrate.heads()
    engine = create_async_engine(async_url(sms_db))
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa_inspect(c).get_table_names())
    await engine.dispose()
    assert "sms_receipt" in names
    assert await migrate.current(sms_db) == migrate.heads()


async def test_hook_register_routes(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any, clock: Any) -> None:
    gateway = GatewayStandIn()
    async with serve(gateway.app) as base:
        paths = site_file(site_text(base)), site_file(OTHER, id="dos")
        async with run_sqlite_app(*paths, database_url=sms_db) as app:
            ok = await app.client.post("/s/uno/sms/incoming", json={"id": "sms-1", "from": "+59899123456", "text": "Hola, ¿atienden hoy?"}, headers=INBOUND)
            assert ok.status_code == 200 and ok.json()["duplicate"] is False
            again = await app.client.post("/s/uno/sms/incoming", json={"id": "sms-1", "from": "+59899123456", "text": "Hola, ¿atienden hoy?"}, headers=INBOUND)
            assert again.json()["duplicate"] is True
            assert (await app.client.post("/s/uno/sms/incoming", json={"id": "x"}, headers={})).status_code == 401
            missing = await app.client.post("/s/uno/sms/incoming", json={"id": "x", "from": "1"}, headers=INBOUND)
            assert (missing.status_code, missing.json()["field"]) == (422, "text")
            # The site that does not enable the plugin does not have its routes.
            assert (await app.client.post("/s/dos/sms/incoming", json={}, headers=INBOUND)).status_code == 404


async def test_replies_are_delivered_through_the_plugin_once(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any, clock: Any) -> None:
    gateway = GatewayStandIn()
    async with serve(gateway.app) as base:
        async with run_sqlite_app(site_file(site_text(base)), database_url=sms_db, background=False) as app:
            site = app.site()
            posted = await app.client.post("/s/uno/sms/incoming", json={"id": "sms-1", "from": "+59899123456", "text": "Hola"}, headers=INBOUND)
            cid = posted.json()["conversation_id"]
            async with site.db.write() as session:
                agent = Agent(email="ana@ejemplo.gub.uy", name="Ana", password_hash="x")
                session.add(agent)
            await send_reply(site, cid, "Sí, hasta las 20 h.", author_kind="agent", agent_id=agent.id)
            gateway.hang_once = True
            site.state["sms"].client.timeout = 0.5
            await app.canales.outbox.run_once()  # times out: outcome unknown
            assert len(gateway.sent) == 1
            clock.advance(minutes=30)
            await app.canales.outbox.run_once()  # reconciles: finds it, does not resend
            assert len(gateway.sent) == 1
            assert gateway.sent[0]["to"] == "+59899123456" and gateway.sent[0]["text"] == "Sí, hasta las 20 h."
            async with site.db.read() as session:
                delivery = (await session.exec(select(Delivery))).one()
            assert (delivery.state, delivery.external_id, delivery.attempts) == ("done", "gw-1", 2)


async def test_hook_startup(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any) -> None:
    async with run_sqlite_app(site_file(site_text("http://127.0.0.1:9")), database_url=sms_db) as app:
        client = app.site().state["sms"].client
        assert not client.is_closed
    assert client.is_closed


async def test_hook_shutdown(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any) -> None:
    async with run_sqlite_app(site_file(site_text("http://127.0.0.1:9")), database_url=sms_db) as app:
        site = app.site()
    assert "sms" not in site.state


async def test_hook_template_paths(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any) -> None:
    gateway = GatewayStandIn()
    async with serve(gateway.app) as base:
        async with run_sqlite_app(site_file(site_text(base)), database_url=sms_db) as app:
            page = await app.client.get("/s/uno/sms/status")
            assert page.status_code == 200
            assert "Canal SMS de Sitio uno" in page.text and "Pasarela disponible" in page.text


async def test_hook_static_path(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any) -> None:
    async with run_sqlite_app(site_file(site_text("http://127.0.0.1:9")), database_url=sms_db) as app:
        css = await app.client.get("/-/static/sms/sms.css")
        assert css.status_code == 200 and ".ok" in css.text
        assert css.headers["x-content-type-options"] == "nosniff"
        assert (await app.client.get("/-/static/sms/../__init__.py")).status_code == 404


async def test_hook_periodic_jobs(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any, clock: Any) -> None:
    from canales_sms.models import SmsReceipt

    async with run_sqlite_app(site_file(site_text("http://127.0.0.1:9")), database_url=sms_db, background=False) as app:
        site = app.site()
        jobs = {job.name: job for s, job in app.canales.jobs.collect()}
        assert {"sms-receipts-purge", "unhandled-messages"} <= set(jobs)
        for status in ("delivered", "failed"):
            response = await app.client.post("/s/uno/sms/receipts", json={"id": "gw-1", "status": status}, headers=INBOUND)
            assert response.status_code == 200
        clock.advance(days=31)
        await jobs["sms-receipts-purge"].run()
        async with site.db.read() as session:
            assert (await session.exec(select(SmsReceipt))).all() == []


async def test_hook_inbox_panels(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any) -> None:
    async with run_sqlite_app(site_file(site_text("http://127.0.0.1:9")), database_url=sms_db, background=False) as app:
        site = app.site()
        from canales import Inbound
        from canales.core.intake import receive

        received = await receive(site, Inbound(channel="sms", external_id="s1", sender_id="<b>099</b>", text="hola"))
        agent = Agent(id=1, email="a@b.uy", name="A", password_hash="x")
        found = panels(site, received.conversation, agent)
        assert [p.title for p in found] == ["SMS"]
        assert "&lt;b&gt;099&lt;/b&gt;" in str(found[0].html)  # citizen-controlled text escaped
        other = await receive(site, Inbound(channel="rec", external_id="r1", sender_id="x", text="hola"))
        assert panels(site, other.conversation, agent) == []


async def test_hook_reply_options(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any) -> None:
    async with run_sqlite_app(site_file(site_text("http://127.0.0.1:9")), database_url=sms_db, background=False) as app:
        from canales import Inbound
        from canales.core.intake import receive

        received = await receive(app.site(), Inbound(channel="sms", external_id="s1", sender_id="099", text="hola"))
        options = reply_options(app.site(), received.conversation, Agent(id=1, email="a@b.uy", name="A", password_hash="x"))
        assert [(o.name, o.available) for o in options] == [("sms_flash", False)]
        assert options[0].reason == "El proveedor no admite mensajes flash."


async def test_an_out_of_hours_message_is_acknowledged(sms_installed: Path, site_file: Any, env: None, sms_db: str, run_sqlite_app: Any, clock: Any) -> None:
    gateway = GatewayStandIn()
    async with serve(gateway.app) as base:
        path = site_file(site_text(base, hours='mon = ["09:00-17:00"]'))
        clock.set(dt.datetime(2026, 11, 29, 15, 0, tzinfo=dt.timezone.utc))  # a Sunday
        async with run_sqlite_app(path, database_url=sms_db) as app:
            await app.client.post("/s/uno/sms/incoming", json={"id": "sms-1", "from": "099", "text": "hola"}, headers=INBOUND)
            await app.client.post("/s/uno/sms/incoming", json={"id": "sms-2", "from": "099", "text": "¿hay alguien?"}, headers=INBOUND)
            await eventually(lambda: gateway.sent)
            await asyncio.sleep(0.3)
            assert [m["text"] for m in gateway.sent] == ["Recibimos tu mensaje. Te respondemos en el horario de atención."]


def test_hook_register_commands(sms_installed: Path, site_file: Any, env: None, tmp_path: Path) -> None:
    async def run() -> subprocess.CompletedProcess[str]:
        gateway = GatewayStandIn()
        async with serve(gateway.app) as base:
            path = site_file(site_text(base))
            command = [sys.executable, "-m", "canales.core.cli", "sms", "--site", str(path)]
            environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(sms_installed), *sys.path])}
            proc = await asyncio.create_subprocess_exec(*command, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await proc.communicate()
            return subprocess.CompletedProcess(command, proc.returncode or 0, out.decode(), err.decode())

    result = asyncio.run(run())
    assert result.returncode == 0, result.stderr
    assert "uno: SMS gateway reachable" in result.stdout
