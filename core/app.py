"""The ASGI application: ``/healthz``, the agents' inbox under ``/inbox/`` (``/``
leads there), each site's plugin routes under ``/s/{site}/``, core's and plugins'
static files under ``/-/static/{core|plugin}/``, and security headers on every
response."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from canales.core import logs
from canales.core.logs import RequestIds
from canales.core.metrics import HttpTimer, metrics_endpoint
from canales.core.http import SITE_SCOPE_KEY, HTTPProblem, json_error
from canales.core.inbox.routes import inbox_app
from canales.core.plugins import from_module
from canales.core.runtime import Canales

CORE_TEMPLATES = Path(__file__).parent / "templates"
CORE_STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"strict-origin-when-cross-origin",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
}
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class SecurityHeaders:
    """Adds nosniff, a referrer policy and a strict CSP to every response that does
    not set its own CSP (the chat widget sets a per-site ``frame-ancestors``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name not in present:
                        headers.append((name, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", DEFAULT_CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SiteDispatch:
    """Routes ``/s/{site_id}/…`` to that site's router, built from the
    ``register_routes`` hook of its enabled plugins only."""

    def __init__(self, canales: Canales) -> None:
        self.routers: dict[str, Router] = {}
        for site in canales.sites.values():
            routes: list[BaseRoute] = []
            for result in site.hook.register_routes(site=site):
                routes.extend(result or ())
            self.routers[site.id] = Router(routes=routes, default=_not_found)
        self.sites = canales.sites

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        site_id = scope.get("path_params", {}).get("site_id")
        router = self.routers.get(site_id or "")
        if router is None:
            await _not_found(scope, receive, send)
            return
        scope[SITE_SCOPE_KEY] = self.sites[site_id or ""]
        token = logs.site_id.set(site_id)
        try:
            await router(scope, receive, send)
        finally:
            logs.site_id.reset(token)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": "not found"})
        return
    await json_error(404, "not_found", "no such page")(scope, receive, send)


def template_environment(canales: Canales) -> Environment:
    """One Jinja2 environment for the app: plugin template folders first, then
    core's. Autoescaping is on: citizen text is always escaped."""
    paths: list[Path] = []
    for site in canales.sites.values():
        for result in site.hook.template_paths():
            for path in result or ():
                if path not in paths:
                    paths.append(path)
    loaders = [FileSystemLoader(str(p)) for p in paths] + [FileSystemLoader(str(CORE_TEMPLATES))]
    return Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(default=True))


def static_mounts(canales: Canales) -> list[BaseRoute]:
    mounts: dict[str, Path] = {}
    for site in canales.sites.values():
        for impl in site.pm.hook.static_path.get_hookimpls():
            name = site.pm.get_name(impl.plugin)
            path = impl.function()
            if name and path is not None and name not in mounts:
                mounts[name] = Path(path)
    return [
        Mount("/-/static/core", app=StaticFiles(directory=str(CORE_STATIC)), name="static-core"),
        *(
            Mount(f"/-/static/{name}", app=StaticFiles(directory=str(path)), name=f"static-{name}")
            for name, path in mounts.items()
        ),
    ]


async def _healthz(request: Request) -> Response:
    canales: Canales = request.app.state.canales
    database: dict[str, Any] = {"kind": canales.db.dialect}
    try:
        await canales.db.ping()
        database["ok"] = True
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        database.update(ok=False, error=type(exc).__name__)
    bus = canales.bus.health()
    ok = database["ok"] and bus["ok"]
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "database": database, "bus": bus, "sites": sorted(canales.sites)},
        status_code=200 if database["ok"] else 503,
    )


async def _json_404(request: Request, exc: Exception) -> Response:
    return json_error(404, "not_found", "no such page")
async def _front_door(request: Request) -> Response:
    return RedirectResponse("/inbox/", status_code=303)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPProblem)
    return exc.response()


def create_app(canales: Canales) -> Starlette:
    """The ASGI app serving ``canales``; its lifespan starts and stops it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not canales.started:
            await canales.start()
        try:
            yield
        finally:
            await canales.stop()

    templates = template_environment(canales)
    routes: list[BaseRoute] = [
        Route("/", _front_door),
        Route("/healthz", _healthz),
        Route("/metrics", metrics_endpoint),
        Mount("/inbox", app=inbox_app(canales, templates)),
        Mount("/s/{site_id}", app=SiteDispatch(canales)),
        *static_mounts(canales),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPProblem: _problem, 404: _json_404},
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HttpTimer)
    app.add_middleware(RequestIds)
    app.state.canales = canales
    app.state.templates = templates
    return app


def app_from_env() -> Starlette:
    """The app as configured by the environment, for ``uvicorn --factory`` and for
    ``canales serve --workers N``: ``CANALES_SITES`` (site files separated by
    ``os.pathsep``), ``DATABASE_URL``, ``REDIS_URL`` and ``CANALES_PLUGIN_MODULES``
    (``name=module`` pairs, comma-separated, for plugins not installed as packages).
    """
    sites = [p for p in os.environ.get("CANALES_SITES", "").split(os.pathsep) if p]
    extra = {}
    for pair in filter(None, os.environ.get("CANALES_PLUGIN_MODULES", "").split(",")):
        name, _, module = pair.partition("=")
        extra[name.strip()] = from_module(name.strip(), module.strip())
    canales = Canales(
        sites,
        database_url=os.environ.get("DATABASE_URL", "sqlite:///canales.db"),
        redis_url=os.environ.get("REDIS_URL") or None,
        bus_prefix=os.environ.get("CANALES_BUS_PREFIX", "canales:"),
        plugins=extra,
    )
    return create_app(canales)
