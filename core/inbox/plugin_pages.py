"""Pages that plugins add to the inbox (the ``register_inbox_routes`` hook), served
under ``/inbox/{site}/`` behind the agents' login, and the helpers their handlers
use: :func:`inbox_agent` and :func:`render_page`."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Router
from starlette.types import Receive, Scope, Send

from canales.core.http import SITE_SCOPE_KEY, site_of
from canales.core.inbox.access import SignedIn, signed_in
from canales.core.inbox.web import render
from canales.core.routing import NotFound
from canales.core.runtime import Canales

ROLE_SCOPE_KEY = "canales.inbox.role"


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    raise NotFound("no such inbox page")


class PluginPages:
    """Routes ``/inbox/{site}/…`` to the site's plugin pages after checking that
    the agent is signed in and a member of the site."""

    def __init__(self, canales: Canales) -> None:
        self.routers: dict[str, Router] = {}
        for site in canales.sites.values():
            routes: list[BaseRoute] = []
            for result in site.hook.register_inbox_routes(site=site):
                routes.extend(result or ())
            self.routers[site.id] = Router(routes=routes, default=_not_found)
        self.sites = canales.sites

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        conn = HTTPConnection(scope)
        who = await signed_in(conn)
        site_id = conn.path_params.get("site_id", "")
        role = who.role_on(site_id)
        scope[SITE_SCOPE_KEY] = self.sites[site_id]
        scope[ROLE_SCOPE_KEY] = role
        await self.routers[site_id](scope, receive, send)


async def inbox_agent(request: Request) -> tuple[SignedIn, str]:
    """In a plugin's inbox page: the signed-in agent and their role on the site."""
    return await signed_in(request), request.scope[ROLE_SCOPE_KEY]


async def render_page(request: Request, template: str, *, status: int = 200, **context: Any) -> Response:
    """In a plugin's inbox page: render ``template`` (which extends
    ``inbox/base.html``) with the inbox's frame: menu, alerts, CSRF token."""
    who, role = await inbox_agent(request)
    return await render(request, template, who=who, site=site_of(request), role=role, status=status, **context)
