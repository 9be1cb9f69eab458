"""Rendering inbox pages and answering errors: the base context every page gets
(the agent, the site, the menu, open alerts, availability), our static files with
a version in their URL, flash messages, and how each error looks in HTML or JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from canales.core import presence
from canales.core.alerts import open_alerts
from canales.core.contrib import MenuLink, menu_links
from canales.core.http import HTTPProblem
from canales.core.inbox.actions import ActionError
from canales.core.inbox.access import ROLE_NAMES, Forbidden, LoginRequired, SignedIn, canales_of, sees_everything
from canales.core.inbox.queries import CONVERSATION_STATE_NAMES
from canales.core.inbox.texts import TEXTS, text
from canales.core.routing import NotFound
from canales.core.site import Site

STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_PREFIX = "/-/static/core"
AUTHOR_NAMES = {"citizen": "Ciudadano/a", "agent": "Agente", "bot": "Bot", "system": "Sistema"}


@lru_cache(maxsize=None)
def _version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The URL of one of core's static files, with its content hash so that a new
    release is never served from a stale cache."""
    return f"{STATIC_PREFIX}/{name}?v={_version(name)}"


MAX_ID = 2**31 - 1  # ids and sequence numbers are 32-bit integer columns


def as_id(value: Any) -> int | None:
    """A database id (or sequence number) from a path, query or form value:
    ASCII digits within a 32-bit integer, else ``None``."""
    text = "" if value is None else str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_ID:
        return None
    return int(text)


def path_id(conn: HTTPConnection, name: str) -> int:
    """The id in the URL's ``name`` part; :class:`NotFound` if it is not one."""
    value = as_id(conn.path_params.get(name))
    if value is None:
        raise NotFound(f"no {name} {conn.path_params.get(name)!r}")
    return value


def wants_json(conn: HTTPConnection) -> bool:
    return conn.url.path.startswith("/inbox/api/") or "application/json" in conn.headers.get("accept", "")


def local_time(site: Site | None, value: dt.datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A timestamp in the site's time zone (UTC for pages of no site)."""
    if value is None:
        return ""
    zone = ZoneInfo(site.config.timezone) if site is not None else dt.timezone.utc
    return value.astimezone(zone).strftime(fmt)


def core_menu(site: Site, role: str) -> list[MenuLink]:
    base = f"/inbox/{site.id}"
    links = [
        MenuLink(text("menu.conversations"), f"{base}/"),
        MenuLink(text("menu.backlog"), f"{base}/backlog"),
        MenuLink(text("menu.search"), f"/inbox/search?site={site.id}"),
    ]
    if sees_everything(role):
        links.append(MenuLink(text("menu.reports"), f"{base}/reports"))
    if role == "admin":
        links.append(MenuLink(text("menu.admin"), f"{base}/admin/agents"))
    return links


async def render(
    request: Request,
    template: str,
    *,
    who: SignedIn | None,
    site: Site | None = None,
    role: str | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render an inbox page with the base context (see module doc)."""
    env = request.app.state.templates
    base: dict[str, Any] = {
        "request": request,
        "who": who,
        "site": site,
        "role": role,
        "role_names": ROLE_NAMES,
        "state_names": CONVERSATION_STATE_NAMES,
        "author_names": AUTHOR_NAMES,
        "csrf_token": who.csrf if who else context.pop("csrf_token", ""),
        "static": static_url,
        "when": lambda value, fmt="%d/%m/%Y %H:%M": local_time(site, value, fmt),
        "flash": _flash(request),
        "sites": [],
        "menu": [],
        "alerts": [],
        "available": True,
    }
    if who is not None:
        canales = canales_of(request)
        base["sites"] = [(canales.sites[s], r) for s, r in sorted(who.roles.items())]
        if site is not None and role is not None:
            base["menu"] = core_menu(site, role) + menu_links(site, who.agent, role)
            base["alerts"] = await open_alerts(site)
            base["available"] = (await presence.availability(site, [who.id]))[who.id]
    base.update(context)
    html = env.get_template(template).render(base)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def render_fragment(request: Request, template: str, *, site: Site | None = None, **context: Any) -> HTMLResponse:
    """Render a piece of a page (for live refreshes), with the helpers the
    templates use but none of the page's frame."""
    env = request.app.state.templates
    base: dict[str, Any] = {
        "request": request,
        "site": site,
        "state_names": CONVERSATION_STATE_NAMES,
        "author_names": AUTHOR_NAMES,
        "role_names": ROLE_NAMES,
        "when": lambda value, fmt="%d/%m/%Y %H:%M": local_time(site, value, fmt),
        **context,
    }
    return HTMLResponse(env.get_template(template).render(base), headers={"cache-control": "no-store"})


def _flash(request: Request) -> str | None:
    code = request.query_params.get("ok", "")
    key = f"ok.{code}"
    return text(key) if code and key in TEXTS.defaults else None


def done(request: Request, location: str, code: str, **payload: Any) -> Response:
    """The answer to a successful action: JSON for scripts, else a redirect (with
    a flash code) so that reloading the page does not post again."""
    if wants_json(request):
        return JSONResponse({"ok": True, "message": text(f"ok.{code}"), **payload})
    separator = "&" if "?" in location else "?"
    return RedirectResponse(f"{location}{separator}ok={code}", status_code=303)


async def login_required(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": "login_required", "message": text("page.login_required")},
            status_code=401,
            headers={"www-authenticate": 'Bearer realm="canales"'},
        )
    target = "/inbox/login"
    if request.method == "GET":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += f"?next={quote(path, safe='')}"
    return RedirectResponse(target, status_code=303)


async def not_found(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse({"error": "not_found", "message": text("page.not_found")}, status_code=404)
    return await _error_page(request, 404, text("page.not_found_title"), text("page.not_found"))


async def forbidden(request: Request, exc: Exception) -> Response:
    message = text("error.forbidden_action")
    if wants_json(request):
        return JSONResponse({"error": "forbidden", "message": message}, status_code=403)
    return await _error_page(request, 403, text("page.forbidden_title"), message)


async def refused(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse({"error": "refused", "message": str(exc)}, status_code=422)
    return await _error_page(request, 422, text("page.failed_title"), str(exc))


async def problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPProblem)
    if wants_json(request):
        return exc.response()
    return await _error_page(request, exc.status, text("page.failed_title"), exc.message)


async def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    env = request.app.state.templates
    html = env.get_template("inbox/error.html").render(
        {"title": title, "message": message, "static": static_url, "status": status}
    )
    return HTMLResponse(html, status_code=status)


EXCEPTION_HANDLERS = {
    LoginRequired: login_required,
    NotFound: not_found,
    Forbidden: forbidden,
    ActionError: refused,
    HTTPProblem: problem,
}
