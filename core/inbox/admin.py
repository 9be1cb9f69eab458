"""The site admin's pages: agents, teams, canned answers, API tokens, and a
read-only view of the site's configuration with its secrets redacted."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response

from canales.core import presence, teams
from canales.core.inbox import accounts, canned, tokens
from canales.core.inbox.access import SignedIn, require, signed_in, site_for
from canales.core.inbox.models import CannedAnswer
from canales.core.inbox.texts import text
from canales.core.inbox.web import as_id, done, path_id, render
from canales.core.models import Agent, Membership
from canales.core.routing import NotFound
from canales.core.site import Site
from canales.core.siteconfig import redacted

TABS = (
    ("agents", "Agentes"),
    ("teams", "Equipos"),
    ("canned", "Respuestas predefinidas"),
    ("tokens", "Tokens de API"),
    ("settings", "Configuración"),
)


async def _admin(request: Request) -> tuple[SignedIn, Site]:
    who = await signed_in(request)
    site, role = site_for(request, who)
    require(role, "admin")
    return who, site


async def _page(request: Request, who: SignedIn, site: Site, tab: str, status: int = 200, **context: Any) -> Response:
    return await render(
        request, f"inbox/admin_{tab}.html", who=who, site=site, role="admin", status=status, tabs=TABS, tab=tab, **context
    )


# --- agents ------------------------------------------------------------------------


async def _agents_context(site: Site) -> dict[str, Any]:
    async with site.db.read() as session:
        rows = (
            await session.exec(
                select(Agent, Membership)
                .join(Membership, col(Membership.agent_id) == Agent.id)
                .where(Membership.site_id == site.id)
                .order_by(col(Agent.name))
            )
        ).all()
    ids = [agent.id or 0 for agent, _ in rows]
    return {
        "members": rows,
        "online": await presence.online_agent_ids(site, ids),
        "availability": await presence.availability(site, ids),
    }


async def agents_page(request: Request, *, error: str | None = None, created: Any = None, status: int = 200) -> Response:
    who, site = await _admin(request)
    return await _page(request, who, site, "agents", status=status, error=error, created=created, **await _agents_context(site))


async def create_agent(request: Request) -> Response:
    who, site = await _admin(request)
    form = await request.form()
    try:
        agent, password = await accounts.create_agent(
            site, email=str(form.get("email", "")), name=str(form.get("name", "")), role=str(form.get("role", "agent"))
        )
    except accounts.AccountError as exc:
        return await agents_page(request, error=str(exc), status=422)
    # The first password is shown on this page once, never stored in clear.
    return await agents_page(request, created={"agent": agent, "password": password})


async def agent_action(request: Request) -> Response:
    """One form per agent row: change role, deactivate, reactivate, reset password."""
    who, site = await _admin(request)
    agent_id = path_id(request, "agent_id")
    form = await request.form()
    action = str(form.get("action", ""))
    try:
        if action == "role":
            await accounts.set_role(site, agent_id, str(form.get("role", "")))
        elif action in ("deactivate", "activate"):
            await accounts.set_active(site, agent_id, action == "activate", by=who)
        elif action == "reset":
            password = await accounts.reset_password(site, agent_id, by=who)
            async with site.db.read() as session:
                agent = await session.get(Agent, agent_id)
            return await agents_page(request, created={"agent": agent, "password": password, "reset": True})
        else:
            raise NotFound(f"no action {action!r}")
    except accounts.AccountError as exc:
        return await agents_page(request, error=str(exc), status=422)
    return done(request, f"/inbox/{site.id}/admin/agents", "saved")


# --- teams -------------------------------------------------------------------------


async def teams_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    who, site = await _admin(request)
    async with site.db.read() as session:
        agents = (
            await session.exec(
                select(Agent.id, Agent.name)
                .join(Membership, col(Membership.agent_id) == Agent.id)
                .where(Membership.site_id == site.id, col(Membership.active).is_(True))
                .order_by(col(Agent.name))
            )
        ).all()
    return await _page(
        request, who, site, "teams", status=status, error=error, teams=await teams.teams_with_members(site), agents=agents
    )


async def save_team(request: Request) -> Response:
    _, site = await _admin(request)
    form = await request.form()
    try:
        await teams.save_team(site, str(form.get("key", "")), str(form.get("name", "")))
    except ValueError as exc:
        return await teams_page(request, error=str(exc), status=422)
    return done(request, f"/inbox/{site.id}/admin/teams", "saved")


async def team_action(request: Request) -> Response:
    _, site = await _admin(request)
    key = str(request.path_params.get("team", ""))
    form = await request.form()
    if form.get("action") == "delete":
        await teams.remove_team(site, key)
        return done(request, f"/inbox/{site.id}/admin/teams", "deleted")
    members = [i for i in (as_id(v) for v in form.getlist("member")) if i is not None]
    await teams.set_members(site, key, members)
    return done(request, f"/inbox/{site.id}/admin/teams", "saved")


# --- canned answers ----------------------------------------------------------------


async def canned_page(request: Request, *, error: str | None = None, status: int = 200, draft: Any = None) -> Response:
    who, site = await _admin(request)
    return await _page(
        request,
        who,
        site,
        "canned",
        status=status,
        error=error,
        answers=await canned.answers_of(site),
        placeholders=canned.PLACEHOLDERS,
        draft=draft,
    )


async def save_canned(request: Request) -> Response:
    _, site = await _admin(request)
    form = await request.form()
    answer_id = request.path_params.get("answer_id")
    if answer_id is not None:
        answer_id = path_id(request, "answer_id")
    if form.get("action") == "delete" and answer_id is not None:
        if not await canned.remove(site, answer_id):
            raise NotFound("no such canned answer")
        return done(request, f"/inbox/{site.id}/admin/canned", "deleted")
    values = {k: str(form.get(k, "")) for k in ("shortcut", "title", "text")}
    try:
        await canned.save(site, answer_id=answer_id, shortcut=values["shortcut"], title=values["title"], body=values["text"])
    except ValueError as exc:
        draft = CannedAnswer(id=answer_id, site_id=site.id, shortcut=values["shortcut"], title=values["title"], text=values["text"])
        return await canned_page(request, error=str(exc), status=422, draft=draft)
    return done(request, f"/inbox/{site.id}/admin/canned", "saved")


# --- API tokens --------------------------------------------------------------------


async def tokens_page(request: Request, *, error: str | None = None, issued: str | None = None, status: int = 200) -> Response:
    who, site = await _admin(request)
    context = await _agents_context(site)
    return await _page(
        request,
        who,
        site,
        "tokens",
        status=status,
        error=error,
        issued=issued,
        tokens=await tokens.tokens_of_site(site.db, site.id),
        members=[(a, m) for a, m in context["members"] if m.active and a.active],
    )


async def issue_token(request: Request) -> Response:
    who, site = await _admin(request)
    form = await request.form()
    name = " ".join(str(form.get("name", "")).split())
    agent_value = str(form.get("agent", ""))
    if not name or len(name) > 100:
        return await tokens_page(request, error=text("admin.bad_token_name"), status=422)
    agent_id = as_id(agent_value) or 0
    async with site.db.read() as session:
        membership = await session.get(Membership, (agent_id, site.id))
    if membership is None or not membership.active:
        raise NotFound(f"agent {agent_id} not found")
    _, token = await tokens.issue(site.db, site_id=site.id, agent_id=agent_id, name=name, by=who.id, now=site.now())
    # Shown once, on this response only.
    return await tokens_page(request, issued=token)


async def revoke_token(request: Request) -> Response:
    _, site = await _admin(request)
    if not await tokens.revoke(site.db, site.id, path_id(request, "token_id"), site.now()):
        raise NotFound("no such token")
    return done(request, f"/inbox/{site.id}/admin/tokens", "revoked")


# --- settings ----------------------------------------------------------------------


async def settings_page(request: Request) -> Response:
    who, site = await _admin(request)
    config = site.config
    shown = config.model_dump(mode="json", exclude={"plugins"})
    return await _page(
        request,
        who,
        site,
        "settings",
        config=config,
        core_json=json.dumps(shown, indent=2, ensure_ascii=False),
        plugins_json=json.dumps(redacted(config.plugins), indent=2, ensure_ascii=False, default=str),
        weekly=config.hours.weekly(),
    )
