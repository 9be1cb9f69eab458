"""The search page: messages and contacts of the agent's sites (or of one)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from canales.core.inbox import search
from canales.core.inbox.access import canales_of, signed_in
from canales.core.inbox.web import render


async def search_page(request: Request) -> Response:
    who = await signed_in(request)
    canales = canales_of(request)
    site_id = request.query_params.get("site", "")
    roles = dict(who.roles)
    site = None
    if site_id:
        roles = {site_id: who.role_on(site_id)}
        site = canales.sites[site_id]
    query = search.clean_query(request.query_params.get("q"))
    messages = await search.search_messages(canales.db, roles, who.id, query)
    contacts = await search.search_contacts(canales.db, roles, who.id, query)
    return await render(
        request,
        "inbox/search.html",
        who=who,
        site=site,
        role=roles.get(site_id) if site else None,
        query=query,
        raw_query=str(request.query_params.get("q", ""))[: search.MAX_QUERY],
        messages=messages,
        contacts=contacts,
        too_short=bool(request.query_params.get("q")) and not query,
        site_names={s: canales.sites[s].name for s in roles},
    )
