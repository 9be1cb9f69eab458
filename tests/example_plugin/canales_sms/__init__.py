"""canales-sms: citizens write to the body's SMS number; agents answer in the inbox.

Every hook this plugin implements is explained in canales' docs/writing-plugins.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, HttpUrl
from sqlalchemy import delete
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from canales import Inbound, PeriodicJob, hookimpl
from canales.core.contrib import Panel, ReplyOption
from canales.core.http import HTTPProblem, parse_json_object, read_body, site_of
from canales.core.intake import receive
from canales.core.replies import send_reply
from canales.core.siteconfig import Secret
from canales.core.text import InvalidInput
from canales.core.texts import Texts
from canales_sms.gateway import Gateway
from canales_sms.models import SmsReceipt

NAME = CHANNEL = "sms"
HERE = Path(__file__).parent
TEXTS = Texts({"ack": "Recibimos tu mensaje. Te respondemos en el horario de atención."})


class SmsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    gateway_url: HttpUrl
    gateway_token: Secret
    inbound_token: Secret
    texts: dict[str, str] = {}


def gateway(site: Any) -> Gateway:
    return site.state[NAME]


# --- registration ---------------------------------------------------------------


@hookimpl
def settings_model() -> type[BaseModel]:
    return SmsSettings


@hookimpl
def register_routes(site: Any) -> list[Route]:
    return [
        Route("/sms/incoming", incoming, methods=["POST"]),
        Route("/sms/receipts", receipts, methods=["POST"]),
        Route("/sms/status", status, methods=["GET"]),
    ]


@hookimpl
def template_paths() -> list[Path]:
    return [HERE / "templates"]


@hookimpl
def static_path() -> Path:
    return HERE / "static"


@hookimpl
def migrations_path() -> Path:
    return HERE / "migrations"


@hookimpl
def register_commands(subparsers: Any) -> None:
    ping = subparsers.add_parser("sms", help="check the SMS gateway of a site")
    ping.add_argument("--site", required=True, help="site file")
    ping.set_defaults(func=ping_command)


@hookimpl
def periodic_jobs(site: Any) -> list[PeriodicJob]:
    return [PeriodicJob("sms-receipts-purge", 3600, lambda: purge_receipts(site))]


@hookimpl
def startup(site: Any) -> None:
    settings = site.settings(NAME)
    site.state[NAME] = Gateway(str(settings.gateway_url), settings.gateway_token.reveal())


@hookimpl
async def shutdown(site: Any) -> None:
    await site.state.pop(NAME).close()


# --- messages --------------------------------------------------------------------


@hookimpl
async def handle_message(site: Any, conversation: Any, message: Any) -> None:
    # Out of hours, acknowledge the first message so nobody waits in silence.
    if conversation.channel == CHANNEL and conversation.after_hours and message.seq == 1:
        text = TEXTS.render(site.settings(NAME).texts, "ack")
        await send_reply(site, conversation.id, text, author_kind="system")


@hookimpl
def deliver_message(site: Any, outbound: Any) -> Any:
    if outbound.conversation.channel != CHANNEL:
        return None
    return gateway(site).send(outbound)


@hookimpl
def inbox_panels(site: Any, conversation: Any, agent: Any) -> list[Panel] | None:
    if conversation.channel != CHANNEL:
        return None
    html = Markup("<p>Número: <strong>{}</strong></p>").format(escape(conversation.thread_key))
    return [Panel("SMS", html, plugin=NAME)]


@hookimpl
def reply_options(site: Any, conversation: Any, agent: Any) -> list[ReplyOption] | None:
    if conversation.channel != CHANNEL:
        return None
    return [ReplyOption("sms_flash", "yes", "Mensaje flash", available=False,
                        reason="El proveedor no admite mensajes flash.")]


# --- HTTP endpoints --------------------------------------------------------------


def _authorize(request: Request) -> None:
    expected = f"Bearer {site_of(request).settings(NAME).inbound_token.reveal()}"
    if not hmac.compare_digest(request.headers.get("authorization", ""), expected):
        raise HTTPProblem(401, "unauthorized", "wrong or missing token")


async def incoming(request: Request) -> Response:
    _authorize(request)
    data = parse_json_object(await read_body(request, 16 * 1024))
    try:
        inbound = Inbound(channel=CHANNEL, external_id=data["id"], sender_id=data["from"], text=data["text"])
        received = await receive(site_of(request), inbound)
    except KeyError as exc:
        raise HTTPProblem(422, "invalid", f"missing field {exc.args[0]}", field=exc.args[0]) from None
    except InvalidInput as exc:
        raise HTTPProblem(422, "invalid", str(exc), field=exc.field) from None
    return JSONResponse({"conversation_id": received.conversation.id, "duplicate": received.duplicate})


async def receipts(request: Request) -> Response:
    _authorize(request)
    data = parse_json_object(await read_body(request, 4 * 1024))
    site = site_of(request)
    async with site.db.write() as session:
        session.add(SmsReceipt(site_id=site.id, gateway_id=str(data["id"]), status=str(data["status"])[:20], received_at=site.now()))
    return JSONResponse({"ok": True})


async def status(request: Request) -> Response:
    site = site_of(request)
    template = request.app.state.templates.get_template("sms/status.html")
    return HTMLResponse(template.render(site=site, reachable=await gateway(site).ping()))


async def purge_receipts(site: Any, older_than: dt.timedelta = dt.timedelta(days=30)) -> int:
    async with site.db.write() as session:
        result = await session.exec(
            delete(SmsReceipt).where(SmsReceipt.site_id == site.id, SmsReceipt.received_at < site.now() - older_than)
        )
    return result.rowcount


async def ping_command(args: argparse.Namespace) -> int:
    from canales.core.runtime import Canales

    canales = Canales([args.site], database_url="sqlite://", background=False)
    site = next(iter(canales.sites.values()))
    startup(site)
    try:
        ok = await gateway(site).ping()
    finally:
        await shutdown(site)
    print(f"{site.id}: SMS gateway {'reachable' if ok else 'NOT reachable'}")
    return 0 if ok else 1
